# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 07 · Image augmentations for GAN training: reals only vs reals and fakes, bCR, contrastive loss
#
# *Zhao, Zhang, Chen, Singh & Zhang (2020), Image Augmentations for GAN Training; and Zhao, Singh,
# Odena, Zhang & Zhang (2020), Improved Consistency Regularization for GANs (bCR).*
#
# Augmentation is the classifier's oldest regulariser. For a GAN it has a catch: if only the **real**
# images are augmented, D learns that augmented images are real, and G learns to produce them — the
# augmentation *leaks* into the samples. The paper's answer is to augment **both** real and generated
# images, for D and for G's loss, so that D never sees a difference the augmentation could explain:
#
# $$\mathcal{L}_D = \mathbb{E}_x f(-D(T(x))) + \mathbb{E}_z f(D(T(G(z)))), \qquad \mathcal{L}_G = \mathbb{E}_z f(-D(T(G(z)))).$$
#
# On top of it, two regularisers that use augmentations:
#
# | | loss added to $D$'s | paper |
# |---|---|---|
# | **bCR** | $\lambda_\text{real}\lVert D(x) - D(T(x))\rVert^2 + \lambda_\text{fake}\lVert D(G(z)) - D(T(G(z)))\rVert^2$ | Zhao et al. 2020b, $\lambda = 10$ |
# | **contrastive** | $\lambda_\text{Cntr}\cdot\text{NT-Xent}(h(D_f(t_1(x))), h(D_f(t_2(x))))$ on two SimCLR views, real and fake | §4, $\lambda_\text{Cntr} = 0.1$ |
#
# with $D_f$ D's features and $h$ a projection head. Every augmentation has a strength $\lambda_\text{aug}$.

# %% tags=["parameters"]
profile = "smoke"      # smoke | laptop | course | paper
device = "auto"
seed = 0
data_root = None       # None: the course's data/ (or $GANCOURSE_DATA)
out_dir = None         # None: the course's runs/manual/<notebook>/
overrides = {}         # any setting of the profile, e.g. {"steps": 2000, "strength": 0.2}
claim_ids = ""          # only these claims, e.g. "A1,A3" (gancourse run --claims): other sections are skipped
extractor = "course"   # course | inception | inception:PATH | torchscript:PATH

# %% [markdown]
# *Outside a checkout of the course (Colab, this notebook on its own) the next cell installs the course
# first; in a checkout, and under papermill or nbval, it does nothing.*

# %%
import importlib
import importlib.util
import os
import subprocess
import sys

COURSE_REPOSITORY = ""   # the course's public address: python -m gancourse.course.book repository URL
if importlib.util.find_spec("gancourse") is None:             # not in a checkout, not installed: install it
    source = os.environ.get("GANCOURSE_INSTALL") or (COURSE_REPOSITORY and f"git+{COURSE_REPOSITORY}")
    if not source:
        raise RuntimeError("the course is not installed in this kernel: `pip install` it (or set "
                           "GANCOURSE_INSTALL to what pip should install), or open the notebook from a "
                           "checkout with `make lab`")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", source], check=True)
    importlib.invalidate_caches()

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

from gancourse.papers import augment, stabilizers
from gancourse import data, seeding
from gancourse.course import exercises, notebook, viz
from gancourse.instruments import extractors, metrics
from gancourse.course.results import at_least, at_most, summary

run = notebook.start("07_augmentation", profile, device, seed, out_dir, overrides, data_root, claim_ids)
cfg, dev, out, claims, data_root = run.cfg, run.device, run.out, run.claims, run.data_root
draws = range(cfg.eval_draws)
sweep_spatial, sweep_visual = cfg.sweep_spatial.split(","), cfg.sweep_visual.split(",")

