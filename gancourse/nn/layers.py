"""Layers named by the papers, one class each, with the equation they implement.

- ``MinibatchDiscrimination`` — Salimans et al. 2016, §3.2
- ``VirtualBatchNorm`` (+ ``reference_pass``) — Salimans et al. 2016, §3.4
- ``GaussianNoise`` — additive noise in D, as in the official semi-supervised MNIST code
- ``WNLinear`` — weight normalisation (Salimans & Kingma 2016) with data-dependent initialisation
- ``EqualizedConv2d``, ``EqualizedLinear`` — equalized learning rate (Karras et al. 2018, §4.1)
- ``PixelNorm`` — pixelwise feature vector normalisation (Karras et al. 2018, §4.2, eq. 1)
- ``MinibatchStdDev`` — minibatch standard deviation (Karras et al. 2018, §3)
- ``spectral_norm``, ``power_iteration``, ``spectral_norms`` — spectral normalisation (Miyato et al. 2018, §2.1)
- ``SelfAttention`` — the SAGAN block (Zhang et al. 2019, §3, eq. 1–3)
- ``ConditionalBatchNorm2d`` — class-conditional BatchNorm (de Vries et al. 2017; BigGAN)
"""
from __future__ import annotations

import math
from contextlib import contextmanager

import torch
from torch import nn
from torch.nn import functional as F


class MinibatchDiscrimination(nn.Module):
    """M_i = f(x_i)·T (T ∈ R^{A×B×C}); c_b(x_i, x_j) = exp(-‖M_{i,b} - M_{j,b}‖_L1);
    o(x_i)_b = Σ_{j≠i} c_b(x_i, x_j); returns [f(x_i), o(x_i)] ∈ R^{A+B} (Salimans et al. 2016, §3.2).

    As the official code (``MinibatchLayer``, openai/improved-gan ``nn.py``) builds it: the paper's B = 100
    kernels of dimension C = 5, T weight-normalised (T = θ · e^s / ‖θ‖, θ from N(0, 0.05²), one scale per
    column) and initialised from data by ``init_from``: each kernel scaled so that a real batch's mean
    nearest-neighbour L1 distance is 2, and the bias set so that o has mean 0 on it (−1 before that).
    """

    def __init__(self, in_features: int, kernels: int = 100, kernel_dim: int = 5):
        super().__init__()
        self.theta = nn.Parameter(torch.randn(in_features, kernels * kernel_dim) * 0.05)
        self.log_scale = nn.Parameter(torch.zeros(kernels * kernel_dim))
        self.bias = nn.Parameter(torch.full((kernels,), -1.0))
        self.kernels, self.kernel_dim = kernels, kernel_dim
        self.out_features = in_features + kernels

    @property
    def T(self) -> torch.Tensor:
        """The paper's tensor T, flattened to (A, B·C)."""
        return self.theta * (self.log_scale.exp() / self.theta.norm(dim=0))

    def l1(self, f: torch.Tensor) -> torch.Tensor:
        """(B, n, n): ‖M_{i,b} - M_{j,b}‖_L1 for every kernel b (cdist: 2-3× faster than broadcasting on a CPU)."""
        M = (f @ self.T).view(-1, self.kernels, self.kernel_dim).transpose(0, 1)   # (B, n, C)
        return torch.cdist(M, M, p=1)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        self_mask = torch.eye(len(f), device=f.device, dtype=torch.bool)
        o = torch.exp(-self.l1(f)).masked_fill(self_mask, 0.0).sum(2).transpose(0, 1)      # (n, B)
        return torch.cat([f, o + self.bias], dim=1)

    @torch.no_grad()
    def init_from(self, f: torch.Tensor) -> None:
        """The official data-dependent initialisation, on features f of a real batch."""
        l1 = self.l1(f) + torch.eye(len(f), device=f.device) * 1e6          # j = i never the nearest
        mean_min = (0.5 * l1.min(2).values.mean(1)).clamp_min(1e-8)          # (B,)
        self.log_scale.sub_(mean_min.log().repeat_interleave(self.kernel_dim))
        self.bias.zero_()
        self.bias.copy_(-self(f)[:, -self.kernels:].mean(0))


