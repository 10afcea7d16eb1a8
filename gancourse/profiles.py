"""Profiles (smoke / laptop / course / paper): what each scale means, each notebook's
hyperparameters under it, and the device.

Every notebook's ``parameters`` cell names a ``profile``; :func:`settings` turns it into the
notebook's hyperparameters, so the numbers live here, where tests can see them. What a profile
*means* (are its verdicts claims, may it use package-shipped data, how many evaluation draws) is
data in ``PROFILES``, not comparisons spread over the package.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from types import SimpleNamespace

import torch

from . import CourseError, threads
from .seeding import seed_everything  # noqa: F401  (re-exported: profiles.seed_everything)


@dataclass(frozen=True)
class Profile:
    name: str
    about: str
    claims: bool                  # are its verdicts claims? (smoke numbers are not)
    needs_gpu: bool               # device="auto" refuses to start on a CPU
    packaged_data: bool           # may stand in package-shipped digits when MNIST is not prepared
    data_cap: dict | None         # most images per split, whatever is on disk (None: all)
    eval_draws: int               # independent evaluation draws behind every claimed number
    fast_path: bool = False       # on a GPU, trainers take the compiled fast path (training.Trainer's fast)


PROFILES = {p.name: p for p in (
    Profile("smoke", "2-core CPU, 1-3 minutes a notebook, small real data; for CI and nbval. Numbers are not claims.",
            claims=False, needs_gpu=False, packaged_data=True, data_cap={"train": 5000, "test": 2000}, eval_draws=3),
    Profile("laptop", "2-core CPU, no GPU, at most 20 minutes a notebook: the claims at small scale "
            "(the paper's direction and ordering).",
            claims=True, needs_gpu=False, packaged_data=False, data_cap=None, eval_draws=5),
    Profile("course", "one GPU, at most 8 minutes a notebook on one H100; reduced scale, nearer the paper's.",
            claims=True, needs_gpu=True, packaged_data=False, data_cap=None, eval_draws=5, fast_path=True),
    Profile("paper", "the paper's own hyperparameters and data scale, for those with the hardware.",
            claims=True, needs_gpu=True, packaged_data=False, data_cap=None, eval_draws=5, fast_path=True),
)}
CLAIM_PROFILES = tuple(name for name, p in PROFILES.items() if p.claims)

# Per-notebook settings. Keys shared by all profiles of a notebook; values differ by scale.
_SETTINGS = {
    "00_setup": {
        # the course's MNIST classifier (epochs) and the real/real, real/noise checks (eval_n images a set)
        "smoke": dict(extractor_epochs=2, eval_n=2000),
        "laptop": dict(extractor_epochs=4, eval_n=5000),
        "course": dict(extractor_epochs=6, eval_n=10000),
        "paper": dict(extractor_epochs=10, eval_n=10000),
    },
    "01_gan_foundations": {
        # 2D mixtures: MLP G/D, one run per (loss, mixture)
        "smoke": dict(toy_mixtures="ring8,grid25", toy_steps=600, toy_batch=256, toy_hidden=128, toy_lr=2e-3, toy_eval=2500,
                      sat_d_steps=100,
                      dcgan_steps=300, dcgan_batch=64, dcgan_width=32, dcgan_eval=1000,
                      extractor_epochs=2, interp_steps=8, nn_queries=200),
        # laptop (measured on the 2-core CPU: MLP step 4 ms, WGAN-GP step 20 ms, DCGAN w32 39 ms):
        # the mixtures near course scale, a DCGAN long enough to draw digits. The grid only (F2's mixture,
        # as notebook 02's laptop rows): with the ring the notebook took 552 s on a machine whose whole
        # laptop course took 90.8 minutes, the ring's four runs 194 s of it; the grid's numbers do not
        # depend on the ring's runs (each run seeds itself). About 6 minutes.
        "laptop": dict(toy_mixtures="grid25", toy_steps=4000, toy_batch=256, toy_hidden=128, toy_lr=1e-3, toy_eval=10000,
                       sat_d_steps=300,
                       dcgan_steps=3000, dcgan_batch=64, dcgan_width=32, dcgan_eval=5000,
                       extractor_epochs=4, interp_steps=10, nn_queries=1000),
        "course": dict(toy_mixtures="ring8,grid25", toy_steps=5000, toy_batch=512, toy_hidden=256, toy_lr=1e-3, toy_eval=10000,
                       sat_d_steps=300,
                       dcgan_steps=6000, dcgan_batch=128, dcgan_width=64, dcgan_eval=10000,
                       extractor_epochs=6, interp_steps=10, nn_queries=2000),
        # DCGAN paper: batch 128, Adam 2e-4 beta1 0.5; MNIST for 25 epochs ~ 11.7k steps.
        "paper": dict(toy_mixtures="ring8,grid25", toy_steps=25000, toy_batch=512, toy_hidden=256, toy_lr=1e-4, toy_eval=10000,
                      sat_d_steps=500,
                      dcgan_steps=11700, dcgan_batch=128, dcgan_width=64, dcgan_eval=10000,
                      extractor_epochs=10, interp_steps=10, nn_queries=10000),
    },
    "02_improved_techniques": {
        # The 2D rows (baseline, +MBD, +FM) and Table 3's six rows on images. labels_per_class: labelled
        # images for the K+1 rows (the official CIFAR-10 code: 400 a class, 8 % of the set; the laptop keeps
        # that share of its 5,000 MNIST images). smoke: 16 minibatch kernels, not the paper's 100 (their
        # pairwise L1 is the CPU's bottleneck).
        "smoke": dict(toy_mixtures="grid25", toy_steps=250, toy_batch=64, toy_hidden=128, toy_lr=2e-3,
                      toy_eval=2500, images="mnist", img_steps=60, img_batch=64, img_width=32, img_eval=500,
                      extractor_epochs=2, mbd_kernels=16, labels_per_class=10),
        # laptop: the grid only (the claims' mixture), the paper's 100 MBD kernels, batch 64 (a toy step with
        # MBD takes 24 ms at batch 64 on the 2-core CPU, 130 ms at 128: pairwise L1 over the batch). Table 3
        # has six image rows (the ablation before had twelve, and 450 steps each): 600 steps a row.
        "laptop": dict(toy_mixtures="grid25", toy_steps=1500, toy_batch=64, toy_hidden=128, toy_lr=1e-3,
                       toy_eval=5000, images="mnist", img_steps=600, img_batch=64, img_width=32, img_eval=2000,
                       extractor_epochs=4, mbd_kernels=100, labels_per_class=40),
        "course": dict(toy_mixtures="ring8,grid25", toy_steps=2000, toy_batch=256, toy_hidden=128, toy_lr=1e-3,
                       toy_eval=10000, images="cifar10", img_steps=1500, img_batch=100, img_width=64,
                       img_eval=5000, extractor_epochs=8, mbd_kernels=100, labels_per_class=400),
        # Official CIFAR-10 code: batch 100, Adam 3e-4 β1 0.5, 1,200 epochs, 400 labels a class; DCGAN-sized nets.
        "paper": dict(toy_mixtures="ring8,grid25", toy_steps=20000, toy_batch=256, toy_hidden=128, toy_lr=1e-4,
                      toy_eval=10000, images="cifar10", img_steps=100000, img_batch=100, img_width=64,
                      img_eval=50000, extractor_epochs=20, mbd_kernels=100, labels_per_class=400),
    },
    "03_semi_supervised": {
        # Official code: batch 100, Adam 3e-3 β1 0.5, 300 epochs of 60,000 (180,000 steps).
        # pool_split: the unlabelled pool (and the labels' source); test_split: where errors are counted.
        "smoke": dict(steps=300, baseline_steps=300, seeds=1, eval_every=100, batch=100, n_samples=100,
                      pool_split="train", test_split="test"),
        # laptop: one training seed per run (a K+1 step takes 77 ms on the 2-core CPU: 10,000 steps are
        # 13 minutes), the 10,000-image MNIST test set as the pool (so a machine without the 60,000
        # training images runs the same split), errors counted on the training split the model never sees.
        "laptop": dict(steps=10000, baseline_steps=2000, seeds=1, eval_every=500, batch=100, n_samples=100,
                       pool_split="test", test_split="train"),
        "course": dict(steps=10000, baseline_steps=3000, seeds=3, eval_every=1000, batch=100, n_samples=100,
                       pool_split="train", test_split="test"),
        "paper": dict(steps=180000, baseline_steps=20000, seeds=5, eval_every=6000, batch=100, n_samples=100,
                      pool_split="train", test_split="test"),
    },
    "04_pggan_swd": {
        # kimg: real images shown per ablation row (rows stop on images, never on seconds: the same run on
        # every machine; the fixed-size row gets the progressive run's FLOPs from the cost model).
        # swd_n images per SWD (the paper: 16,384); curve_n per point of the SWD-over-compute curves.
        "smoke": dict(images="mnist", width=16, z_dim=64, batch=32, kimg=3.2, train_kimg=0.4, fade_kimg=0.4,
                      swd_n=256, curve_n=128, curve_every_kimg=0.4, msssim_pairs=500),
        # laptop: MNIST at 32 px, width 32 (measured: a PGGAN step at batch 32 is 19 ms at 4×4, 64 ms at
        # 16×16, 240 ms at 32×32; the WGAN-GP baseline 1 s); SWD on 400 images (one SWD of 1,000 MNIST
        # images takes 8.5 s on this CPU). The rows used to stop at 80 s of training, where one session's CPU's
        # growing rows had seen 33-38 kimg (full size from 24) and the baseline 17-22: 32 kimg a row, the same on
        # every machine. Measured at 79c90f7 (2-core AMD EPYC, 2026-12-07, seeds 0-2): growing rows 100-132 s, the
        # baseline 222-239 s, the fixed-size row 107-112 s, evaluation 115-138 s; the notebook 1,020-1,065 s (budget 1,200).
        "laptop": dict(images="mnist", width=32, z_dim=64, batch=32, kimg=32, train_kimg=4, fade_kimg=4,
                       swd_n=400, curve_n=256, curve_every_kimg=4, msssim_pairs=2000),
        "course": dict(images="cifar10", width=128, z_dim=128, batch=64, kimg=200, train_kimg=25, fade_kimg=25,
                       swd_n=10000, curve_n=2000, curve_every_kimg=10, msssim_pairs=10000),
        # Official CIFAR-10 config: fmap_max 128, latent 128, 400k images per phase, 20M in all.
        "paper": dict(images="cifar10", width=128, z_dim=128, batch=64, kimg=20000, train_kimg=400, fade_kimg=400,
                      swd_n=16384, curve_n=4096, curve_every_kimg=500, msssim_pairs=10000),
    },
    "05_stabilizers": {
        # width: SNDCGAN base width (Miyato: 64); steps/batch: every stabilizer's budget (setting "C");
        # big_*: the conditional ResNet's batch sizes and widths (BigGAN's lesson); the extractor is
        # trained on extractor_images of the training set.
        "smoke": dict(images="mnist", width=8, steps=100, batch=32, eval_n=500, curve_n=250,
                      extractor_images=4000, extractor_epochs=2, big_batches=(8, 16), big_widths=(8, 16), big_steps=40,
                      toy_steps=300, toy_eval=2500, probe_train=500, probe_test=300, dirac_steps=500),
        # laptop (measured, one thread under load: SNDCGAN w16 b32 100-140 ms a step; conditional ResNet
        # w16 b16 67 ms, b64 227 ms, w32 b16 150 ms): CIFAR-10 at width 16. The first laptop run (seed 0,
        # 1,000 steps, 400 conditional steps, probe on 3,000 images) took 1,404 s, over the 20-minute budget:
        # the four stabilizers 599 s (WGAN-GP 206), the probe's 15 logistic regressions 339 s, the course
        # extractor 111 s (first CIFAR notebook), the conditional runs 138 s. Now 600 steps (notebook 07's
        # budget), 300 conditional steps, probe on 2,000 images: about 17 minutes. Criteria unchanged.
        "laptop": dict(images="cifar10", width=16, steps=600, batch=32, eval_n=2000, curve_n=1000,
                       extractor_images=10000, extractor_epochs=3, big_batches=(16, 32, 64), big_widths=(16, 32),
                       big_steps=300, toy_steps=2000, toy_eval=5000, probe_train=2000, probe_test=1000, dirac_steps=500),
        "course": dict(images="cifar10", width=64, steps=5000, batch=64, eval_n=10000, curve_n=2000,
                       extractor_images=50000, extractor_epochs=6, big_batches=(32, 64, 128), big_widths=(64, 128),
                       big_steps=2000, toy_steps=5000, toy_eval=10000, probe_train=10000, probe_test=5000, dirac_steps=500),
        # Miyato et al.: 100k G steps at batch 64 (setting C: n_dis 1); BigGAN's batches are ImageNet-sized.
        "paper": dict(images="cifar10", width=64, steps=100000, batch=64, eval_n=10000, curve_n=5000,
                      extractor_images=50000, extractor_epochs=10, big_batches=(64, 128, 256), big_widths=(128, 256),
                      big_steps=50000, toy_steps=25000, toy_eval=10000, probe_train=50000, probe_test=10000,
                      dirac_steps=500),
    },
    "06_autogan": {
        # the search (iterations per stage, shared steps, REINFORCE steps, candidates and beam at each
        # growth, samples per reward, shared G / D widths), then retraining (steps, width). The
        # extractor settings match notebooks 05 and 07 (one cached net per data set).
        "smoke": dict(images="mnist", iterations="1,1,1", shared_steps=8, ctrl_steps=2, n_candidates=3, beam=2,
                      n_reward=100, width=8, d_width=8, n_critic=1, batch=16, reset_window=500,
                      retrain_steps=20, retrain_width=8, eval_n=300, extractor_images=4000, extractor_epochs=2),
        # laptop (measured by the search's author, one thread under load: a 500-sample reward 0.7-0.9 s,
        # a shared step 0.12 s at width 16): ~4 minutes of search each, 4 retrainings; ~15 minutes.
        "laptop": dict(images="cifar10", iterations="2,2,3", shared_steps=100, ctrl_steps=5, n_candidates=6, beam=3,
                       n_reward=500, width=16, d_width=16, n_critic=1, batch=32, reset_window=500,
                       retrain_steps=500, retrain_width=16, eval_n=2000, extractor_images=10000, extractor_epochs=3),
        "course": dict(images="cifar10", iterations="3,4,6", shared_steps=500, ctrl_steps=10, n_candidates=10, beam=5,
                       n_reward=2000, width=64, d_width=64, n_critic=5, batch=64, reset_window=500,
                       retrain_steps=3000, retrain_width=128, eval_n=10000, extractor_images=50000, extractor_epochs=6),
        # the official search (exps/autogan_search.sh) and retraining (50k iterations, G 256, D 128)
        "paper": dict(images="cifar10", iterations="15,20,30", shared_steps=11730, ctrl_steps=30, n_candidates=10, beam=5,
                      n_reward=5000, width=128, d_width=64, n_critic=5, batch=64, reset_window=500,
                      retrain_steps=50000, retrain_width=256, eval_n=10000, extractor_images=50000, extractor_epochs=10),
    },
    "07_augmentation": {
        # data_fraction: the limited-data training set of the main experiments (A7 compares with all of
        # it); strength: λ_aug of the sweep (the paper's best for SNDCGAN: ZoomOut 0.4); leak: the
        # augmentation shown on reals only. The extractor settings match notebook 05's (one cached net).
        "smoke": dict(images="mnist", width=8, steps=60, batch=32, eval_n=500, data_fraction=0.2,
                      extractor_images=4000, extractor_epochs=2, sweep_spatial="Translation,ZoomOut,CutOut",
                      sweep_visual="Brightness,InstanceNoise,MixUp", leak="Brightness", leak_strength=0.5,
                      strength=0.4, bcr_weight=10.0, cntr_weight=0.1),
        # laptop: 14 runs of the SNDCGAN w16 at ~85 ms a step (measured in notebook 05's sizing): ~15 minutes.
        "laptop": dict(images="cifar10", width=16, steps=600, batch=32, eval_n=2000, data_fraction=0.1,
                       extractor_images=10000, extractor_epochs=3, sweep_spatial="Translation,ZoomOut,CutOut",
                       sweep_visual="Brightness,Blueness,InstanceNoise", leak="Blueness", leak_strength=0.5,
                       strength=0.4, bcr_weight=10.0, cntr_weight=0.1),
        "course": dict(images="cifar10", width=64, steps=5000, batch=64, eval_n=10000, data_fraction=0.1,
                       extractor_images=50000, extractor_epochs=6,
                       sweep_spatial="ZoomIn,ZoomOut,Translation,TranslationX,TranslationY,CutOut,CutMix",
                       sweep_visual="Brightness,Redness,Greenness,Blueness,InstanceNoise,MixUp", leak="Blueness",
                       leak_strength=0.5, strength=0.4, bcr_weight=10.0, cntr_weight=0.1),
        # the paper: SNDCGAN on CIFAR-10, 200k steps at batch 64, FID on 50k samples; 10% for limited data.
        "paper": dict(images="cifar10", width=64, steps=200000, batch=64, eval_n=10000, data_fraction=0.1,
                      extractor_images=50000, extractor_epochs=10,
                      sweep_spatial="ZoomIn,ZoomOut,Translation,TranslationX,TranslationY,CutOut,CutMix",
                      sweep_visual="Brightness,Redness,Greenness,Blueness,InstanceNoise,MixUp", leak="Blueness",
                      leak_strength=0.5, strength=0.4, bcr_weight=10.0, cntr_weight=0.1),
    },
}


def notebooks_with_settings() -> list[str]:
    return sorted(_SETTINGS)


def setting_names(notebook: str) -> list[str]:
    """The settings a notebook's profiles define (each overridable), plus ``eval_draws``; [] if none."""
    if notebook not in _SETTINGS:
        return []
    return sorted({*next(iter(_SETTINGS[notebook].values())), "eval_draws"})