# %% [markdown]
# ## Claims, fixed before the run
# * **A1** (§3.1, Figure 2) augmenting **reals only** hurts: FID with `leak` augmentation on reals only /
#   FID without augmentation ≥ 1.
# * **A2** (§3.1) and it leaks into the samples: the spread over samples of what the augmentation moves
#   (brightness, or one colour channel against the others), reals-only model / real images ≥ 1 (the real
#   data's spread is the reference: a model that makes such images more varied than the data has learnt
#   the augmentation).
# * **A3** (§3.2, Figure 3) augmenting **reals and fakes** helps: the best augmentation / no augmentation,
#   FID ≤ 1. "Best" is picked on a **selection sweep trained with another seed** (`augment.selection_seed`),
#   never on the runs that measure it: picking the winner of the measured runs and measuring that same run
#   would favour A3 (and make the reference of A5 and A6 a lucky run).
# * **A4** (§3.2) spatial augmentations help more than visual ones: mean FID of the spatial ones / of the
#   visual ones ≤ 1.
# * **A5** (§4, Table 2) bCR on top of the best augmentation improves FID: with / without ≤ 1 (both runs
#   with this notebook's seed, the augmentation chosen on the selection sweep).
# * **A6** (§4, Table 2) contrastive loss + bCR on top of it improves FID: with / without ≤ 1 (the same).
# * **A7** (§3.3; limited data) augmentation matters more with less data: the FID gain of the best
#   augmentation (FID none / FID augmented) on `data_fraction` of the training set / on all of it ≥ 1.
#
# FIDs use the named extractor on `eval_draws` independent draws of samples; every criterion is on a
# ratio and needs the whole interval mean ± sd on its side of 1.

# %%
RUNS = "A1–A7: the unaugmented, reals-only and best-augmentation runs"
claims.declare("A1", "reals-only augmentation vs none: FID ratio", paper="§3.1, Fig. 2: hurts",
               criterion=at_least(1.0, margin=True), unit="×", shares_run=RUNS)
claims.declare("A2", "reals-only augmentation leaks: spread of the augmented quantity in samples / in real images",
               paper="§3.1: generated images inherit the augmentation", criterion=at_least(1.0, margin=True), unit="×",
               shares_run=RUNS)
claims.declare("A3", "reals+fakes: best augmentation (picked on a selection sweep, another seed) / none, FID",
               paper="Fig. 3: ZoomOut 0.4, 24.73 → 14.72 (SNDCGAN)", criterion=at_most(1.0, margin=True), unit="×",
               shares_run=RUNS, paper_value=round(14.72 / 24.73, 3))
claims.declare("A4", "spatial vs visual augmentations: mean FID ratio", paper="§3.2: spatial help more",
               criterion=at_most(1.0, margin=True), unit="×", shares_run=RUNS)
claims.declare("A5", "+ bCR on the best augmentation: FID ratio", paper="Table 2: bCR improves",
               criterion=at_most(1.0, margin=True), unit="×", shares_run=RUNS)
claims.declare("A6", "+ contrastive + bCR on the best augmentation: FID ratio", paper="Table 2: Cntr+bCR best",
               criterion=at_most(1.0, margin=True), unit="×", shares_run=RUNS)
claims.declare("A7", "FID gain of augmenting, limited data / all data", paper="§3.3: larger with less data",
               criterion=at_least(1.0, margin=True), unit="×", shares_run=RUNS)

# %% [markdown]
# ## 1 · The augmentations
# Each is a few lines of `gancourse.papers.augment`, on a batch, differentiable, with its own random
# parameters per image. Spatial ones move pixels; visual ones change their values. Below, each one at
# three strengths on the same images.

# %%
viz.show_source(augment.translation, augment.blueness)