class VirtualBatchNorm(nn.Module):
    """Normalise each example with the statistics of a fixed reference batch plus itself
    (Salimans et al. 2016, §3.4): μ = (x̄_i + n·μ_ref)/(n+1), likewise E[x²]; then γ(x-μ)/σ + β.

    The reference batch is chosen once; its statistics are recomputed with the current weights by
    running it first inside ``reference_pass(model)``, as the official code does.
    """

    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(num_features))
        self.beta = nn.Parameter(torch.zeros(num_features))
        self.eps = eps
        self.capturing = False
        self.ref = None  # (mean, mean of squares, n) of the reference batch at this layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = (1, -1) + (1,) * (x.dim() - 2)          # broadcast per channel
        spatial = tuple(range(2, x.dim()))
        if self.capturing:                              # the reference batch: its own statistics
            mean, meansq = x.mean((0, *spatial)), x.pow(2).mean((0, *spatial))
            self.ref = (mean, meansq, x.shape[0])
            mean, meansq = mean.view(shape), meansq.view(shape)
        elif self.ref is None:
            raise RuntimeError("VirtualBatchNorm: run the model once inside reference_pass(model) first")
        else:                                           # each example joins the reference batch
            ref_mean, ref_meansq, n = self.ref
            xm = x.mean(spatial, keepdim=True) if spatial else x
            xsq = x.pow(2).mean(spatial, keepdim=True) if spatial else x.pow(2)
            w = 1.0 / (n + 1)
            mean = w * xm + (1 - w) * ref_mean.view(shape)
            meansq = w * xsq + (1 - w) * ref_meansq.view(shape)
        var = (meansq - mean.pow(2)).clamp_min(0)
        return (x - mean) * torch.rsqrt(var + self.eps) * self.gamma.view(shape) + self.beta.view(shape)


@contextmanager
def reference_pass(model: nn.Module):
    """Inside, every VirtualBatchNorm of ``model`` records the statistics of what passes through."""
    vbns = [m for m in model.modules() if isinstance(m, VirtualBatchNorm)]
    for m in vbns:
        m.capturing = True
    try:
        yield
    finally:
        for m in vbns:
            m.capturing = False


class GaussianNoise(nn.Module):
    """x + N(0, σ²) while training; identity in eval mode."""

    def __init__(self, sigma: float):
        super().__init__()
        self.sigma = sigma

    def forward(self, x):
        return x + self.sigma * torch.randn_like(x) if self.training and self.sigma > 0 else x


class WNLinear(nn.Module):
    """y = g · (v·x)/‖v‖ + b (Salimans & Kingma 2016). ``init_from(x)`` sets g and b so that the
    outputs on a batch x have zero mean and unit variance per unit (data-dependent initialisation).
    v starts at N(0, init_std²): the output does not depend on ‖v‖, but Adam's step relative to ‖v‖ does."""

    def __init__(self, in_features: int, out_features: int, train_scale: bool = True, init_std: float = 0.05):
        super().__init__()
        self.v = nn.Parameter(torch.randn(out_features, in_features) * init_std)
        self.g = nn.Parameter(torch.ones(out_features), requires_grad=train_scale)
        self.b = nn.Parameter(torch.zeros(out_features))

    def forward(self, x):
        w = self.v * (self.g / self.v.norm(dim=1)).unsqueeze(1)
        return nn.functional.linear(x, w, self.b)

    @torch.no_grad()
    def init_from(self, x: torch.Tensor) -> torch.Tensor:
        self.g.fill_(1.0)
        self.b.zero_()
        y = self(x)
        m, s = y.mean(0), y.std(0) + 1e-6
        self.g.copy_(1.0 / s)
        self.b.copy_(-m / s)
        return self(x)


