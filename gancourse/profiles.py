"""Profiles (smoke / course / paper), device choice and seeding.

Every notebook's ``parameters`` cell names a ``profile``; :func:`settings` turns it into the
notebook's hyperparameters, so the numbers live here, where tests can see them.
"""
from __future__ import annotations

import os
import random
from types import SimpleNamespace

import numpy as np
import torch

from . import CourseError

PROFILES = {
    "smoke": "2-core CPU, 1-3 minutes a notebook, small real data; for CI and nbval. Numbers are not claims.",
    "course": "one GPU, at most 8 minutes a notebook on one H100; reduced scale, big enough for the claims.",
    "paper": "the paper's own hyperparameters and data scale, for those with the hardware.",
}

# Per-notebook settings. Keys shared by all profiles of a notebook; values differ by scale.
_SETTINGS = {
    "00_setup": {
        "smoke": dict(train_extractor=True),
        "course": dict(train_extractor=True),
        "paper": dict(train_extractor=True),
    },
    "01_gan_foundations": {
        # 2D mixtures: MLP G/D, one run per (loss, mixture)
        "smoke": dict(toy_steps=600, toy_batch=256, toy_hidden=128, toy_lr=2e-3, toy_eval=2500,
                      sat_d_steps=100,
                      dcgan_steps=300, dcgan_batch=64, dcgan_width=32, dcgan_eval=1000,
                      extractor_epochs=2, interp_steps=8, nn_queries=200),
        "course": dict(toy_steps=5000, toy_batch=512, toy_hidden=256, toy_lr=1e-3, toy_eval=10000,
                       sat_d_steps=300,
                       dcgan_steps=6000, dcgan_batch=128, dcgan_width=64, dcgan_eval=10000,
                       extractor_epochs=6, interp_steps=10, nn_queries=2000),
        # DCGAN paper: batch 128, Adam 2e-4 beta1 0.5; MNIST for 25 epochs ~ 11.7k steps.
        "paper": dict(toy_steps=25000, toy_batch=512, toy_hidden=256, toy_lr=1e-4, toy_eval=10000,
                      sat_d_steps=500,
                      dcgan_steps=11700, dcgan_batch=128, dcgan_width=64, dcgan_eval=10000,
                      extractor_epochs=10, interp_steps=10, nn_queries=10000),
    },
    "02_improved_techniques": {
        # 12 ablation rows per data set: baseline, +each of 5, all, all minus each.
        # smoke: 16 minibatch kernels, not the paper's 100 (their pairwise L1 is the CPU's bottleneck)
        "smoke": dict(toy_mixtures="grid25", toy_steps=250, toy_batch=64, toy_hidden=128, toy_lr=2e-3,
                      toy_eval=2500, images="mnist", img_steps=60, img_batch=64, img_width=32, img_eval=500,
                      extractor_epochs=2, mbd_kernels=16),
        "course": dict(toy_mixtures="ring8,grid25", toy_steps=2000, toy_batch=256, toy_hidden=128, toy_lr=1e-3,
                       toy_eval=10000, images="cifar10", img_steps=1500, img_batch=100, img_width=64,
                       img_eval=5000, extractor_epochs=8, mbd_kernels=100),
        # Official CIFAR-10 code: batch 100, Adam 3e-4 β1 0.5, 1,200 epochs; here DCGAN-sized nets.
        "paper": dict(toy_mixtures="ring8,grid25", toy_steps=20000, toy_batch=256, toy_hidden=128, toy_lr=1e-4,
                      toy_eval=10000, images="cifar10", img_steps=100000, img_batch=100, img_width=64,
                      img_eval=50000, extractor_epochs=20, mbd_kernels=100),
    },
    "03_semi_supervised": {
        # Official code: batch 100, Adam 3e-3 β1 0.5, 300 epochs of 60,000 (180,000 steps).
        "smoke": dict(steps=300, baseline_steps=300, seeds=1, eval_every=100, batch=100, n_samples=100),
        "course": dict(steps=10000, baseline_steps=3000, seeds=3, eval_every=1000, batch=100, n_samples=100),
        "paper": dict(steps=180000, baseline_steps=20000, seeds=5, eval_every=6000, batch=100, n_samples=100),
    },
    "04_pggan_swd": {
        # kimg: real images shown per ablation row; rows stop earlier at max_seconds of training.
        # swd_n images per SWD (the paper: 16,384); curve_n per point of the SWD-over-time curves.
        "smoke": dict(images="mnist", width=16, z_dim=64, batch=32, kimg=3.2, train_kimg=0.4, fade_kimg=0.4,
                      max_seconds=20, swd_n=256, curve_n=128, curve_every_kimg=0.4, msssim_pairs=500),
        "course": dict(images="cifar10", width=128, z_dim=128, batch=64, kimg=200, train_kimg=25, fade_kimg=25,
                       max_seconds=50, swd_n=10000, curve_n=2000, curve_every_kimg=10, msssim_pairs=10000),
        # Official CIFAR-10 config: fmap_max 128, latent 128, 400k images per phase, 20M in all.
        "paper": dict(images="cifar10", width=128, z_dim=128, batch=64, kimg=20000, train_kimg=400, fade_kimg=400,
                      max_seconds=None, swd_n=16384, curve_n=4096, curve_every_kimg=500, msssim_pairs=10000),
    },
}


def notebooks_with_settings() -> list[str]:
    return sorted(_SETTINGS)


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise CourseError(
            f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)} "
            f"(e.g. python -m gancourse run --profile smoke)")
    return profile


def settings(notebook: str, profile: str, **overrides) -> SimpleNamespace:
    """The hyperparameters of ``notebook`` under ``profile``; ``overrides`` replace single values."""
    check_profile(profile)
    if notebook not in _SETTINGS:
        raise CourseError(f"no settings for notebook {notebook!r}; known: {', '.join(_SETTINGS)}")
    values = dict(_SETTINGS[notebook][profile])
    unknown = set(overrides) - set(values)
    if unknown:
        raise CourseError(f"unknown setting(s) {sorted(unknown)} for {notebook}; known: {sorted(values)}")
    values.update({k: v for k, v in overrides.items() if v is not None})
    return SimpleNamespace(profile=profile, **values)


def pick_device(device: str = "auto", profile: str = "smoke") -> torch.device:
    """``auto`` takes CUDA when present. Asking for CUDA without one, or for the course/paper
    profile on a CPU with device='auto', is an error that names the fix."""
    check_profile(profile)
    has_cuda = torch.cuda.is_available()
    if device == "auto":
        if not has_cuda and profile != "smoke":
            raise CourseError(
                f"profile {profile!r} is sized for a GPU and none was found. Run the smoke profile "
                f"(-p profile smoke), or set device='cpu' to force a (very slow) CPU run.")
        return torch.device("cuda" if has_cuda else "cpu")
    if device.startswith("cuda") and not has_cuda:
        raise CourseError(f"device {device!r} asked for, but torch sees no GPU. "
                          "Set device='auto' or device='cpu' (and profile='smoke').")
    return torch.device(device)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and every GPU)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} threads)"