# %%
train_full = data.load_images(cfg.images, "train", data_root, profile)
test = data.load_images(cfg.images, "test", data_root, profile)
channels, size = train_full.shape[0], train_full.shape[1]
names = [n for n in augment.AUGMENTATIONS if channels == 3 or n not in augment.RGB_ONLY]
examples = train_full.float()[:4]
strengths = (0.1, 0.3, 0.5)
shown = augment.gallery(examples, strengths, seed=seed)
fig, axes = plt.subplots(2, (len(names) + 1) // 2, figsize=(2.2 * ((len(names) + 1) // 2), 5.4))
for ax, name in zip(axes.flat, names):
    viz.show_grid(shown[name], nrow=len(examples), ax=ax,
                  title=f"{name}\n({augment.AUGMENTATIONS[name][1]})")
for ax in axes.flat[len(names):]:
    ax.set_axis_off()
fig.suptitle(f"rows: strength {', '.join(map(str, strengths))}"); fig.tight_layout()
fig.savefig(out / "augmentations.png", dpi=110)

# %% [markdown]
# ## 2 · The set-up
# The SNDCGAN of notebook 05 with spectral normalisation and the hinge loss (Adam 2e-4, β = (0.5,
# 0.999)), `steps` steps of batch `batch`, on `data_fraction` of the training set (the limited-data
# regime, where augmentation matters most), FID against the test set with the named extractor. Each
# experiment's cells start with `%%feeds` and the claims they measure: a run of some claims
# (`gancourse run 07 --claims A1,A3`) skips the others.

# %%
limited = train_full.subset(max(cfg.batch, int(cfg.data_fraction * len(train_full))), seeding.derive(seed, "limited data"))
x_limited, x_full = limited.float(dev), train_full.float(dev)
ex_train = train_full.subset(min(len(train_full), cfg.extractor_images), seed)
ex = extractors.get_extractor(extractor, ex_train, test, data_root, dev, epochs=cfg.extractor_epochs)
n_eval = min(cfg.eval_n, len(test))
sel_seed = augment.selection_seed(seed)
print(f"training on {len(limited):,} of {len(train_full):,} images; extractor: {ex.name}")
f_dim = stabilizers.feature_dim(cfg.width, channels, size)
claims.extra.update(extractor=ex.name, images=train_full.source, limited=len(limited), selection_seed=sel_seed)


def train(tag, x=x_limited, data_tag="limited", seed_=seed, **kw):
    """One SNDCGAN run; ``seed_``: its training seed (the selection sweep's differs from this notebook's)."""
    full = data_tag == "all"
    return stabilizers.train("sn", x, cfg.steps, cfg.batch, cfg.width, device=dev, seed=seed_, desc=tag,
                             out_dir=out / "runs" / f"{data_tag}-{tag.replace(' ', '_').replace('+', 'plus')}",
                             data_id=dict(train=train_full.source if full else limited.source, n=len(x),
                                          fraction=1.0 if full else cfg.data_fraction), **kw)


def fid(r):
    return metrics.sample_quality(r.trainer, test, ex, n_eval, cfg.eval_draws, dev)


runs, quality, sel_quality = {}, {}, {}
F = lambda k: [d["fid"] for d in quality[k]]

# %%
# %%feeds A1 A3 A7
runs["none"] = train("none")
quality["none"] = fid(runs["none"])

# %% [markdown]
# ## 3 · Augmenting reals only: it leaks
# The same model with `leak` (strength `leak_strength`) applied to the real images only. Feeds A1, A2.

# %%
# %%feeds A1 A2
runs["reals only"] = train("reals only", augment=augment.Augment(cfg.leak, cfg.leak_strength), augment_fakes=False)
quality["reals only"] = fid(runs["reals only"])
real_images = test.float()
stat = {"reals only": [augment.leak_statistic(runs["reals only"].trainer.sample(n_eval, name="leak", draw=i).cpu(),
                                              cfg.leak).std().item() for i in draws],
        "real": [augment.leak_statistic(real_images[torch.randperm(len(test), generator=seeding.generator(seed, "leak reals", i))[:n_eval]],
                                        cfg.leak).std().item() for i in draws]}
fig, axes = plt.subplots(1, 2, figsize=(10, 5))
viz.show_grid(real_images[:36], nrow=6, ax=axes[0], title=f"real images: spread of {cfg.leak} {summary(stat['real'])['mean']:.3f}")
viz.show_grid(runs["reals only"].trainer.sample()[:36], nrow=6, ax=axes[1],
              title=f"reals only: spread of {cfg.leak} {summary(stat['reals only'])['mean']:.3f}")
fig.tight_layout(); fig.savefig(out / "leak.png", dpi=110)
ratio_leak = summary(stat["reals only"])["mean"] / summary(stat["real"])["mean"]
print(f"Reading: across samples, the {cfg.leak} statistic spreads {summary(stat['reals only'])['mean']:.3f} for the "
      f"reals-only model against {summary(stat['real'])['mean']:.3f} in real test images ({ratio_leak:.2f}× the data's): "
      f"{'a G that is rewarded for matching augmented reals learns to make augmented-looking images' if ratio_leak > 1 else 'no leak shows at this scale'}.")
claims.measure("A2", [a / b for a, b in zip(stat["reals only"], stat["real"])], detail=f"{cfg.leak}, strength {cfg.leak_strength}")
claims.extra.update(leak=stat)

# %%
# %%feeds A1
claims.measure("A1", [a / b for a, b in zip(F("reals only"), F("none"))])

# %% [markdown]
# ## 4 · Augmenting reals and fakes: a sweep, on a selection seed
# Each augmentation of the sweep at strength `strength`, on both reals and fakes (and in G's loss),
# trained with the **selection seed** — another training seed than this notebook's — and the same data.
# The best of it is then trained again with this notebook's seed: that run, not the sweep's, is measured
# against no augmentation (A3) and is the reference of bCR and the contrastive loss (A5, A6) and of the
# limited-data gain (A7). The sweep itself measures A4.

# %%
# %%feeds A3 A4 A5 A6 A7
sweep = [*sweep_spatial, *sweep_visual]
sel_runs = {}
for name in sweep:
    sel_runs[name] = train(name, augment=augment.Augment(name, cfg.strength), seed_=sel_seed, data_tag="selection")
    sel_quality[name] = fid(sel_runs[name])
sel_fids = {k: summary([d["fid"] for d in q]) for k, q in sel_quality.items()}
best = min(sweep, key=lambda n: sel_fids[n]["mean"])
aug = lambda: augment.Augment(best, cfg.strength)
fig, ax = plt.subplots(figsize=(1.1 * len(sweep) + 2, 3.4))
ax.bar(sweep, [sel_fids[n]["mean"] for n in sweep], yerr=[sel_fids[n]["sd"] for n in sweep],
       color=["C0" if n in sweep_spatial else "C1" for n in sweep])
ax.set(ylabel="FID (lower is better)", title=f"selection sweep (its own training seed): reals and fakes augmented, "
       f"λ_aug = {cfg.strength} (blue: spatial, orange: visual)")
plt.setp(ax.get_xticklabels(), rotation=30)
fig.tight_layout(); fig.savefig(out / "sweep.png", dpi=110)
print(f"Reading: on the selection seed the best augmentation is {best} (FID {sel_fids[best]['mean']:.1f}); spatial ones "
      f"average {np.mean([sel_fids[n]['mean'] for n in sweep_spatial]):.1f}, visual "
      f"{np.mean([sel_fids[n]['mean'] for n in sweep_visual]):.1f}. The paper's best for SNDCGAN on CIFAR-10 is ZoomOut "
      "at 0.4 (FID 24.73 → 14.72, Inception, 50k samples).")
SF = {k: [d["fid"] for d in q] for k, q in sel_quality.items()}
claims.measure("A4", [np.mean([SF[n][i] for n in sweep_spatial]) / np.mean([SF[n][i] for n in sweep_visual]) for i in draws],
               detail=f"selection sweep; spatial {', '.join(sweep_spatial)}; visual {', '.join(sweep_visual)}")
claims.extra.update(best=best, selection=sel_quality)

# %%
# %%feeds A3 A5 A6 A7
runs[best] = train(best, augment=aug())
quality[best] = fid(runs[best])
print(f"Reading: retrained with this notebook's seed, {best} reaches FID {summary(F(best))['mean']:.1f}"
      + (f" against {summary(F('none'))['mean']:.1f} without augmentation." if "none" in quality else "."))

# %%
# %%feeds A3
claims.measure("A3", [a / b for a, b in zip(F(best), F("none"))], detail=f"{best} at {cfg.strength}, picked on the selection seed")

# %% [markdown]
# ## 5 · bCR and the contrastive loss on the best augmentation; annealing; two combined
# bCR and contrastive + bCR feed A5 and A6; annealing the strength and two augmentations combined are
# shown, and measure no claim (a run of some claims skips them).

# %%
viz.show_source(augment.BalancedConsistency.__call__, augment.nt_xent)

# %%
# %%feeds A5 A6
runs["best + bCR"] = train("best + bCR", augment=aug(), d_terms=[augment.BalancedConsistency(aug(), cfg.bcr_weight, cfg.bcr_weight)])
runs["best + Cntr + bCR"] = train("best + Cntr + bCR", augment=aug(),
                                  d_terms=[augment.BalancedConsistency(aug(), cfg.bcr_weight / 2, cfg.bcr_weight / 2),
                                           augment.ContrastiveLoss(f_dim, cfg.cntr_weight)])
for k in ("best + bCR", "best + Cntr + bCR"):
    quality[k] = fid(runs[k])
print(f"Reading: on top of {best} (FID {summary(F(best))['mean']:.1f}), bCR gives FID {summary(F('best + bCR'))['mean']:.1f} "
      f"and contrastive + bCR {summary(F('best + Cntr + bCR'))['mean']:.1f}.")
claims.measure("A5", [a / b for a, b in zip(F("best + bCR"), F(best))])
claims.measure("A6", [a / b for a, b in zip(F("best + Cntr + bCR"), F(best))])

# %%
# %%feeds none
annealed = aug()
runs["best, annealed"] = train("best, annealed", augment=annealed,
                               callbacks=[augment.AnnealStrength(annealed, cfg.strength, 0.0, cfg.steps)])
runs["Translation + Brightness"] = train("Translation + Brightness",
                                         augment=augment.Augment(["Translation", "Brightness"], [cfg.strength, cfg.strength]))
for k in ("best, annealed", "Translation + Brightness"):
    quality[k] = fid(runs[k])
print(f"Reading: annealing the strength of {best} to 0 gives FID {summary(F('best, annealed'))['mean']:.1f}; "
      f"Translation + Brightness {summary(F('Translation + Brightness'))['mean']:.1f}.")

# %%
viz.table([dict(run=k, FID=summary(F(k)), IS=summary([d["is"] for d in quality[k]])) for k in quality],
          floatfmt=".3g", title=f"{len(limited):,} training images, {cfg.steps:,} steps; {n_eval:,} samples × {cfg.eval_draws} draws")

# %% [markdown]
# ## 6 · Less data, more need
# The unaugmented model and the best augmentation again, on the whole training set. Feeds A7.

# %%
# %%feeds A7
runs["none, all data"] = train("none", x=x_full, data_tag="all")
runs["best, all data"] = train(best, x=x_full, data_tag="all", augment=aug())
for k in ("none, all data", "best, all data"):
    quality[k] = fid(runs[k])
gain = {tag: [a["fid"] / b["fid"] for a, b in zip(quality[none_k], quality[best_k])]
        for tag, none_k, best_k in (("limited", "none", best), ("all", "none, all data", "best, all data"))}
print(f"Reading: augmenting with {best} divides FID by {summary(gain['limited'])['mean']:.2f} on {len(limited):,} images "
      f"and by {summary(gain['all'])['mean']:.2f} on all {len(train_full):,}.")
fig, axes = plt.subplots(1, 4, figsize=(16, 4.2))
for ax, k in zip(axes, ("none", best, "none, all data", "best, all data")):
    viz.show_grid(runs[k].trainer.sample()[:36], nrow=6, ax=ax, title=f"{k}: FID {summary(F(k))['mean']:.1f}")
fig.tight_layout(); fig.savefig(out / "samples.png", dpi=110)
claims.measure("A7", [a / b for a, b in zip(gain["limited"], gain["all"])], detail=f"{cfg.data_fraction:.0%} of the data vs all")

# %% [markdown]
# ## Claims table

# %%
claims.show()
print("results:", claims.save(quality=quality))

# %% [markdown]
# ## Summary
# Augmenting only the reals teaches G the augmentation; augmenting reals and fakes (and G's loss) lets
# D learn from more varied images without that leak, and bCR and the contrastive loss add what D should
# be invariant to. The claims table says which of the paper's findings held with this model, data and
# budget; the paper's numbers (Inception, 50,000 samples, 200k steps) give the direction only.
#
# ## Exercises
#
# **E1.** Write bCR's loss for D: given the scores `d_x` of a batch, `d_tx` of its augmented copy, and
# the same for fakes, return $\lambda_r\,\overline{(d_x - d_{tx})^2} + \lambda_f\,\overline{(d_g - d_{tg})^2}$.

# %%
def my_bcr(d_x, d_tx, d_g, d_tg, lambda_real=10.0, lambda_fake=10.0):
    ### BEGIN SOLUTION
    return lambda_real * (d_x - d_tx).pow(2).mean() + lambda_fake * (d_g - d_tg).pow(2).mean()
    ### END SOLUTION


# %%
exercises.check("07.E1", my_bcr)

# %% [markdown]
# **E2.** Write NT-Xent for two batches of projections `z1`, `z2` (N × d; row i of both are two views of
# one image): cosine similarities over all 2N views divided by the temperature, each view's positive is
# the other view of its image, the other 2N − 2 views are negatives; the mean cross-entropy over the 2N anchors.

# %%
def my_nt_xent(z1, z2, temperature=0.1):
    ### BEGIN SOLUTION
    z = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.t() / temperature
    sim.fill_diagonal_(float("-inf"))
    n = len(z1)
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return torch.nn.functional.cross_entropy(sim, targets)
    ### END SOLUTION


# %%
exercises.check("07.E2", my_nt_xent)