def check_profile(profile: str) -> str:
    if not isinstance(profile, str) or profile not in PROFILES:
        raise CourseError(
            f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)} "
            f"(e.g. python -m gancourse run --profile smoke)")
    return profile


def settings(notebook: str, profile: str, **overrides) -> SimpleNamespace:
    """The hyperparameters of ``notebook`` under ``profile`` (plus the profile's ``eval_draws``);
    ``overrides`` replace single values, checked against the type of the value they replace."""
    check_profile(profile)
    if notebook not in _SETTINGS:
        raise CourseError(f"no settings for notebook {notebook!r}; known: {', '.join(_SETTINGS)}")
    values = dict(_SETTINGS[notebook][profile], eval_draws=PROFILES[profile].eval_draws)
    unknown = set(overrides) - set(values)
    if unknown:
        raise CourseError(f"unknown setting(s) {sorted(unknown)} for {notebook}; known: {', '.join(sorted(values))}")
    for key, value in overrides.items():
        if value is None:
            continue
        values[key] = _checked(notebook, key, values[key], value)
    return SimpleNamespace(profile=profile, **values)


def _checked(notebook: str, key: str, default, value):
    """An override must have the type of the value it replaces (an int where a float is fine), and
    counts, sizes and steps must be positive."""
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, str):
        ok = isinstance(value, str)
    else:
        ok = True
    if not ok:
        raise CourseError(f"setting {key} of {notebook} is a {type(default).__name__} (e.g. {default!r}), "
                          f"not {value!r}")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value <= 0:
        raise CourseError(f"setting {key} of {notebook} must be positive, not {value!r}")
    return value


