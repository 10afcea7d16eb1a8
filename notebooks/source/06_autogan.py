# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 06 · AutoGAN: neural architecture search for the generator
#
# *Gong, Chang, Jiang & Wang (2019), AutoGAN: Neural Architecture Search for Generative Adversarial
# Networks.* Official code: `VITA-Group/AutoGAN`.
#
# A neural architecture search has three parts, and the paper names each:
#
# | part | AutoGAN's choice |
# |---|---|
# | **search space** | G is a stack of cells, one per ×2 upsampling (4 → 8 → 16 → 32 px). Per cell: the conv block pre- or post-activation; normalisation BN / IN / none; upsampling bilinear / nearest / stride-2 deconvolution; an in-cell shortcut or not; skip-ins from every earlier cell |
# | **optimiser** | an LSTM controller (hidden 100) emits one softmax decision after another; REINFORCE with a moving-average baseline (decay 0.9) and an entropy bonus |
# | **proxy task** | the reward is the Inception Score of a child that borrows its weights from one shared supergraph (parameter sharing), trained in turns with the controller |
#
# and adds two things for GANs: **dynamic reset** (when the shared G's or D's loss goes flat, the
# shared training has collapsed: re-initialise the shared weights, not the controller) and a
# **multi-level** search (one cell per stage as the resolution grows, a new controller per stage
# starting from the beam of the best architectures so far).
#
# $$\nabla_\theta J(\theta) \approx \frac1m\sum_{k=1}^m \nabla_\theta \log \pi(a_k;\theta)\,(R_k - b), \qquad b \leftarrow \beta b + (1-\beta) R .$$

# %% tags=["parameters"]
profile = "smoke"      # smoke | laptop | course | paper
device = "auto"
seed = 0
data_root = None       # None: the course's data/ (or $GANCOURSE_DATA)
out_dir = None         # None: the course's runs/manual/<notebook>/
overrides = {}         # any setting of the profile, e.g. {"shared_steps": 200}
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
import dataclasses

import matplotlib.pyplot as plt
import numpy as np
import torch

from gancourse import data
from gancourse.course import exercises, notebook, viz
from gancourse.instruments import extractors, metrics
from gancourse.nn import models
from gancourse.papers import nas, progressive
from gancourse.nn.models import autogan
from gancourse.course.results import at_least, at_most, summary

run = notebook.start("06_autogan", profile, device, seed, out_dir, overrides, data_root, claim_ids)
cfg, dev, out, claims, data_root = run.cfg, run.device, run.out, run.claims, run.data_root
draws = range(cfg.eval_draws)

# %% [markdown]
# ## Claims, fixed before the run
# * **G1** (§3.2) the controller learns: in the last stage, the mean reward of the last third of its
#   REINFORCE steps / that of the first third ≥ 1.
# * **G2** (§4, Table 3: searched beats random) the best derived architecture scores a higher search
#   reward than the best of random search over the same space at the same budget: reward ratio ≥ 1.
# * **G3** (§4) retrained from scratch at the same budget, the searched architecture reaches a lower FID
#   than the random-search one: FID ratio ≤ 1.
# * **G4** (§4, Table 1) the published CIFAR-10 architecture, trained with this notebook's budget and
#   width, beats a plain DCGAN generator of about the same size: FID ratio ≤ 1.
#
# FIDs use the named extractor on `eval_draws` draws of samples; G3 and G4 need the whole interval
# mean ± sd below 1. The search itself is one run: its rewards are the evaluations the paper uses.

# %%
claims.declare("G1", "controller reward, last stage: last third / first third of its steps",
               paper="§3.2: REINFORCE raises the expected reward", criterion=at_least(1.0), unit="×")
claims.declare("G2", "search reward (IS) of the best derived architecture / random search's best",
               paper="§4: RL search beats random search", criterion=at_least(1.0), unit="×")
claims.declare("G3", "retrained: FID searched / FID random-search best, same budget",
               paper="Table 3: random search 8.09 IS vs AutoGAN 8.55", criterion=at_most(1.0, margin=True), unit="×")
claims.declare("G4", "published autogan_cifar10_a vs a DCGAN G of similar size: FID ratio",
               paper="Table 1: IS 8.55, FID 12.42 (CIFAR-10)", criterion=at_most(1.0, margin=True), unit="×")

# %% [markdown]
# ## 1 · The search space
# A cell holds every choice; a fixed architecture is a setting of it. The published CIFAR-10 generator
# (`autogan_cifar10_a`) as cells:

# %%
viz.show_source(autogan.CellArch)
for i, cell in enumerate(autogan.AUTOGAN_CIFAR10_A, 1):
    print(f"cell {i}: {cell}")
published = autogan.autogan_cifar10_a(width=256)
print(f"autogan_cifar10_a at width 256: {models.n_params(published):,} parameters "
      "(the official model, built from VITA-Group/AutoGAN's code: 4,405,251)")
print(f"the space: {autogan.space_size(3):,} architectures of 3 cells; decisions per cell: "
      f"{[autogan.decisions(c) for c in range(3)]}")

# %% [markdown]
# ## 2 · The controller and REINFORCE

# %%
viz.show_source(nas.reinforce_step)

# %% [markdown]
# ## 3 · Dynamic reset
# A window of the last `reset_window` losses of G and D; when the spread of either falls below the
# threshold, the shared training has stopped moving (collapsed). Here on two loss sequences: a healthy
# noisy one and one that goes flat.

# %%
viz.show_source(nas.DynamicReset.update)
demo = nas.DynamicReset(window=50, threshold=1e-3)
rng = np.random.default_rng(seed)
healthy = 1.0 + 0.3 * rng.standard_normal(200)
collapsed = np.concatenate([1.0 + 0.3 * rng.standard_normal(100), np.full(100, 0.693)])
fired = {}
for name, seq in (("healthy", healthy), ("collapsing", collapsed)):
    demo = nas.DynamicReset(window=50, threshold=1e-3)
    fired[name] = next((i for i, v in enumerate(seq) if demo.update(float(v), float(v))), None)
print(f"dynamic reset fires at step {fired['collapsing']} of the collapsing sequence (flat from step 100); "
      f"on the healthy one: {'never' if fired['healthy'] is None else fired['healthy']}")

# %% [markdown]
# ## 4 · The search, and random search at the same budget
# Images at 32 px (MNIST padded to 32), the shared G of width `width` and the official SN-ResNet D
# of width `d_width`; `iterations` search iterations per stage, each `shared_steps` D batches of
# shared training and `ctrl_steps` REINFORCE steps; `n_candidates` proposed and `beam` kept at each
# growth. The reward is the IS of `n_reward` samples under the named extractor.

# %%
train = data.load_images(cfg.images, "train", data_root, profile)
test = data.load_images(cfg.images, "test", data_root, profile)
x_u8 = progressive.pad_to_power_of_two(train.images)
test_u8 = progressive.pad_to_power_of_two(test.images)
test32 = data.ImageSet(test.name, "test", test_u8, test.labels, test.source + " (padded to 32 px)")
ex_train = data.ImageSet(train.name, "train", x_u8, train.labels, train.source).subset(min(len(train), cfg.extractor_images), seed)
ex = extractors.get_extractor(extractor, ex_train, test32, data_root, dev, epochs=cfg.extractor_epochs)
search_cfg = nas.SearchConfig(iterations=tuple(int(i) for i in cfg.iterations.split(",")), shared_steps=cfg.shared_steps,
                              ctrl_steps=cfg.ctrl_steps, n_candidates=cfg.n_candidates, beam=cfg.beam,
                              n_reward=cfg.n_reward, width=cfg.width, d_width=cfg.d_width, n_critic=cfg.n_critic,
                              batch_size=cfg.batch, g_batch_size=2 * cfg.batch, reset_window=cfg.reset_window)
print(f"extractor: {ex.name}\n{search_cfg}\nchildren scored per stage: {search_cfg.children_per_stage()}")
searched = nas.search(x_u8, ex, search_cfg, seed=seed, device=dev, out_dir=out / "search")
randomly = nas.random_search(x_u8, ex, search_cfg, seed=seed, device=dev, out_dir=out / "random-search")

# %%
ctrl = searched.log.of("controller")
fig, axes = plt.subplots(1, 3, figsize=(15, 3.4))
steps_ = np.arange(len(ctrl))
for key, ax in (("reward", axes[0]), ("entropy", axes[1])):
    ax.plot(steps_, [r[key] for r in ctrl], ".-", ms=3, label="controller")
    if key == "reward":
        ax.plot(steps_, [r["baseline"] for r in ctrl], "--", label="baseline")
        rnd = randomly.log.of("controller")
        ax.plot(np.arange(len(rnd)), [r["reward"] for r in rnd], ".", ms=3, alpha=0.5, label="random search")
    for b in np.flatnonzero(np.diff([r["stage"] for r in ctrl])):
        ax.axvline(b + 0.5, color="grey", lw=0.8)
    ax.set(title=f"{key} per REINFORCE step (grey: a new stage)", xlabel="controller step"); ax.legend(fontsize=8)
