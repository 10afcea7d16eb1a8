"""PGGAN's growing pair (Karras et al. 2018, Table 2): ``ProGenerator`` and ``ProDiscriminator``,
whose float ``lod`` says how far they have grown and how far the newest block is faded in."""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ... import CourseError
from ..layers import EqualizedConv2d, EqualizedLinear, MinibatchStdDev, PixelNorm

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