def format_settings(cfg: SimpleNamespace) -> str:
    return ", ".join(f"{k}={v}" for k, v in vars(cfg).items() if k != "profile")


def pick_device(device: str = "auto", profile: str = "smoke") -> torch.device:
    """``auto`` takes CUDA when present. Asking for CUDA without one, or for a GPU-sized profile
    (course, paper) on a CPU with device='auto', is an error that names the fix."""
    spec = PROFILES[check_profile(profile)]
    has_cuda = torch.cuda.is_available()
    if device == "auto":
        if not has_cuda and spec.needs_gpu:
            cpu_ones = ", ".join(n for n, p in PROFILES.items() if not p.needs_gpu)
            raise CourseError(
                f"profile {profile!r} is sized for a GPU and none was found. Run a CPU profile "
                f"({cpu_ones}: -p profile laptop), or set device='cpu' to force a (very slow) CPU run.")
        return torch.device("cuda" if has_cuda else "cpu")
    if not isinstance(device, str) or not (device == "cpu" or device.startswith("cuda")):
        raise CourseError(f"device must be 'auto', 'cpu' or 'cuda[:N]', not {device!r}")
    if device.startswith("cuda") and not has_cuda:
        raise CourseError(f"device {device!r} asked for, but torch sees no GPU. "
                          "Set device='auto' or device='cpu' (and a CPU profile: smoke or laptop).")
    return torch.device(device)


def fast_path(profile: str, device: torch.device) -> bool:
    """Do this profile's trainers take the compiled fast path on ``device``? On a GPU for the course and
    paper profiles; never on a CPU (there torch.compile measured 10-20 % slower for these models).
    ``GANCOURSE_FAST=0|1`` overrides (training.fast_path_default)."""
    return PROFILES[check_profile(profile)].fast_path and torch.device(device).type == "cuda"


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({threads.describe()})"
