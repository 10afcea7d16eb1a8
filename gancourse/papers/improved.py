"""The Improved Techniques of Salimans et al. (2016) as switches, for ablations like their Table 3.

Each technique lives in its own place; this module only says what each one changes in a GAN:

| key  | technique                          | where                                  | changes |
| FM   | feature matching (§3.1)            | ``losses.feature_matching``            | G's loss |
| MBD  | minibatch discrimination (§3.2)    | ``layers.MinibatchDiscrimination``     | D's head |
| HA   | historical averaging (§3.3)        | ``losses.HistoricalAveraging``         | both losses |
| LS   | one-sided label smoothing (§3.4)   | ``losses.d_loss(real_target=0.9)``     | D's loss |
| VBN  | virtual batch norm (§3.5)          | ``layers.VirtualBatchNorm``            | G's normalisation |
| L    | labels: the K+1 classifier (§5)    | ``KPlusOneD`` + ``ssl.LabelledLoss``   | D's head and loss |

Table 3 (``TABLE3``) is the paper's own ablation of sample quality on CIFAR-10: "Our methods" is every
technique *except* feature matching and historical averaging, with labels (D is the K+1 classifier of
notebook 03 on labelled images); each other row takes one thing away (−VBN+BN, −LS, −L, −MBF) or swaps
labels for historical averaging (−L+HA). Every row of it uses the same K-logit head, so the rows differ only
in what the paper varied.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from .. import CourseError
from ..training import losses
from ..data import batches
from ..nn.layers import MinibatchDiscrimination, VirtualBatchNorm, reference_pass
from ..training import Trainer
from .ssl import LabelledLoss

TECHNIQUES = ("FM", "MBD", "HA", "LS", "VBN")
LABELS = "L"

# Table 3 (Salimans et al. 2016): rows, and their CIFAR-10 Inception Scores (50,000 samples; means)
TABLE3 = {"Our methods": ("L", "MBD", "LS", "VBN"), "−VBN+BN": ("L", "MBD", "LS"), "−L+HA": ("MBD", "LS", "VBN", "HA"),
          "−LS": ("L", "MBD", "VBN"), "−L": ("MBD", "LS", "VBN"), "−MBF": ("L", "LS", "VBN")}
# the rows each Table 3 claim compares (I3: −MBF against every other GAN row); a run of some claims trains these alone
TABLE3_CLAIMS = {"I3": tuple(TABLE3), "I4": ("−L+HA", "−L"), "I5": ("−LS", "Our methods"),
                 "I6": ("−VBN+BN", "Our methods"), "I7": ("−L", "Our methods")}
PAPER_IS = {"Real data": 11.24, "Our methods": 8.09, "−VBN+BN": 7.54, "−L+HA": 6.86, "−LS": 6.83, "−L": 4.36, "−MBF": 3.87}


def table3_rows(wants) -> list[str]:
    """Table 3's rows that the claims this run measures compare, in the table's order (``wants``: ``claims.wants``).
    Each row seeds itself (``train_row``), so a row's numbers do not depend on which others ran."""
    need = {row for claim, rows in TABLE3_CLAIMS.items() if wants(claim) for row in rows}
    return [row for row in TABLE3 if row in need]


def paper_ratio(a: str, b: str) -> dict:
    """Table 3's IS of row ``a`` over row ``b``, as a claim declares it: the paper's text and its number."""
    pa, pb = PAPER_IS[a], PAPER_IS[b]
    return dict(paper=f"Table 3: {pa} / {pb} = {pa / pb:.2f}", paper_value=round(pa / pb, 3))


def ablation_rows(techniques=TECHNIQUES) -> dict[str, tuple[str, ...]]:
    """baseline, each technique alone, all together, and all minus each one (Table 3's shape)."""
    rows = {"baseline": ()}
    rows.update({f"+{t}": (t,) for t in techniques})
    rows["all"] = tuple(techniques)
    rows.update({f"all −{t}": tuple(u for u in techniques if u != t) for t in techniques})
    return rows


class WithMinibatchDiscrimination(nn.Module):
    """D with a minibatch-discrimination layer between its features and a new linear head."""

    def __init__(self, D: nn.Module, example: torch.Tensor, kernels: int = 100, kernel_dim: int = 5):
        super().__init__()
        self.D = D
        with torch.no_grad():     # on a copy: D's BatchNorm statistics stay untouched
            feats = copy.deepcopy(D).features(example)
        self.mbd = MinibatchDiscrimination(feats.shape[1], kernels, kernel_dim)
        self.mbd.init_from(feats)  # as the official code does on real data before training
        self.head = nn.Linear(self.mbd.out_features, 1)

    def features(self, x):
        return self.D.features(x)

    def forward(self, x):
        return self.head(self.mbd(self.D.features(x))).squeeze(1)


class KPlusOneD(nn.Module):
    """Table 3's D: D's features, minibatch features when switched on, then K class logits l(x). Its output is
    the real/fake logit log Σ_k exp l_k(x), i.e. D(x) = Z/(Z+1) with l_{K+1} = 0 (§5), so every GAN loss
    (and label smoothing) applies unchanged; ``class_logits`` feeds the labelled loss."""

    def __init__(self, D: nn.Module, example: torch.Tensor, n_classes: int = 10, mbd: bool = True,
                 kernels: int = 100, kernel_dim: int = 5):
        super().__init__()
        self.D = D
        with torch.no_grad():     # on a copy: D's BatchNorm statistics stay untouched
            feats = copy.deepcopy(D).features(example)
        self.mbd = MinibatchDiscrimination(feats.shape[1], kernels, kernel_dim) if mbd else None
        if self.mbd is not None:
            self.mbd.init_from(feats)
        self.head = nn.Linear(self.mbd.out_features if mbd else feats.shape[1], n_classes)

    def features(self, x):
        return self.D.features(x)

    def class_logits(self, x):
        f = self.D.features(x)
        return self.head(self.mbd(f) if self.mbd is not None else f)

    def forward(self, x):
        return torch.logsumexp(self.class_logits(x), 1)


