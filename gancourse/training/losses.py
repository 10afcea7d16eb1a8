"""The GAN objective with f, and the penalties that regularise D.

With D's raw output (a logit or critic value) d, the discriminator minimises
    L_D = E_x f(-D(x)) + E_z f(D(G(z)))
and the generator either maximises L_D (minimax, Goodfellow et al. 2014, eq. 1) or minimises a
surrogate. The choice of f names the loss:

| name            | f(t) for D              | G minimises            | source |
| minimax         | softplus(t)             | -E softplus(D(G(z)))   | Goodfellow et al. 2014, eq. 1 |
| non_saturating  | softplus(t)             | E softplus(-D(G(z)))   | Goodfellow et al. 2014, §3 |
| hinge           | max(0, 1 + t)           | -E D(G(z))             | Lim & Ye 2017; Miyato et al. 2018 |
| wasserstein     | t                       | -E D(G(z))             | Arjovsky et al. 2017 |

softplus(t) = log(1 + e^t), so softplus(-d) = -log σ(d) and softplus(d) = -log(1 - σ(d)).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import CourseError
from .ranks import global_rand

LOSSES = ("minimax", "non_saturating", "hinge", "wasserstein")


def check_loss(name: str) -> str:
    if name not in LOSSES:
        raise CourseError(f"unknown GAN loss {name!r}; choose one of {', '.join(LOSSES)}")
    return name


def d_loss(name: str, d_real: torch.Tensor, d_fake: torch.Tensor, real_target: float = 1.0) -> torch.Tensor:
    """L_D = E f(-D(x)) + E f(D(G(z))) with the loss's f.

    ``real_target`` < 1 is one-sided label smoothing (Salimans et al. 2016, §3.4): the real
    target becomes α (0.9 in the paper) while fakes keep 0, i.e. -α log σ(d) - (1-α) log(1-σ(d)).
    """
    check_loss(name)
    if real_target != 1.0 and name not in ("minimax", "non_saturating"):
        raise CourseError("label smoothing applies to the minimax / non-saturating (cross-entropy) losses")
    if name in ("minimax", "non_saturating"):
        real = real_target * F.softplus(-d_real) + (1 - real_target) * F.softplus(d_real)
        return real.mean() + F.softplus(d_fake).mean()
    if name == "hinge":
        return F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
    return d_fake.mean() - d_real.mean()


def g_loss(name: str, d_fake: torch.Tensor) -> torch.Tensor:
    """The generator's loss on D's output for generated samples."""
    check_loss(name)
    if name == "minimax":          # minimise log(1 - D(G(z))): saturates when D is confident
        return -F.softplus(d_fake).mean()
    if name == "non_saturating":   # maximise log D(G(z)) instead
        return F.softplus(-d_fake).mean()
    return -d_fake.mean()          # hinge and Wasserstein generators


def g_logit_gradient(name: str, d_fake: torch.Tensor) -> torch.Tensor:
    """|∂ℓ_G/∂d| per sample: how much signal G receives through each fake logit d.

    For minimax this is σ(d) = D(G(z)), which vanishes when D rejects fakes confidently;
    for non-saturating it is 1 - σ(d), which is largest exactly then.
    """
    d = d_fake.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(g_loss(name, d) * d.numel(), d)
    return g.abs()


def gradient_penalty(D, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al. 2017, eq. 3): E (||∇_x̂ D(x̂)||₂ - 1)², x̂ on lines real↔fake."""
    eps = global_rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


def r1_penalty(D, real: torch.Tensor) -> torch.Tensor:
    """Zero-centred R1 (Mescheder et al. 2018, eq. 9): E ||∇_x D(x)||² on real data (times γ/2 by the caller)."""
    x = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    return grad.flatten(1).pow(2).sum(dim=1).mean()


class WGANGP:
    """Trainer hook: λ · gradient_penalty, λ = 10 in the paper."""
    name = "gp"
    double_backward = True          # differentiates D's gradient: D stays eager on the fast path

    def __init__(self, weight: float = 10.0):
        self.weight = weight

    def __call__(self, ctx) -> torch.Tensor:
        return self.weight * gradient_penalty(ctx.critic, ctx.real, ctx.fake)


class Drift:
    """Trainer hook: ε_drift · E_x[D(x)²] on real data, ε = 0.001, keeps the critic's values from drifting
    far from zero (Karras et al. 2018, Appendix A.1)."""
    name = "drift"

    def __init__(self, eps: float = 0.001):
        self.eps = eps

    def __call__(self, ctx) -> torch.Tensor:
        return self.eps * ctx.d_real.pow(2).mean()


def r2_penalty(D, fake: torch.Tensor) -> torch.Tensor:
    """R2 (Mescheder et al. 2018, eq. 10): the same on generated data, E ||∇_x D(x)||² at x = G(z)."""
    return r1_penalty(D, fake)


