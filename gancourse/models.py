"""Generators and discriminators: MLPs for the 2D mixtures, DCGAN for 28×28 and 32×32 images, and
PGGAN's growing pair (``ProGenerator``, ``ProDiscriminator``) whose ``lod`` says how far they have grown.

Every discriminator returns one raw score per sample (a logit, or a critic value for WGAN) and
exposes ``features(x)``: the penultimate activations, used by linear probes and feature matching.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from . import CourseError
from .layers import EqualizedConv2d, EqualizedLinear, MinibatchStdDev, PixelNorm, VirtualBatchNorm


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
    def __init__(self, in_dim: int = 2, hidden: int = 128, depth: int = 3):
        super().__init__()
        layers, d = [], in_dim
        for _ in range(depth):
            layers += [nn.Linear(d, hidden), nn.LeakyReLU(0.2)]
            d = hidden
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(d, 1)

    def features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.head(self.features(x)).squeeze(1)


def _start_size(size: int) -> int:
    if size not in (28, 32):
        raise CourseError(f"DCGAN here is built for 28x28 or 32x32 images, not {size}x{size}")
    return 7 if size == 28 else 4


class DCGANGenerator(nn.Module):
    """Radford et al. 2016: project z, then strided transposed convs with BatchNorm + ReLU, tanh out."""

    def __init__(self, z_dim: int = 100, width: int = 64, channels: int = 1, size: int = 28):
        super().__init__()
        s = _start_size(size)
        n_up = 2 if size == 28 else 3
        ch = width * 2 ** (n_up - 1)
        self.z_dim, self.start, self.ch0 = z_dim, s, ch
        self.project = nn.Sequential(nn.Linear(z_dim, ch * s * s, bias=False), nn.BatchNorm1d(ch * s * s), nn.ReLU())
        ups = []
        for _ in range(n_up - 1):
            ups += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU()]
            ch //= 2
        ups += [nn.ConvTranspose2d(ch, channels, 4, 2, 1), nn.Tanh()]
        self.up = nn.Sequential(*ups)

    def forward(self, z):
        return self.up(self.project(z).view(-1, self.ch0, self.start, self.start))


class DCGANDiscriminator(nn.Module):
    """Strided convs with LeakyReLU(0.2), BatchNorm on all but the first layer, no pooling."""

    def __init__(self, width: int = 64, channels: int = 1, size: int = 28, batchnorm: bool = True):
        super().__init__()
        s = _start_size(size)
        n_down = 2 if size == 28 else 3
        layers, c_in, c = [], channels, width
        for i in range(n_down):
            layers.append(nn.Conv2d(c_in, c, 4, 2, 1, bias=not (batchnorm and i > 0)))
            if batchnorm and i > 0:
                layers.append(nn.BatchNorm2d(c))
            layers.append(nn.LeakyReLU(0.2))
            c_in, c = c, c * 2
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Linear(c_in * s * s, 1)

    def features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.head(self.features(x)).squeeze(1)


# --------------------------------------------------------------------------------------------
# PGGAN (Karras et al. 2018, Table 2): one block per resolution 4, 8, ..., R; toRGB / fromRGB
# (1×1 convs) at every resolution. ``lod`` (level of detail, as in the official code) is a float:
# 0 = full size, n = R / 2^n; a fraction blends the newest block with the upsampled image of the
# one below it: out = (1−α)·up(toRGB_{r/2}(h_{r/2})) + α·toRGB_r(h_r), α = 1 − frac(lod) (Figure 2).
# Both networks take and give full-size images: G's output is upscaled (nearest), D pools its
# input down, so only the blocks in use are computed.


def _levels(resolution: int) -> int:
    if resolution < 4 or resolution & (resolution - 1):
        raise CourseError(f"progressive networks need a power-of-two resolution ≥ 4, not {resolution}")
    return int(math.log2(resolution)) - 1


class _Growing(nn.Module):
    def _init_lod(self, resolution: int):
        self.resolution, self.levels = resolution, _levels(resolution)
        self.lod = 0.0

    def top_and_fade(self) -> tuple[int, float]:
        """The highest block in use, and how much of the one below is still blended in (frac(lod))."""
        lod = min(max(float(self.lod), 0.0), self.levels - 1.0)
        return self.levels - 1 - math.floor(lod), lod - math.floor(lod)

    @property
    def current_resolution(self) -> int:
        return 4 * 2 ** self.top_and_fade()[0]


class ProGenerator(_Growing):
    """PGGAN G: z (pixel-normalised) → dense 4×4 → conv; per resolution: upsample ×2, two 3×3 convs.

    Switches for the ablation: ``equalized`` (EqLR), ``pixelnorm`` (after every conv) or ``batchnorm``
    (the WGAN-GP baseline), ``leaky`` (LeakyReLU 0.2, else ReLU), ``normalize_latent``, ``tanh`` output.
    """

    def __init__(self, z_dim: int = 128, channels: int = 3, resolution: int = 32, width: int = 128, *,
                 equalized: bool = True, pixelnorm: bool = True, batchnorm: bool = False, leaky: bool = True,
                 normalize_latent: bool = True, tanh: bool = False):
        super().__init__()
        if pixelnorm and batchnorm:
            raise CourseError("choose pixelnorm or batchnorm in the generator, not both")
        self._init_lod(resolution)
        self.z_dim, self.width, self.normalize_latent, self.tanh = z_dim, width, normalize_latent, tanh

        def post(conv):  # conv → [BN] → act → [PN]
            act = nn.LeakyReLU(0.2) if leaky else nn.ReLU()
            if batchnorm:
                return [conv, nn.BatchNorm2d(width), act]
            return [conv, act] + ([PixelNorm()] if pixelnorm else [])

        self.dense = EqualizedLinear(z_dim, width * 16, gain=math.sqrt(2) / 4, equalized=equalized)
        self.first = nn.Sequential(*post(nn.Identity()), *post(EqualizedConv2d(width, width, 3, equalized=equalized)))
        self.blocks = nn.ModuleList([nn.Identity()] + [
            nn.Sequential(nn.Upsample(scale_factor=2.0, mode="nearest"),
                          *post(EqualizedConv2d(width, width, 3, equalized=equalized)),
                          *post(EqualizedConv2d(width, width, 3, equalized=equalized)))
            for _ in range(1, self.levels)])
        self.to_rgb = nn.ModuleList([EqualizedConv2d(width, channels, 1, gain=1.0, equalized=equalized)
                                     for _ in range(self.levels)])

    def forward(self, z):
        top, fade = self.top_and_fade()
        if self.normalize_latent:
            z = z * torch.rsqrt(z.pow(2).mean(1, keepdim=True) + 1e-8)
        h = self.first(self.dense(z).view(-1, self.width, 4, 4))
        below = h
        for level in range(1, top + 1):
            below, h = h, self.blocks[level](h)
        img = self.to_rgb[top](h)
        if fade > 0 and top > 0:
            img = torch.lerp(img, F.interpolate(self.to_rgb[top - 1](below), scale_factor=2.0, mode="nearest"), fade)
        if self.tanh:
            img = torch.tanh(img)
        factor = self.resolution // img.shape[-1]
        return F.interpolate(img, scale_factor=float(factor), mode="nearest") if factor > 1 else img


class ProDiscriminator(_Growing):
    """PGGAN D, G's mirror: fromRGB; per resolution two 3×3 convs and 2×2 average pooling; at 4×4
    [minibatch stddev] → conv → dense → dense → one critic value.

    Switches: ``equalized`` (EqLR), ``mbstd`` (group size ``group_size``), ``layernorm`` (the WGAN-GP
    baseline's critic normalisation, over each sample's C×H×W).
    """

    def __init__(self, channels: int = 3, resolution: int = 32, width: int = 128, *, equalized: bool = True,
                 mbstd: bool = True, group_size: int = 4, layernorm: bool = False):
        super().__init__()
        self._init_lod(resolution)

        def conv(c_in, k=3):
            layers = [EqualizedConv2d(c_in, width, k, equalized=equalized)]
            return layers + ([nn.GroupNorm(1, width)] if layernorm and k == 3 else []) + [nn.LeakyReLU(0.2)]

        self.from_rgb = nn.ModuleList([nn.Sequential(*conv(channels, 1)) for _ in range(self.levels)])
        self.blocks = nn.ModuleList([nn.Identity()] + [
            nn.Sequential(*conv(width), *conv(width), nn.AvgPool2d(2)) for _ in range(1, self.levels)])
        self.last = nn.Sequential(MinibatchStdDev(group_size) if mbstd else nn.Identity(),
                                  *conv(width + (1 if mbstd else 0)), nn.Flatten(),
                                  EqualizedLinear(width * 16, width, equalized=equalized), nn.LeakyReLU(0.2))
        self.head = EqualizedLinear(width, 1, gain=1.0, equalized=equalized)

    def features(self, x):
        top, fade = self.top_and_fade()
        img = F.avg_pool2d(x, self.resolution // (4 * 2 ** top)) if x.shape[-1] > 4 * 2 ** top else x
        h = self.from_rgb[top](img)
        if top > 0:
            h = self.blocks[top](h)
            if fade > 0:
                h = torch.lerp(h, self.from_rgb[top - 1](F.avg_pool2d(img, 2)), fade)
        for level in range(top - 1, 0, -1):
            h = self.blocks[level](h)
        return self.last(h)

    def forward(self, x):
        return self.head(self.features(x)).squeeze(1)


def dcgan_init(module: nn.Module) -> None:
    """DCGAN's initialisation: conv/linear weights N(0, 0.02), BatchNorm scale N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
