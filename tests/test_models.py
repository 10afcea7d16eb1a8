import pytest
import torch

from gancourse import CourseError
from gancourse.nn import models


@pytest.mark.parametrize("size,channels", [(28, 1), (32, 3)])
def test_dcgan_shapes(size, channels):
    G = models.DCGANGenerator(16, 8, channels, size)
    D = models.DCGANDiscriminator(8, channels, size)
    models.dcgan_init(G)
    x = G(torch.randn(5, 16))
    assert x.shape == (5, channels, size, size) and x.abs().max() <= 1
    assert D(x).shape == (5,)
    assert D.features(x).shape[0] == 5


def test_mlp_shapes():
    G, D = models.MLPGenerator(2, 16), models.MLPDiscriminator(2, 16)
    assert G(torch.randn(7, 2)).shape == (7, 2) and D(torch.randn(7, 2)).shape == (7,)
    assert models.n_params(G) > 0


def test_dcgan_init_statistics():
    D = models.DCGANDiscriminator(64, 3, 32)
    models.dcgan_init(D)
    w = D.body[0].weight
    assert abs(w.std().item() - 0.02) < 0.003


def test_unsupported_size():
    with pytest.raises(CourseError, match="28x28 or 32x32"):
        models.DCGANGenerator(16, 8, 1, 64)
