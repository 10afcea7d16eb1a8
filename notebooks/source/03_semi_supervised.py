# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · Semi-supervised learning with a GAN: the K+1 classifier
#
# *Salimans, Goodfellow, Zaremba, Cheung, Radford & Chen (2016), Improved Techniques for Training
# GANs, §5.* Official code: `openai/improved-gan`, `mnist_svhn_cifar10/train_mnist_feature_matching.py`.
#
# A classifier with $K$ outputs becomes a discriminator by adding a class $K+1$, "generated". Since
# a softmax is unchanged when one adds the same constant to every logit, the extra logit can be fixed
# at $l_{K+1}(x) = 0$. With $Z(x) = \sum_{k=1}^{K} e^{l_k(x)}$:
#
# $$p(y = K+1 \mid x) = \frac{1}{Z(x) + 1}, \qquad D(x) = 1 - p(K+1 \mid x) = \frac{Z(x)}{Z(x)+1} = \sigma\big(\operatorname{logsumexp}_k l_k(x)\big).$$
#
# The discriminator minimises $L = L_\text{supervised} + L_\text{unsupervised}$:
#
# $$L_\text{supervised} = -\mathbb{E}_{x,y\sim p_\text{data}} \log p(y \mid x, y < K+1), \qquad
#   L_\text{unsupervised} = -\mathbb{E}_{x} \log D(x) - \mathbb{E}_{z} \log\big(1 - D(G(z))\big),$$
#
# and with $s = \operatorname{logsumexp}_k l_k$, $-\log D(x) = \operatorname{softplus}(s) - s$ and
# $-\log(1 - D) = \operatorname{softplus}(s)$. $G$ is trained by **feature matching** on $D$'s last
# hidden layer: the paper finds it gives a better classifier, though not better-looking samples.

# %% tags=["parameters"]
profile = "smoke"            # smoke | laptop | course | paper
device = "auto"
seed = 0
data_root = None       # None: the course's data/ (or $GANCOURSE_DATA)
out_dir = None         # None: the course's runs/manual/<notebook>/
overrides = {}               # any setting of the profile, e.g. {"steps": 2000, "pool_split": "train"}
claim_ids = ""          # only these claims, e.g. "A1,A3" (gancourse run --claims): other sections are skipped
labels_per_class = 10        # 10 per class: the 100 labels of the paper

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
import torch

from gancourse import data, profiles, training
from gancourse.course import exercises, notebook, viz
from gancourse.training import losses
from gancourse.papers import ssl
from gancourse.course.results import at_least, at_most, summary

run = notebook.start("03_semi_supervised", profile, device, seed, out_dir, overrides, data_root, claim_ids)
cfg, dev, out, claims, data_root = run.cfg, run.device, run.out, run.claims, run.data_root
n_labels = 10 * labels_per_class

# %% [markdown]
# ## Claims, fixed before the run
# * **K1** — with 100 labels, the K+1 GAN with feature matching makes several times fewer test errors
#   than the same network trained on the 100 labels alone (paper: 93 ± 6.5 errors per 10,000;
#   supervised-only networks of this kind make well over 1,000): at least 4× in the course and paper
#   profiles, at least 2× in the laptop profile's 10,000 steps.
# * **K2** — with 100 labels, test errors per 10,000. The paper's 93 comes after 300 epochs of the full
#   60,000-image pool (180,000 steps). A faithful port of the official code (`tests/reference/`), run
#   on the laptop split (pool = the 10,000 MNIST test images, test = 5,000 training images), makes
#   762 errors (averaged D) after 10,000 steps and 572 after 12,000, still falling
#   (`results/reference/k_plus_one_port_seed0.json`, plotted below): so the laptop criterion is "no
#   worse than the official code at the same step, within 10%": ≤ 850, in every training seed. The
#   course profile (full pool) keeps ≤ 200 in every seed.
#
# Test errors are counted on a whole split with D in eval mode (no noise): no sampling enters them.
# What varies is training: the numbers are means ± sd **over training seeds** (each seed draws its
# own 100 labels, as the official `--seed_data`).

# %%
claims.declare("K1", f"K+1 GAN + feature matching vs supervised-only, {n_labels} labels: error ratio",
               paper="93 ± 6.5 errors / 10k (Table 1)",
               criterion=dict(laptop=at_least(2, every=True), course=at_least(4, every=True), paper=at_least(4, every=True)),
               unit="× fewer errors")
claims.declare("K2", f"K+1 GAN + feature matching, {n_labels} labels: test errors per 10,000",
               paper="93 ± 6.5 (100 labels)",
               criterion=dict(laptop=at_most(850, every=True), course=at_most(200, every=True), paper=at_most(200, every=True)),
               unit="errors / 10k")

