"""DCGAN (Radford et al. 2016) for 28×28 and 32×32 images: strided (transposed) convolutions,
BatchNorm, ReLU in G with tanh out, LeakyReLU(0.2) in D, weights from N(0, 0.02)."""
from __future__ import annotations

from torch import nn

from ... import CourseError


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
