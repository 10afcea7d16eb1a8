"""The networks of the stabilizer survey at 32×32 (and 28×28): SNDCGAN, Miyato et al.'s (2018)
"standard CNN" (their Table 3), and a small ResNet pair in the style of SN-ResNet / BigGAN, which can
be class-conditional (conditional BatchNorm in G, a projection discriminator, Miyato & Koyama 2018)
and carry a self-attention block (SAGAN, Zhang et al. 2019) at 16×16.

Discriminators take ``sn`` (spectral normalisation on every conv and linear layer, one power
iteration per step through torch's parametrisation; ``layers.spectral_norm``) and return one raw
score per image; ``features(x)`` gives the penultimate activations (linear probe, feature matching).
Conditional ones take ``(x, y)``.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ... import CourseError
from ..layers import ConditionalBatchNorm2d, SelfAttention, spectral_norm


def _geometry(size: int) -> tuple[int, int]:
    if size not in (28, 32):
        raise CourseError(f"these networks are built for 28×28 or 32×32 images, not {size}×{size}")
    return (7, 2) if size == 28 else (4, 3)          # start resolution, number of ×2 upsamplings


def _maybe_sn(layer: nn.Module, sn: bool) -> nn.Module:
    return spectral_norm(layer) if sn else layer


class SNDCGANGenerator(nn.Module):
    """z (128) → dense 4×4×8w → [deconv 4×4 s2, BN, ReLU] ×3 (8w→4w→2w→w) → conv 3×3 → tanh."""

    def __init__(self, z_dim: int = 128, width: int = 64, channels: int = 3, size: int = 32, attention: bool = False):
        super().__init__()
        start, n_up = _geometry(size)
        self.z_dim, self.start, self.ch0 = z_dim, start, width * 2 ** n_up
        self.project = nn.Linear(z_dim, self.ch0 * start * start)
        layers, c = [nn.BatchNorm2d(self.ch0), nn.ReLU()], self.ch0
        for i in range(n_up):
            layers += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1), nn.BatchNorm2d(c // 2), nn.ReLU()]
            c //= 2
            if attention and i == n_up - 2:                  # at 16×16 (14×14 for MNIST)
                layers.append(SelfAttention(c))
        self.body = nn.Sequential(*layers, nn.Conv2d(c, channels, 3, 1, 1), nn.Tanh())

    def forward(self, z):
        return self.body(self.project(z).view(-1, self.ch0, self.start, self.start))


class SNDCGANDiscriminator(nn.Module):
    """[conv 3×3 s1, conv 4×4 s2] at w, 2w, 4w channels, conv 3×3 at 8w, LeakyReLU(0.1), dense → 1."""

    def __init__(self, width: int = 64, channels: int = 3, size: int = 32, sn: bool = True, attention: bool = False):
        super().__init__()
        _geometry(size)
        layers, c_in = [], channels
        for i, c in enumerate((width, 2 * width, 4 * width)):
            layers += [_maybe_sn(nn.Conv2d(c_in, c, 3, 1, 1), sn), nn.LeakyReLU(0.1),
                       _maybe_sn(nn.Conv2d(c, c, 4, 2, 1), sn), nn.LeakyReLU(0.1)]
            if attention and i == 0:                          # at 16×16
                layers.append(SelfAttention(c, sn=sn))
            c_in = c
        layers += [_maybe_sn(nn.Conv2d(c_in, 8 * width, 3, 1, 1), sn), nn.LeakyReLU(0.1), nn.Flatten()]
        self.body = nn.Sequential(*layers)
        with torch.no_grad():
            n_feat = self.body(torch.zeros(2, channels, size, size)).shape[1]
        self.head = _maybe_sn(nn.Linear(n_feat, 1), sn)

    def features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.head(self.features(x)).squeeze(1)


# --------------------------------------------------------------------------------------------
# ResNet blocks (Gulrajani et al. 2017; Miyato et al. 2018, Appendix B) and the conditional pair.


class GBlock(nn.Module):
    """BN(y) → ReLU → up ×2 → conv 3×3 → BN(y) → ReLU → conv 3×3, plus an upsampled 1×1 shortcut."""

    def __init__(self, c_in: int, c_out: int, n_classes: int = 0):
        super().__init__()
        norm = (lambda c: ConditionalBatchNorm2d(c, n_classes)) if n_classes else nn.BatchNorm2d
        self.bn1, self.bn2 = norm(c_in), norm(c_out)
        self.conv1, self.conv2 = nn.Conv2d(c_in, c_out, 3, 1, 1), nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.skip = nn.Conv2d(c_in, c_out, 1)
        self.conditional = bool(n_classes)

    def _bn(self, bn, h, y):
        return bn(h, y) if self.conditional else bn(h)

    def forward(self, x, y=None):
        h = F.interpolate(F.relu(self._bn(self.bn1, x, y)), scale_factor=2.0)
        h = self.conv2(F.relu(self._bn(self.bn2, self.conv1(h), y)))
        return h + self.skip(F.interpolate(x, scale_factor=2.0))


class DBlock(nn.Module):
    """[ReLU →] conv 3×3 → ReLU → conv 3×3 [→ avg-pool], plus a 1×1 (pooled) shortcut; spectrally normalised."""

    def __init__(self, c_in: int, c_out: int, down: bool, first: bool = False, sn: bool = True):
        super().__init__()
        self.conv1 = _maybe_sn(nn.Conv2d(c_in, c_out, 3, 1, 1), sn)
        self.conv2 = _maybe_sn(nn.Conv2d(c_out, c_out, 3, 1, 1), sn)
        self.skip = _maybe_sn(nn.Conv2d(c_in, c_out, 1), sn) if (down or c_in != c_out) else nn.Identity()
        self.down, self.first = down, first

    def forward(self, x):
        h = x if self.first else F.relu(x)
        h = self.conv2(F.relu(self.conv1(h)))
        s = x
        if self.first:                                   # the "optimised" first block pools before the 1×1
            s = self.skip(F.avg_pool2d(s, 2) if self.down else s)
        else:
            s = self.skip(s)
            s = F.avg_pool2d(s, 2) if self.down else s
        return (F.avg_pool2d(h, 2) if self.down else h) + s


class ResNetGenerator(nn.Module):
    """z → dense 4×4×w → 3 up-blocks (w) → BN → ReLU → conv 3×3 → tanh; ``n_classes`` > 0 makes every
    BatchNorm class-conditional (BigGAN's conditional BN); ``attention`` adds self-attention at 16×16."""

    def __init__(self, z_dim: int = 128, width: int = 128, channels: int = 3, size: int = 32, n_classes: int = 0,
                 attention: bool = False):
        super().__init__()
        start, n_up = _geometry(size)
        self.z_dim, self.width, self.start, self.n_classes = z_dim, width, start, n_classes
        self.project = nn.Linear(z_dim, width * start * start)
        self.blocks = nn.ModuleList(GBlock(width, width, n_classes) for _ in range(n_up))
        self.attention = SelfAttention(width) if attention else None
        self.out = nn.Sequential(nn.BatchNorm2d(width), nn.ReLU(), nn.Conv2d(width, channels, 3, 1, 1), nn.Tanh())

    def forward(self, z, y=None):
        if self.n_classes and y is None:
            raise CourseError("a conditional generator needs labels y")
        h = self.project(z).view(-1, self.width, self.start, self.start)
        for i, block in enumerate(self.blocks):
            h = block(h, y)
            if self.attention is not None and i == len(self.blocks) - 2:
                h = self.attention(h)
        return self.out(h)


class ResNetDiscriminator(nn.Module):
    """Optimised down-block → down-block → 2 blocks (w) → ReLU → global sum pool → dense; with
    ``n_classes`` the projection discriminator adds ⟨embed(y), φ(x)⟩ (Miyato & Koyama 2018, eq. 3)."""

    def __init__(self, width: int = 128, channels: int = 3, size: int = 32, n_classes: int = 0, sn: bool = True,
                 attention: bool = False):
        super().__init__()
        _geometry(size)
        self.blocks = nn.ModuleList([DBlock(channels, width, True, first=True, sn=sn),
                                     DBlock(width, width, True, sn=sn),
                                     DBlock(width, width, False, sn=sn), DBlock(width, width, False, sn=sn)])
        self.attention = SelfAttention(width, sn=sn) if attention else None
        self.head = _maybe_sn(nn.Linear(width, 1), sn)
        self.embed = _maybe_sn(nn.Embedding(n_classes, width), sn) if n_classes else None
        self.n_classes = n_classes

    def features(self, x):
        h = x
        for i, block in enumerate(self.blocks):
            h = block(h)
            if self.attention is not None and i == 0:
                h = self.attention(h)
        return F.relu(h).sum((2, 3))

    def forward(self, x, y=None):
        f = self.features(x)
        out = self.head(f).squeeze(1)
        if self.embed is not None:
            if y is None:
                raise CourseError("a projection discriminator needs labels y")
            out = out + (self.embed(y) * f).sum(1)
        return out