# %% [markdown]
# ## The losses in code

# %%
viz.show_source(ssl.supervised_loss, ssl.unsupervised_loss, ssl.KPlusOneLoss, losses.feature_matching)

# %% [markdown]
# ## Data
# The unlabelled pool is the whole `pool_split` (a setting); the labelled set is `labels_per_class`
# images of each class drawn from it (a different draw per seed, as the official `--seed_data`);
# errors are counted on `test_split`, which the model never sees. Images are in [0, 1] (G ends in a sigmoid).

# %%
pool = data.load_images("mnist", cfg.pool_split, data_root, profile)
test = data.load_images("mnist", cfg.test_split, data_root, profile)
x_pool = pool.images.float().div(255).to(dev)
y_pool = pool.labels.to(dev)
x_test, y_test = test.images.float().div(255).to(dev), test.labels.to(dev)
print(f"pool: {len(pool):,} unlabelled images ({pool.source})\ntest: {len(test):,} images ({test.source})")

# %% [markdown]
# ## The networks (the official MNIST set-up)
# D: Gaussian noise σ = 0.3 on the input, weight-normalised dense layers 1000-500-250-250-250 with
# noise σ = 0.5 after each, 10 outputs; weight directions start at N(0, 0.1²), the weight scales are set
# by a data-dependent initialisation and only the output layer's is trained. G: z ~ U[0, 1)¹⁰⁰ → dense
# 500, BN, softplus → dense 500, BN, softplus → 784 sigmoid, weight-normalised. Adam, lr 3e-3, β₁ = 0.5,
# batch 100, and the official code's ε: it adds 10⁻⁸ *inside* the square root, √(v̂ + 10⁻⁸), which is
# about ε = 10⁻⁴ in torch's √v̂ + ε (torch's default is 10⁻⁸); feature matching averages its 250 squares.
# As officially, every labelled batch holds each of the 100 labels once, and G matches D's features on a
# real batch of its own (the official code's second permutation). Below: why these details matter. The
# classifier is evaluated with an average of D's weights (the official code: a ← a + 10⁻⁴(θ − a)).

# %%
print(ssl.MNISTClassifier(), ssl.MNISTGenerator(), sep="\n")

# %% [markdown]
# ## Training: K+1 GAN and the supervised-only baseline, over seeds

