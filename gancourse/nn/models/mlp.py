"""MLP generator and discriminator for the 2D mixtures (3 hidden layers, as in the unrolled-GAN /
VEEGAN benchmarks); G can normalise with BatchNorm or virtual batch norm (Salimans et al. 2016)."""
from __future__ import annotations

from torch import nn

from ... import CourseError
from ..layers import VirtualBatchNorm, spectral_norm


class MLPGenerator(nn.Module):
    """``norm``: None, 'bn' (BatchNorm1d) or 'vbn' (VirtualBatchNorm) after each hidden layer."""

    def __init__(self, z_dim: int = 2, hidden: int = 128, out_dim: int = 2, depth: int = 3, norm: str | None = None):
        super().__init__()
        norms = {None: lambda: nn.Identity(), "bn": lambda: nn.BatchNorm1d(hidden),
                 "vbn": lambda: VirtualBatchNorm(hidden)}
        if norm not in norms:
            raise CourseError(f"norm must be None, 'bn' or 'vbn', not {norm!r}")
        layers, d = [], z_dim
        for _ in range(depth):
            layers += [nn.Linear(d, hidden), norms[norm](), nn.ReLU()]
            d = hidden
        self.net = nn.Sequential(*layers, nn.Linear(d, out_dim))
        self.z_dim = z_dim

    def forward(self, z):
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """``sn``: spectral normalisation on every linear layer (Miyato et al. 2018)."""

    def __init__(self, in_dim: int = 2, hidden: int = 128, depth: int = 3, sn: bool = False):
        super().__init__()
        wrap = spectral_norm if sn else (lambda m: m)
        layers, d = [], in_dim
        for _ in range(depth):
            layers += [wrap(nn.Linear(d, hidden)), nn.LeakyReLU(0.2)]
            d = hidden
        self.body = nn.Sequential(*layers)
        self.head = wrap(nn.Linear(d, 1))

    def features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.head(self.features(x)).squeeze(1)