shared = searched.log.of("shared")
axes[2].plot([r.get("g_loss", np.nan) for r in shared], "o-", label="G loss (mean)")
axes[2].plot([r.get("d_loss", np.nan) for r in shared], "s-", label="D loss (mean)")
axes[2].set(title=f"shared training; resets: {searched.log.records[-1]['resets']}", xlabel="iteration"); axes[2].legend(fontsize=8)
fig.tight_layout(); fig.savefig(out / "search.png", dpi=110)

child_seconds = [r["seconds"] for r in searched.log.of("child")]
shared_seconds = sum(r["seconds"] for r in shared)
print(f"children scored: {len(child_seconds)} in the search, {len(randomly.log.of('child'))} in random search; "
      f"a reward ({cfg.n_reward:,} samples through the extractor) takes {np.mean(child_seconds):.2f} s; "
      f"shared training took {shared_seconds:.0f} s of the search")
viz.table([dict(search=name, rank=i + 1, reward=float(r), cells=" | ".join(str(c) for c in a))
           for name, res in (("controller", searched), ("random", randomly))
           for i, (a, r) in enumerate(zip(res.beam.archs, res.beam.rewards))], floatfmt=".3f",
          title="the derived beams (reward: IS of the child under the shared weights)")
thirds = max(1, len([r for r in ctrl if r["stage"] == ctrl[-1]["stage"]]) // 3)
last_stage = [r["reward"] for r in ctrl if r["stage"] == ctrl[-1]["stage"]]
print(f"Reading: in the last stage the controller's mean reward went from {np.mean(last_stage[:thirds]):.3f} (first "
      f"third of its steps) to {np.mean(last_stage[-thirds:]):.3f} (last third); its best derived child scores "
      f"{float(searched.beam.rewards[0]):.3f} against random search's best {float(randomly.beam.rewards[0]):.3f}. The "
      "proxy decides what a search can find: these rewards come from a tiny shared G after seconds of training.")

# %% [markdown]
# ## 5 · Derive and retrain; the published architecture against a DCGAN of its size
# The best derived architecture of each search, retrained from scratch (width `retrain_width`,
# `retrain_steps` steps, the official settings: hinge loss, Adam 2e-4, β = (0, 0.9), SN-ResNet D);
# then the published `autogan_cifar10_a` at the same width and a plain DCGAN generator of about as many
# parameters, same D and budget.

# %%
common = dict(steps=cfg.retrain_steps, batch_size=cfg.batch, d_width=cfg.d_width, n_critic=cfg.n_critic,
              device=dev, seed=seed, data_id=dict(train=train.source))
torch.manual_seed(seed)
gens = {"searched": autogan.xavier_init(autogan.AutoGANGenerator(searched.best, 128, cfg.retrain_width, x_u8.shape[1])),
        "random search": autogan.xavier_init(autogan.AutoGANGenerator(randomly.best, 128, cfg.retrain_width, x_u8.shape[1])),
        "autogan_cifar10_a": autogan.autogan_cifar10_a(cfg.retrain_width, 128, x_u8.shape[1])}
gens["DCGAN, similar size"] = nas.similar_dcgan(models.n_params(gens["autogan_cifar10_a"]), x_u8.shape[1], 128)
retrained = {k: nas.retrain(G, x_u8, out_dir=out / "retrain" / k.replace(" ", "-").replace(",", ""), desc=k, **common)
             for k, G in gens.items()}
quality = {k: metrics.sample_quality(tr, test32, ex, min(cfg.eval_n, len(test32)), cfg.eval_draws, dev)
           for k, tr in retrained.items()}
viz.table([dict(generator=k, parameters=models.n_params(gens[k]), FID=summary([d["fid"] for d in q]),
                IS=summary([d["is"] for d in q])) for k, q in quality.items()], floatfmt=".3g",
          title=f"retrained {cfg.retrain_steps:,} steps; {min(cfg.eval_n, len(test32)):,} samples × {cfg.eval_draws} draws")
viz.table([dict(model="AutoGAN (autogan_cifar10_a)", IS=8.55, FID=12.42, protocol="Gong 2019 Table 1: CIFAR-10, Inception, 50k samples"),
           dict(model="AutoGAN on STL-10", IS=9.16, FID=31.01, protocol="ibid., Table 2"),
           dict(model="random search (same space)", IS=8.09, FID=17.34, protocol="ibid., Table 3")],
          title="published numbers (another extractor and scale: for direction, not comparison)")
fid = {k: summary([d["fid"] for d in q])["mean"] for k, q in quality.items()}
fig, axes = plt.subplots(1, len(retrained), figsize=(4 * len(retrained), 4.2))
for ax, (k, tr) in zip(axes, retrained.items()):
    viz.show_grid(tr.sample()[:36], nrow=6, ax=ax, title=f"{k}: FID {fid[k]:.1f}")
fig.tight_layout(); fig.savefig(out / "retrained.png", dpi=110)
print(f"Reading: retrained, the searched architecture reaches FID {fid['searched']:.1f} and random search's "
      f"{fid['random search']:.1f}; the published architecture {fid['autogan_cifar10_a']:.1f} against "
      f"{fid['DCGAN, similar size']:.1f} for a DCGAN generator of similar size.")

# %% [markdown]
# ## Claims table

# %%
F = {k: [d["fid"] for d in q] for k, q in quality.items()}
claims.measure("G1", np.mean(last_stage[-thirds:]) / np.mean(last_stage[:thirds]),
               detail=f"{np.mean(last_stage[:thirds]):.3f} → {np.mean(last_stage[-thirds:]):.3f}")
claims.measure("G2", float(searched.beam.rewards[0]) / float(randomly.beam.rewards[0]),
               detail=f"{float(searched.beam.rewards[0]):.3f} vs {float(randomly.beam.rewards[0]):.3f}")
claims.measure("G3", [a / b for a, b in zip(F["searched"], F["random search"])])
claims.measure("G4", [a / b for a, b in zip(F["autogan_cifar10_a"], F["DCGAN, similar size"])],
               detail=f"{models.n_params(gens['autogan_cifar10_a']):,} vs {models.n_params(gens['DCGAN, similar size']):,} parameters")
claims.show()
print("results:", claims.save(
    extractor=ex.name, images=train.source, search_config=dataclasses.asdict(search_cfg),
    search=dict(best=[str(c) for c in searched.best], beam_rewards=[float(r) for r in searched.beam.rewards],
                resets=searched.log.records[-1]["resets"], reward_seconds=float(np.mean(child_seconds)),
                shared_seconds=shared_seconds, controller=[{k: v for k, v in r.items() if k != "kind"} for r in ctrl]),
    random_search=dict(best=[str(c) for c in randomly.best], beam_rewards=[float(r) for r in randomly.beam.rewards]),
    retrained=quality))

# %% [markdown]
# ## Summary
# The controller, the shared supergraph and the reward make a search that runs in minutes here: the
# claims table says whether its policy learned, whether it found more than random sampling did, and
# whether what it found (and the paper's published cells) train better than a plain generator of the
# same size. The lesson of NAS holds at any scale: the proxy task decides what the search can find.
#
# ## Exercises
#
# **E1.** Write the REINFORCE loss with a moving-average baseline: given the log-probabilities of `m`
# sampled architectures, their rewards and the previous baseline `b`, update $b \leftarrow \beta b +
# (1 - \beta)\,\overline{R}$ first (as the official code does), then return
# $(-\frac1m\sum_k \log\pi_k\,(R_k - b),\ b)$.

# %%
def my_reinforce_loss(log_probs, rewards, baseline, decay=0.9):
    ### BEGIN SOLUTION
    baseline = decay * baseline + (1 - decay) * rewards.mean().item()
    return -(log_probs * (rewards - baseline)).mean(), baseline
    ### END SOLUTION


# %%
exercises.check("06.E1", my_reinforce_loss)

# %% [markdown]
# **E2.** The dynamic-reset rule: given the recent losses of G and of D (two lists) and a threshold,
# return True when both hold at least `window` losses and the (population) variance of the last
# `window` of either is below the threshold.

# %%
def my_should_reset(g_losses, d_losses, window, threshold):
    ### BEGIN SOLUTION
    full = len(g_losses) >= window and len(d_losses) >= window
    return full and (float(np.var(g_losses[-window:])) < threshold or float(np.var(d_losses[-window:])) < threshold)
    ### END SOLUTION


# %%
exercises.check("06.E2", my_should_reset)