class EqualizedConv2d(nn.Module):
    """ŵ_i = w_i / c, c = per-layer He constant: weights start at N(0, 1) and are scaled at run time
    by gain/√fan_in, so Adam's per-weight step is the same for every layer (Karras et al. 2018, §4.1).

    ``equalized=False`` is the usual He initialisation (weights N(0, gain²/fan_in), no run-time scale),
    the "without EqLR" rows of the ablation.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, gain: float = math.sqrt(2),
                 equalized: bool = True):
        super().__init__()
        he = gain / math.sqrt(in_channels * kernel_size * kernel_size)
        self.scale = he if equalized else 1.0
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size)
                                   * (1.0 if equalized else he))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.padding = kernel_size // 2

    def forward(self, x):
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class EqualizedLinear(nn.Module):
    """The dense layer with the same equalized learning rate as ``EqualizedConv2d``."""

    def __init__(self, in_features: int, out_features: int, gain: float = math.sqrt(2), equalized: bool = True):
        super().__init__()
        he = gain / math.sqrt(in_features)
        self.scale = he if equalized else 1.0
        self.weight = nn.Parameter(torch.randn(out_features, in_features) * (1.0 if equalized else he))
        self.bias = nn.Parameter(torch.zeros(out_features))

    def forward(self, x):
        return F.linear(x, self.weight * self.scale, self.bias)


class PixelNorm(nn.Module):
    """b_{x,y} = a_{x,y} / sqrt(1/N Σ_j (a^j_{x,y})² + ε), ε = 1e-8: each pixel's feature vector to unit
    length, after every conv of G (Karras et al. 2018, §4.2, eq. 1)."""

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + self.eps)


class MinibatchStdDev(nn.Module):
    """Std of each feature at each pixel over a group of ``group_size`` samples, averaged over features
    and pixels to one number per group, appended as one constant feature map (Karras et al. 2018, §3).
    The batch must be divisible by the group size (or smaller than it)."""

    def __init__(self, group_size: int = 4):
        super().__init__()
        self.group_size = group_size

    def forward(self, x):
        n, c, h, w = x.shape
        g = min(self.group_size, n)
        if n % g:
            raise ValueError(f"minibatch stddev: batch {n} is not divisible by the group size {g}")
        y = x.view(g, -1, c, h, w)                                      # [G, M, C, H, W]; sample i in group i % M
        y = (y - y.mean(0, keepdim=True)).pow(2).mean(0).add(1e-8).sqrt()  # [M, C, H, W] std over the group
        y = y.mean((1, 2, 3), keepdim=True)                             # [M, 1, 1, 1]
        return torch.cat([x, y.repeat(g, 1, h, w)], dim=1)


def power_iteration(W: torch.Tensor, u: torch.Tensor, n: int = 1, eps: float = 1e-12):
    """σ(W) by power iteration (Miyato et al. 2018, Algorithm 1): v ← Wᵀu/‖Wᵀu‖, u ← Wv/‖Wv‖,
    σ ≈ uᵀWv. ``W`` is reshaped to (out, −1); ``u`` persists between training steps, so one
    iteration a step suffices. Returns (σ, u, v)."""
    W = W.reshape(W.shape[0], -1)
    for _ in range(n):
        v = F.normalize(W.t() @ u, dim=0, eps=eps)
        u = F.normalize(W @ v, dim=0, eps=eps)
    return u @ W @ v, u, v


def spectral_norm(module: nn.Module) -> nn.Module:
    """W_SN = W / σ(W), σ from one power iteration per forward pass with a persistent u: torch's own
    parametrisation (``torch.nn.utils.parametrizations.spectral_norm``), the algorithm of ``power_iteration``."""
    return nn.utils.parametrizations.spectral_norm(module, n_power_iterations=1)


@torch.no_grad()
def spectral_norms(model: nn.Module, iterations: int = 50) -> dict[str, float]:
    """σ of the weight each conv/linear layer of ``model`` actually uses (after spectral normalisation,
    if any), measured by a long power iteration from a fixed start: ≈ 1 for normalised layers.
    (Call it with the model in eval mode: in training mode reading an SN weight advances its u.)
    A transposed convolution keeps its output channels in dimension 1, so its matrix has those as rows,
    as torch's spectral norm normalises it (``dim=1``)."""
    out = {}
    for name, m in model.named_modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            W = m.weight.detach().movedim(1 if isinstance(m, nn.ConvTranspose2d) else 0, 0)
            u = torch.ones(W.shape[0], device=W.device) / W.shape[0] ** 0.5
            out[name] = power_iteration(W, u, iterations)[0].item()
    return out


class SelfAttention(nn.Module):
    """SAGAN (Zhang et al. 2019, §3): f = W_f x, g = W_g x (C/8 channels), h = W_h x (1×1 convs);
    β = softmax over positions of fᵀg; o = W_v (h β); y = γ·o + x with a learned γ that starts at 0,
    so the block starts as the identity and learns how much non-local evidence to use."""

    def __init__(self, channels: int, sn: bool = False):
        super().__init__()
        wrap = spectral_norm if sn else (lambda m: m)
        k = max(1, channels // 8)
        self.f, self.g = wrap(nn.Conv2d(channels, k, 1, bias=False)), wrap(nn.Conv2d(channels, k, 1, bias=False))
        self.h = wrap(nn.Conv2d(channels, channels // 2 or 1, 1, bias=False))
        self.v = wrap(nn.Conv2d(channels // 2 or 1, channels, 1, bias=False))
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        n, c, hh, ww = x.shape
        f, g, h = self.f(x).flatten(2), self.g(x).flatten(2), self.h(x).flatten(2)    # (n, k, N), (n, k, N), (n, c/2, N)
        beta = torch.softmax(f.transpose(1, 2) @ g, dim=1)                              # (n, N, N): over positions i
        o = self.v((h @ beta).view(n, -1, hh, ww))
        return x + self.gamma * o


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm without its own affine, then a per-class gain and bias: γ_y·BN(x) + β_y (gains start at 1)."""

    def __init__(self, channels: int, n_classes: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Embedding(n_classes, channels)
        self.bias = nn.Embedding(n_classes, channels)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x, y):
        return self.gain(y)[:, :, None, None] * self.bn(x) + self.bias(y)[:, :, None, None]
