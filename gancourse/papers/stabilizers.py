"""The survey's stabilizers as switches on one model, and what to watch while it trains.

| key    | stabilizer                                  | where                                   | changes |
| none   | the non-saturating GAN, nothing else        | ``losses.d_loss``                       | —       |
| wgan-gp| Wasserstein loss + gradient penalty λ = 10  | ``losses.WGANGP`` (Gulrajani et al. 2017, eq. 3) | D's loss |
| sn     | spectral normalisation of D, hinge loss     | ``layers.spectral_norm`` (Miyato et al. 2018)    | D's layers |
| r1     | non-saturating + zero-centred R1, γ = 10    | ``losses.R1`` (Mescheder et al. 2018, eq. 9)     | D's loss |
| clip   | Wasserstein loss + weight clipping c = 0.01 | ``losses.WeightClipping`` (Arjovsky et al. 2017) | D's weights |

``Diagnostics`` is a trainer callback that records, every ``every`` steps, the norm of D's gradient
at real images (what R1 and WGAN-GP penalise) and the spectral norm of each of D's layers (what SN
fixes at 1).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import CourseError
from ..training import losses
from ..data import batches
from ..nn.layers import spectral_norms
from ..nn.models.sngan import ResNetDiscriminator, ResNetGenerator, SNDCGANDiscriminator, SNDCGANGenerator
from ..training import Trainer

VARIANTS = ("none", "wgan-gp", "sn", "r1", "clip")


def variant(name: str, r1_gamma: float = 10.0, gp_weight: float = 10.0) -> dict:
    """The loss, D's spectral normalisation and the hooks of one stabilizer (see the table above)."""
    table = {
        "none": dict(loss="non_saturating", sn=False),
        "wgan-gp": dict(loss="wasserstein", sn=False, d_terms=[losses.WGANGP(gp_weight)]),
        "sn": dict(loss="hinge", sn=True),
        "r1": dict(loss="non_saturating", sn=False, d_terms=[losses.R1(r1_gamma)]),
        "clip": dict(loss="wasserstein", sn=False, d_constraint=losses.WeightClipping(0.01)),
    }
    if name not in table:
        raise CourseError(f"unknown stabilizer {name!r}; choose one of {', '.join(VARIANTS)}")
    return dict(table[name])


def feature_dim(width: int, channels: int, size: int) -> int:
    """The size of the SNDCGAN discriminator's ``features`` (for a projection head on them)."""
    return SNDCGANDiscriminator(width, channels, size, sn=False).head.in_features


def sndcgan(name: str, width: int, channels: int, size: int, z_dim: int = 128, attention: bool = False):
    """(G, D, trainer keyword arguments) of the SNDCGAN with stabilizer ``name``."""
    v = variant(name)
    sn = v.pop("sn")
    G = SNDCGANGenerator(z_dim, width, channels, size, attention=attention)
    D = SNDCGANDiscriminator(width, channels, size, sn=sn, attention=attention)
    return G, D, v


def input_grad_norm(D, x: torch.Tensor) -> float:
    """Mean ‖∇_x D(x)‖ over a batch: how steep D is at the data."""
    x = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(D(x).sum(), x)
    return g.flatten(1).norm(dim=1).mean().item()


class _Evaluating:
    """D in eval mode while measuring: no power-iteration update of SN's u, no side effects on training."""

    def __init__(self, D):
        self.D, self.was = D, D.training

    def __enter__(self):
        self.D.eval()

    def __exit__(self, *exc):
        self.D.train(self.was)


class Diagnostics:
    """Trainer callback: every ``every`` steps, D's input-gradient norm at the step's reals and the
    largest spectral norm over D's layers; ``records`` keeps them (and they go to the log)."""

    def __init__(self, every: int):
        self.every = every
        self.records: list[dict] = []

    def __call__(self, trainer, ctx) -> dict | None:
        if (trainer.step + 1) % self.every:
            return None
        with trainer.paused(), _Evaluating(trainer.D):
            sigma = spectral_norms(trainer.D, iterations=20)
            rec = {"step": trainer.step + 1, "grad_norm": input_grad_norm(ctx.critic, ctx.real),
                   "sigma_max": max(sigma.values()), "sigma": sigma}
        self.records.append(rec)
        return {"grad_norm": rec["grad_norm"], "sigma_max": rec["sigma_max"]}

    def state_dict(self) -> dict:
        return {"records": self.records}

    def load_state_dict(self, state: dict) -> None:
        self.records = list(state["records"])


def train(name: str, x: torch.Tensor, steps: int, batch_size: int, width: int, *, labels: torch.Tensor | None = None,
          n_classes: int = 0, attention: bool = False, lr: float = 2e-4, betas=(0.5, 0.999), z_dim: int = 128,
          callbacks=(), device="cpu", seed: int = 0, out_dir=None, data_id: dict | None = None,
          progress: bool = True, desc: str | None = None, **trainer_kw) -> "Run":
    """Train one stabilizer on images ``x`` (floats in [−1, 1], on ``device``), Miyato et al.'s setting
    "C" (Adam 2e-4, β = (0.5, 0.999), one D step per G step) so that every variant has the same budget.
    With ``n_classes`` the model is the conditional ResNet pair (conditional BN, projection D, hinge +
    SN: the BigGAN recipe); otherwise the SNDCGAN with stabilizer ``name``. ``trainer_kw`` reach the
    Trainer (``augment``, ``augment_fakes``; ``d_terms`` join the stabilizer's own)."""
    torch.manual_seed(seed)
    channels, size = x.shape[1], x.shape[-1]
    if n_classes:
        G = ResNetGenerator(z_dim, width, channels, size, n_classes=n_classes, attention=attention)
        D = ResNetDiscriminator(width, channels, size, n_classes=n_classes, sn=True, attention=attention)
        kw = dict(loss="hinge")
    else:
        G, D, kw = sndcgan(name, width, channels, size, z_dim, attention)
    kw["d_terms"] = [*kw.get("d_terms", []), *trainer_kw.pop("d_terms", [])]
    every = max(1, steps // 10)
    diag = Diagnostics(every)
    tr = Trainer(G, D, lr=lr, betas=betas, n_classes=n_classes, callbacks=[diag, *callbacks], device=device,
                 seed=seed, out_dir=out_dir, ckpt_every=every, log_every=max(1, steps // 100), progress=progress,
                 desc=desc or f"{name}{' +SA' if attention else ''} w{width} b{batch_size}", data_id=data_id,
                 **kw, **trainer_kw)
    tr.fit(batches(x, batch_size, labels=labels), steps)
    return Run(tr, diag, [cb for cb in callbacks])


@dataclass
class Run:
    trainer: Trainer
    diagnostics: Diagnostics
    callbacks: list