# %%
runs = []
for s in range(seed, seed + cfg.seeds):
    profiles.seed_everything(s)
    lab = ssl.pick_labels(pool.labels, labels_per_class, seed=s).to(dev)
    # baseline: the same classifier on the labels alone
    base = ssl.MNISTClassifier().to(dev)
    ssl.init_weightnorm(base, x_pool[:500])
    base_avg = ssl.train_supervised(base, x_pool[lab], y_pool[lab], cfg.baseline_steps, cfg.batch, desc=f"supervised seed {s}")
    base_err = ssl.errors_per_10k(base_avg, x_test, y_test)
    # K+1 GAN with feature matching
    D, G = ssl.MNISTClassifier(), ssl.MNISTGenerator()
    ssl.init_weightnorm(D, x_pool[:500].cpu())      # data-dependent init of D (G has none, as officially)
    tr = training.Trainer(G, D, d_loss_fn=ssl.KPlusOneLoss(x_pool[lab], y_pool[lab], cfg.batch),
                          g_loss_fn=losses.FeatureMatching(reduction="mean", real_batches=data.batches(x_pool, cfg.batch)),
                          z_dist="uniform01", lr=3e-3,
                          betas=(0.5, 0.999), eps=ssl.OFFICIAL_EPS,
                          ema_d=0.9999, callbacks=[ssl.TestError(x_test, y_test, cfg.eval_every)],
                          device=dev, seed=s, out_dir=out / f"seed{s}", ckpt_every=max(1, cfg.steps // 5),
                          log_every=cfg.eval_every, desc=f"K+1 seed {s}",
                          data_id=dict(labels=n_labels, pool=pool.source, test=test.source))
    tr.fit(data.batches(x_pool, cfg.batch), cfg.steps)
    err = ssl.errors_per_10k(tr.D_ema.module, x_test, y_test)
    runs.append(dict(seed=s, ssl=err, baseline=base_err, trainer=tr))
    print(f"seed {s}: K+1 GAN {err:.0f} errors / 10k, supervised-only {base_err:.0f}")

# %%
ssl_err, base_err = summary([r["ssl"] for r in runs]), summary([r["baseline"] for r in runs])
viz.table([dict(method="paper (K+1 + FM)", errors_per_10k=(93.0, 6.5)),
           dict(method="ours: K+1 + FM", errors_per_10k=ssl_err),
           dict(method="ours: supervised only", errors_per_10k=base_err)],
          floatfmt=".0f", title=f"test errors per 10,000, over {len(runs)} training seed(s)")

fig, ax = plt.subplots(figsize=(5, 3))
for r in runs:
    hist = [h for h in r["trainer"].history if "test_err" in h]
    ax.plot([h["step"] for h in hist], [h["test_err"] for h in hist], label=f"K+1, seed {r['seed']}")
    ax.axhline(r["baseline"], ls="--", c="gray")
for ref in ssl.reference_curves():
    recs = [r for r in ref["records"] if r["step"] <= max(cfg.steps, ref["records"][0]["step"])]
    ax.plot([r["step"] for r in recs], [r["err_avg"] for r in recs], ":", c="black",
            label=f"official code (port), seed {ref['seed']}")
ax.axhline(93, c="red", lw=0.8, label="paper, 100 labels")
ax.set_yscale("log"); ax.set_xlabel("step"); ax.set_ylabel("test errors / 10k"); ax.legend(fontsize=7)
ax.set_title("averaged D (dashed: supervised only)")
fig.tight_layout(); fig.savefig(out / "test_error.png", dpi=120)
for ref in ssl.reference_curves():
    at = min(ref["records"], key=lambda r: abs(r["step"] - cfg.steps))
    print(f"Faithful port of the official code ({ref['split']['pool'][:40]}…, test: {ref['split']['test'][:40]}…, "
          f"seed {ref['seed']}): {at['err_avg']:.0f} errors per 10,000 (averaged D) at step {at['step']:,}; "
          f"this run's split: pool = {cfg.pool_split} ({len(pool):,}), test = {cfg.test_split} ({len(test):,}).")
print(f"Reading: with the same {n_labels} labels, the unlabelled pool of {len(pool):,} images takes the classifier "
      f"from {base_err['mean']:.0f} to {ssl_err['mean']:.0f} errors per 10,000 "
      f"({base_err['mean'] / max(ssl_err['mean'], 1):.1f}× fewer) after {cfg.steps:,} steps; the paper's 93 needs "
      "the full 60,000 pool and 180,000 steps. The curve's slope says whether more steps would still help.")

# %% [markdown]
# ## Adam's ε is part of the recipe
# An earlier version of this notebook used torch's Adam as it comes (ε = 10⁻⁸ outside the square root)
# and the paper's sum of squares for feature matching. In both laptop seeds the run went well for
# 7,000 steps and then collapsed: D's loss fell to 0, G's feature-matching loss rose from about 600
# to over 30,000, and K2 failed (884 and 870 errors). A bisection towards the official code, on the
# laptop split with one seed (`tests/reference/bisect_adam_eps.py`; its records are in
# `results/reference/k_plus_one_adam_eps.json`, plotted here), put the cause in the optimiser, not in the
# model: with the official initialisation, labelled batches, z and G's own real batch but torch's ε the
# run still collapsed; with the official ε on *both* players it trained stably to the end; with it on D
# alone, or on G alone, it collapsed again. The ε sets the gradient size below which Adam's step
# shrinks instead of staying at the learning rate: gradients of a weight-normalised D fall as its
# weight vectors grow, and averaging the 250 squares (not summing) makes G's gradients 250 times
# smaller, so ε decides how fast each player can still move late in training. One seed per variant
# is a lead, not a proof, and it did not hold up alone: with the official ε, laptop seed 0 stayed
# stable (506 errors) but seed 1 collapsed at about 7,000 steps (1,126 errors). On seed 1 the port of
# the official code did not collapse (D's unlabelled loss stayed near 0.3), and neither did the project's
# code once the remaining official choices joined the ε (D's directions from N(0, 0.1²) instead of
# N(0, 0.05²), which halves Adam's step relative to ‖θ‖; every label once per batch; z ∈ [0, 1); G's own
# real batch): the last curve below, on seed 1. That is the recipe this notebook now runs; the figure
# keeps the earlier variants to show what each departure did. (The port itself learns more slowly
# on seed 1 — its average starts from zero, as the official code's does.)

# %%
study = ssl.epsilon_study()
fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
for run in study["runs"]:
    steps = [r["step"] for r in run["records"]]
    axes[0].plot(steps, [r["fm_sum"] for r in run["records"]], label=run["label"])
    axes[1].plot(steps, [r["err_avg"] for r in run["records"]], label=run["label"])
for r in runs:
    hist = [h for h in r["trainer"].history if "test_err" in h]
    steps = [h["step"] for h in hist]
    axes[0].plot(steps, [250 * h["g_loss"] for h in hist], "k:", label=f"this run, seed {r['seed']}")
    axes[1].plot(steps, [h["test_err"] for h in hist], "k:", label=f"this run, seed {r['seed']}")
axes[0].set_yscale("log"); axes[0].set_ylabel("G's FM loss (sum of 250 squares)")
axes[1].set_ylabel("test errors / 10k (averaged D)")
for ax in axes:
    ax.set_xlabel("step")
axes[0].legend(fontsize=7, loc="upper left")
axes[0].set_title("bisection runs (seed in the label), one thread, laptop split", fontsize=9)
fig.tight_layout()
fig.savefig(out / "adam_eps.png", dpi=120)
for run in study["runs"]:
    last = run["records"][-1]
    print(f"{run['label']:<72} step {last['step']:,}: FM loss {last['fm_sum']:9,.0f}, D's loss {last['d']:.3f}, "
          f"{last['err_avg']:.0f} errors / 10k")
collapsed = [run["label"] for run in study["runs"] if run["records"][-1]["d"] < 0.01]
stable = [run["label"] for run in study["runs"] if run["records"][-1]["d"] >= 0.01]     # D's loss near 0: collapse
print(f"Reading: collapsed by the end (D's loss below 0.01, G's loss far above its early value): "
      f"{'; '.join(collapsed) or 'none'}. Stable: {'; '.join(stable) or 'none'}.")
for r in runs:
    last = r["trainer"].history[-1]
    print(f"This run, seed {r['seed']} (the official recipe), {'COLLAPSED' if last['d_loss'] < 0.01 else 'stayed stable'}: "
          f"at step {last['step']:,} D's loss {last['d_loss']:.3f}, FM loss {250 * last['g_loss']:,.0f}, {r['ssl']:.0f} errors.")

# %% [markdown]
# ## What feature matching does to samples
# The generator is trained to match D's feature statistics, not to fool D; the paper notes its
# samples look worse than those of minibatch discrimination while the classifier gets better.

# %%
tr = runs[0]["trainer"]
samples = tr.sample(cfg.n_samples, ema=False, name="samples") * 2 - 1        # show_grid expects [-1, 1]
fig, axes = plt.subplots(1, 2, figsize=(10, 5))
viz.show_grid(samples, nrow=10, ax=axes[0], title="G trained by feature matching")
viz.show_grid(x_pool[: cfg.n_samples] * 2 - 1, nrow=10, ax=axes[1], title="real pool images")
fig.savefig(out / "samples.png", dpi=120)

# %% [markdown]
# ## Claims table

# %%
claims.measure("K1", [r["baseline"] / max(r["ssl"], 1) for r in runs], over="training seeds",
               detail=f"{base_err['mean']:.0f} vs {ssl_err['mean']:.0f}")
claims.measure("K2", [r["ssl"] for r in runs], over="training seeds", detail=f"pool {len(pool):,} images, {cfg.steps:,} steps")
claims.show()
print("results:", claims.save(pool=pool.source, test=test.source, labels=n_labels,
                              runs=[{k: v for k, v in r.items() if k != "trainer"} for r in runs]))

# %% [markdown]
# ## Summary
# The K+1 trick turns any K-class classifier into a discriminator; trained against a feature-matching
# generator, the unlabelled images shape its features and the 100 labels only name the clusters. The
# claims table says how much of the paper's gap over supervised-only training this scale shows.
#
# ## Exercises
#
# **E1.** Write the unsupervised loss with an explicit (K+1)-way softmax, appending a zero logit for
# the fake class; the check compares it with the logsumexp/softplus form used above.

# %%
def my_unsupervised_loss(logits_real, logits_fake):
    ### BEGIN SOLUTION
    pad = lambda l: torch.cat([l, torch.zeros(len(l), 1, device=l.device)], 1)
    p_fake_real = pad(logits_real).softmax(1)[:, -1]
    log_p_fake_fake = pad(logits_fake).log_softmax(1)[:, -1]
    return -torch.log1p(-p_fake_real).mean() - log_p_fake_fake.mean()
    ### END SOLUTION


# %%
exercises.check("03.E1", my_unsupervised_loss)

# %% [markdown]
# **E2.** Why may $l_{K+1}$ be fixed at 0? Take K+1 free logits, write the K logits with the same
# class probabilities and $l_{K+1} = 0$; the check compares the two softmaxes.

# %%
def drop_fake_logit(logits_k_plus_1):
    ### BEGIN SOLUTION
    return logits_k_plus_1[:, :-1] - logits_k_plus_1[:, -1:]
    ### END SOLUTION


# %%
exercises.check("03.E2", drop_fake_logit)