class WithVirtualBatchNorm(nn.Module):
    """G whose BatchNorm layers became VirtualBatchNorm; every call first passes a fixed reference
    noise batch (chosen once, at construction) to collect the reference statistics."""

    def __init__(self, G: nn.Module, z_ref: torch.Tensor):
        super().__init__()
        self.G = swap_batchnorm(G)
        if not any(isinstance(m, VirtualBatchNorm) for m in self.G.modules()):
            raise CourseError("VBN needs a generator with BatchNorm layers to replace (or built with norm='vbn')")
        self.register_buffer("z_ref", z_ref)
        self.z_dim = G.z_dim

    def forward(self, z):
        with reference_pass(self.G):
            self.G(self.z_ref)
        return self.G(z)


def swap_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every BatchNorm1d/2d by a VirtualBatchNorm of the same width (in place)."""
    for name, child in module.named_children():
        if isinstance(child, (nn.BatchNorm1d, nn.BatchNorm2d)):
            setattr(module, name, VirtualBatchNorm(child.num_features))
        else:
            swap_batchnorm(child)
    return module


class LabelSmoothing:
    """Trainer hook (``d_loss_fn``): the cross-entropy D loss with real target α (0.9)."""

    def __init__(self, loss: str = "non_saturating", real_target: float = 0.9):
        self.loss, self.real_target, self.name = loss, real_target, f"ls{real_target:g}"

    def __call__(self, ctx):
        return losses.d_loss(self.loss, ctx.d_real, ctx.d_fake, real_target=self.real_target)


def apply(techniques, G: nn.Module, D: nn.Module, example: torch.Tensor, z_ref: torch.Tensor,
          ha_weight: float = 0.01, mbd_kernels: int = 100, mbd_dim: int = 5, labelled=None, n_classes: int = 0,
          labelled_batch: int = 64):
    """Return (G, D, trainer keyword arguments) with ``techniques`` switched on.

    For VBN, G must contain BatchNorm layers (DCGAN) or be built with norm='vbn' (the 2D MLP). With
    ``n_classes`` D becomes Table 3's ``KPlusOneD`` (minibatch features inside it when MBD is on); "L" then
    adds the labelled loss on ``labelled`` = (images, labels).
    """
    unknown = set(techniques) - {*TECHNIQUES, LABELS}
    if unknown:
        raise CourseError(f"unknown technique(s) {sorted(unknown)}; known: {', '.join((*TECHNIQUES, LABELS))}")
    if LABELS in techniques and (not n_classes or labelled is None):
        raise CourseError("labels (L) need the K+1 head (n_classes > 0) and labelled images: labelled=(x, y)")
    G, D = copy.deepcopy(G), copy.deepcopy(D)
    kw: dict = {"d_terms": [], "g_terms": []}
    if "VBN" in techniques:
        G = WithVirtualBatchNorm(G, z_ref)
    if n_classes:
        D = KPlusOneD(D, example, n_classes, "MBD" in techniques, mbd_kernels, mbd_dim)
    elif "MBD" in techniques:
        D = WithMinibatchDiscrimination(D, example, mbd_kernels, mbd_dim)
    if LABELS in techniques:
        kw["d_terms"].append(LabelledLoss(*labelled, labelled_batch))
    if "FM" in techniques:
        kw["g_loss_fn"] = losses.FeatureMatching()
    if "LS" in techniques:
        kw["d_loss_fn"] = LabelSmoothing()
    if "HA" in techniques:
        kw["d_terms"].append(losses.HistoricalAveraging(D, ha_weight, "ha_d"))
        kw["g_terms"].append(losses.HistoricalAveraging(G, ha_weight, "ha_g"))
    return G, D, kw


def train_row(name: str, techniques, G: nn.Module, D: nn.Module, x: torch.Tensor, steps: int, batch_size: int,
              device="cpu", seed: int = 0, out_dir=None, ha_weight: float = 0.01, mbd_kernels: int = 100,
              data_id: dict | None = None, labelled=None, n_classes: int = 0, **trainer_kw):
    """Train one ablation row: fresh copies of G and D with ``techniques`` applied (same seed for all rows).
    ``data_id`` names the data ``x`` (the trainer knows every other setting); ``labelled`` and ``n_classes``
    make it a Table 3 row (see ``apply``)."""
    torch.manual_seed(seed)
    z_ref = torch.randn(batch_size, G.z_dim, generator=torch.Generator().manual_seed(seed + 1))
    G, D, kw = apply(techniques, G, D, x[:batch_size].cpu(), z_ref, ha_weight, mbd_kernels, labelled=labelled,
                     n_classes=n_classes, labelled_batch=batch_size)
    kw.update(trainer_kw)
    # the 2D-mixture rows (MLPs) train to the same bits at any thread count (tests/test_threads.py): they follow
    # the load; image rows keep the count they start with
    kw.setdefault("thread_free", x.dim() == 2)
    tr = Trainer(G, D, device=device, seed=seed, out_dir=out_dir, desc=name, data_id=data_id, **kw)
    tr.fit(batches(x, batch_size), steps)
    return tr
