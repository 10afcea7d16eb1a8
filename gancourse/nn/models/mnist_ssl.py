"""The semi-supervised MNIST networks of Salimans et al. (2016), as in the official code
(openai/improved-gan, ``train_mnist_feature_matching.py``): a weight-normalised MLP classifier D with
Gaussian noise, and a BN/softplus MLP generator; ``init_weightnorm`` is their data-dependent init."""
from __future__ import annotations

import torch
from torch import nn

from ..layers import GaussianNoise, WNLinear


class MNISTClassifier(nn.Module):
    """D: noise σ=0.3 on the input; weight-normalised dense 1000-500-250-250-250 (ReLU), noise
    σ=0.5 after each; 10 outputs. ``features`` is the last 250-unit layer (for feature matching).
    As in the official code, only the output layer learns its weight scale g; the hidden layers keep
    the g set by the data-dependent initialisation (``init_weightnorm``); directions start at
    θ ~ N(0, 0.1²) (``init_std``), which halves Adam's step relative to ‖θ‖ against N(0, 0.05²)."""

    def __init__(self, n_classes: int = 10, input_noise: float = 0.3, hidden_noise: float = 0.5,
                 init_std: float = 0.1):
        super().__init__()
        layers, d = [nn.Flatten(), GaussianNoise(input_noise)], 784
        for width in (1000, 500, 250, 250, 250):
            layers += [WNLinear(d, width, train_scale=False, init_std=init_std), nn.ReLU(), GaussianNoise(hidden_noise)]
            d = width
        self.body = nn.Sequential(*layers[:-1])           # up to the last 250-unit activations
        self.head = nn.Sequential(GaussianNoise(hidden_noise), WNLinear(d, n_classes, init_std=init_std))

    def features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.head(self.body(x))


def _bn_shift_only(width: int) -> nn.BatchNorm1d:
    """BatchNorm with a learned shift but no learned scale (the official ``batch_norm(..., g=None)``)."""
    bn = nn.BatchNorm1d(width)
    bn.weight.requires_grad_(False)
    return bn


class MNISTGenerator(nn.Module):
    """G: z ~ U[0, 1)^100 (the trainer's z_dist="uniform01") → dense 500, BN, softplus → dense 500, BN, softplus → 784 sigmoid
    (weight-normalised), as in the official code (BN before the nonlinearity, shift but no scale)."""

    def __init__(self, z_dim: int = 100):
        super().__init__()
        self.z_dim = z_dim
        self.net = nn.Sequential(
            nn.Linear(z_dim, 500, bias=False), _bn_shift_only(500), nn.Softplus(),
            nn.Linear(500, 500, bias=False), _bn_shift_only(500), nn.Softplus(),
            WNLinear(500, 784), nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28)))

    def forward(self, z):
        return self.net(z)


@torch.no_grad()
def init_weightnorm(model: nn.Module, x: torch.Tensor) -> None:
    """Data-dependent initialisation of every WNLinear in a model's Sequential parts, in order."""
    for seq in (m for m in model.children() if isinstance(m, nn.Sequential)):
        for layer in seq:
            x = layer.init_from(x) if isinstance(layer, WNLinear) else layer(x)