class R1:
    """Trainer hook: γ/2 · E||∇D(x)||² on reals (Mescheder et al. 2018, eq. 9). Conventions differ by 2×:
    this γ is theirs and StyleGAN's; code that writes γ·E||∇D||² means our 2γ."""
    name = "r1"
    double_backward = True

    def __init__(self, gamma: float = 10.0):
        self.gamma = gamma

    def __call__(self, ctx) -> torch.Tensor:
        return 0.5 * self.gamma * r1_penalty(ctx.critic, ctx.real)


class R2(R1):
    """Trainer hook: γ/2 · E||∇D(G(z))||² on fakes (Mescheder et al. 2018, eq. 10)."""
    name = "r2"

    def __call__(self, ctx) -> torch.Tensor:
        return 0.5 * self.gamma * r2_penalty(ctx.critic, ctx.fake)


class WeightClipping:
    """Trainer ``d_constraint``: clamp every weight of D to [−c, c] after each D step (Arjovsky et al.
    2017, Algorithm 1, c = 0.01): the original WGAN's crude way to keep the critic Lipschitz."""

    def __init__(self, c: float = 0.01):
        self.c = c

    @torch.no_grad()
    def __call__(self, D) -> None:
        for p in D.parameters():
            p.clamp_(-self.c, self.c)


def generator_grad_norm(name: str, G, D, z: torch.Tensor) -> float:
    """‖∂L_G/∂θ_G‖₂ of loss ``name`` at noise ``z``: the signal G gets from D."""
    G.zero_grad(set_to_none=True)
    g_loss(name, D(G(z))).backward()
    norm = torch.sqrt(sum(p.grad.pow(2).sum() for p in G.parameters() if p.grad is not None))
    G.zero_grad(set_to_none=True)
    D.zero_grad(set_to_none=True)
    return norm.item()


def feature_matching(f_real: torch.Tensor, f_fake: torch.Tensor, reduction: str = "sum") -> torch.Tensor:
    """‖E f(x) − E f(G(z))‖²₂ on an intermediate layer f of D (Salimans et al. 2016, §3.1, eq. 4).

    ``reduction="mean"`` averages the squares instead, as the official code does. The scale is not
    free under Adam: G's gradients are 1/F as large, so Adam's ε weighs F times more (notebook 03).
    """
    sq = (f_real.detach().mean(0) - f_fake.mean(0)).pow(2)
    if reduction not in ("sum", "mean"):
        raise ValueError(f"reduction must be 'sum' or 'mean', not {reduction!r}")
    return sq.sum() if reduction == "sum" else sq.mean()


class FeatureMatching:
    """Trainer hook (``g_loss_fn``): G minimises feature matching on D.features, against the real batch of
    D's step, or against a batch of its own from ``real_batches`` (the official K+1 code: a second
    permutation of the unlabelled data)."""
    name = "feature_matching"

    def __init__(self, reduction: str = "sum", real_batches=None):
        self.reduction, self.real_batches = reduction, real_batches

    def describe(self) -> dict:
        own = getattr(self.real_batches, "identity", None) if self.real_batches is not None else None
        return {"hook": "losses.FeatureMatching", "reduction": self.reduction, "own_real_batches": own}

    def __call__(self, ctx) -> torch.Tensor:
        real = next(self.real_batches) if self.real_batches is not None else ctx.real
        return feature_matching(ctx.D.features(real), ctx.D.features(ctx.fake), self.reduction)


class HistoricalAveraging:
    """‖θ − (1/t) Σ_{i≤t} θ[i]‖² over a player's parameters (Salimans et al. 2016, §3.3), times a weight.

    Trainer hook: add one instance to ``d_terms`` (for D's parameters) and one to ``g_terms`` (for G's).
    The history starts at the first call (on the device the module then lives on) and is saved in
    the trainer's checkpoints through ``state_dict``.
    """

    def __init__(self, module: torch.nn.Module, weight: float = 1.0, name: str = "hist_avg"):
        self.module, self.weight, self.name = module, weight, name
        self.mean, self.t = None, 0

    def __call__(self, ctx=None) -> torch.Tensor:
        params = list(self.module.parameters())
        if self.mean is None:
            self.mean, self.t = [p.detach().clone() for p in params], 1
        penalty = sum((p - m).pow(2).sum() for p, m in zip(params, self.mean))
        self.t += 1
        with torch.no_grad():
            for p, m in zip(params, self.mean):
                m.add_((p.detach() - m) / self.t)
        return self.weight * penalty

    def describe(self) -> dict:
        return {"hook": "historical averaging", "name": self.name, "weight": self.weight}

    def state_dict(self) -> dict:
        return {"mean": self.mean, "t": self.t}

    def load_state_dict(self, state: dict) -> None:
        device = next(self.module.parameters()).device
        self.mean = None if state["mean"] is None else [m.to(device) for m in state["mean"]]
        self.t = state["t"]
