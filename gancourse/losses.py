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

from . import CourseError

LOSSES = ("minimax", "non_saturating", "hinge", "wasserstein")


def check_loss(name: str) -> str:
    if name not in LOSSES:
        raise CourseError(f"unknown GAN loss {name!r}; choose one of {', '.join(LOSSES)}")
    return name


def d_loss(name: str, d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """L_D = E f(-D(x)) + E f(D(G(z))) with the loss's f."""
    check_loss(name)
    if name in ("minimax", "non_saturating"):
        return F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
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
    eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device)
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

    def __init__(self, weight: float = 10.0):
        self.weight = weight

    def __call__(self, ctx) -> torch.Tensor:
        return self.weight * gradient_penalty(ctx.D, ctx.real, ctx.fake)


class R1:
    """Trainer hook: γ/2 · r1_penalty."""
    name = "r1"

    def __init__(self, gamma: float = 10.0):
        self.gamma = gamma

    def __call__(self, ctx) -> torch.Tensor:
        return 0.5 * self.gamma * r1_penalty(ctx.D, ctx.real)


def generator_grad_norm(name: str, G, D, z: torch.Tensor) -> float:
    """‖∂L_G/∂θ_G‖₂ of loss ``name`` at noise ``z``: the signal G gets from D."""
    G.zero_grad(set_to_none=True)
    g_loss(name, D(G(z))).backward()
    norm = torch.sqrt(sum(p.grad.pow(2).sum() for p in G.parameters() if p.grad is not None))
    G.zero_grad(set_to_none=True)
    D.zero_grad(set_to_none=True)
    return norm.item()
