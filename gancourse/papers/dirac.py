"""The Dirac-GAN (Mescheder, Geiger & Nowozin 2018, §2.2): the smallest GAN that shows why training
oscillates, and what makes it converge.

The data is a point mass at 0; G produces a point mass at θ; D is linear, D(x) = ψ·x. With the
GAN objective L(θ, ψ) = f(ψθ) + f(0) (f(t) = −log(1 + e^{−t}) for the standard GAN, f(t) = t for
WGAN) the unique equilibrium is (θ, ψ) = (0, 0), and the gradient vector field is

    v(θ, ψ) = ( −ψ f′(ψθ),  θ f′(ψθ) )            (eq. 4: G descends, D ascends)

whose Jacobian at the equilibrium has purely imaginary eigenvalues ±i f′(0): gradient descent
circles the equilibrium (continuous time), or spirals away from it (simultaneous steps). The
zero-centred gradient penalty R1 = γ/2 ‖∇_x D‖² = γ/2 ψ² on the data adds −γψ to ψ's update and makes
the eigenvalues' real parts negative: the iterates converge. WGAN-GP's penalty γ(|ψ| − 1)² pulls |ψ|
to 1, not 0, so it cannot stop at the equilibrium (§3.2).
"""
from __future__ import annotations

import numpy as np

from .. import CourseError

REGULARISERS = ("none", "r1", "wgan-gp")
LOSSES = ("gan", "wgan")


def f_prime(loss: str, t):
    """f′(t): the standard GAN's f(t) = −log(1 + e^{−t}) has f′(t) = σ(−t); WGAN's f(t) = t has f′ = 1."""
    if loss == "gan":
        return 1.0 / (1.0 + np.exp(t))
    if loss == "wgan":
        return np.ones_like(np.asarray(t, dtype=float))
    raise CourseError(f"unknown Dirac-GAN loss {loss!r}; choose one of {', '.join(LOSSES)}")


def vector_field(theta, psi, loss: str = "gan", regulariser: str = "none", gamma: float = 1.0):
    """(θ̇, ψ̇) = (−ψ f′(ψθ), θ f′(ψθ) − ∂penalty/∂ψ): the direction gradient descent on G and ascent
    on D moves the parameters. R1 (on the data at 0): penalty γ/2 ψ², so −γψ. WGAN-GP: penalty
    γ(|ψ| − 1)² on interpolates (‖∇_x D‖ = |ψ| everywhere), so −2γ(|ψ| − 1) sign(ψ)."""
    theta, psi = np.asarray(theta, dtype=float), np.asarray(psi, dtype=float)
    fp = f_prime(loss, psi * theta)
    d_theta, d_psi = -psi * fp, theta * fp
    if regulariser == "r1":
        d_psi = d_psi - gamma * psi
    elif regulariser == "wgan-gp":
        d_psi = d_psi - 2 * gamma * (np.abs(psi) - 1) * np.sign(psi)
    elif regulariser != "none":
        raise CourseError(f"unknown regulariser {regulariser!r}; choose one of {', '.join(REGULARISERS)}")
    return d_theta, d_psi


def trajectory(theta0: float = 1.0, psi0: float = 1.0, steps: int = 500, lr: float = 0.1, loss: str = "gan",
               regulariser: str = "none", gamma: float = 1.0, alternating: bool = True) -> np.ndarray:
    """Gradient steps from (θ₀, ψ₀): simultaneous, or alternating (D first, then G with D's new ψ,
    as GANs are trained). Returns the (steps + 1, 2) path."""
    path = np.empty((steps + 1, 2))
    th, ps = float(theta0), float(psi0)
    path[0] = th, ps
    for i in range(steps):
        if alternating:
            ps = ps + lr * vector_field(th, ps, loss, regulariser, gamma)[1]
            th = th + lr * vector_field(th, ps, loss, regulariser, gamma)[0]
        else:
            dth, dps = vector_field(th, ps, loss, regulariser, gamma)
            th, ps = th + lr * dth, ps + lr * dps
        path[i + 1] = th, ps
    return path


def distance_to_equilibrium(path: np.ndarray) -> np.ndarray:
    """‖(θ, ψ)‖ along a path (the equilibrium is the origin)."""
    return np.hypot(path[:, 0], path[:, 1])
