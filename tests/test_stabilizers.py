"""Spectral norm, self-attention, conditional BN, SNDCGAN / ResNet networks, R2, weight clipping,
the Dirac-GAN and the linear probe."""
import numpy as np
import pytest
import torch
from torch import nn

from gancourse import CourseError, data, training
from gancourse.papers import dirac
from gancourse.nn import layers, models
from gancourse.training import losses
from gancourse.instruments import probe
from gancourse.nn.models import sngan


def test_power_iteration_finds_the_largest_singular_value():
    W = torch.randn(20, 30, generator=torch.Generator().manual_seed(0))
    sigma, u, v = layers.power_iteration(W, torch.ones(20) / 20 ** 0.5, n=100)
    assert sigma.item() == pytest.approx(torch.linalg.matrix_norm(W, 2).item(), rel=1e-4)
    assert torch.allclose(W @ v, sigma * u, atol=1e-3)


def test_spectral_norm_layers_have_sigma_one():
    torch.manual_seed(0)
    conv = layers.spectral_norm(nn.Conv2d(3, 8, 3))
    for _ in range(30):                        # one power iteration per forward pass, u persists
        conv(torch.randn(2, 3, 8, 8))
    assert layers.spectral_norms(nn.Sequential(conv))["0"] == pytest.approx(1.0, abs=0.02)
    plain = nn.Linear(10, 10)
    with torch.no_grad():
        plain.weight.mul_(5)
    assert layers.spectral_norms(plain)[""] > 2


@pytest.mark.parametrize("make", [lambda: nn.Conv2d(16, 8, 4, 2, 1), lambda: nn.ConvTranspose2d(16, 8, 4, 2, 1)],
                         ids=["conv", "transposed conv"])
def test_spectral_norms_reads_both_layer_kinds_as_torch_normalises_them(make):
    """A ConvTranspose2d keeps its output channels in dimension 1: torch's spectral norm normalises the
    matrix with those as rows, and spectral_norms must measure that matrix (it read 0.81 for one)."""
    torch.manual_seed(0)
    layer = layers.spectral_norm(make())
    for _ in range(200):                       # converge torch's persistent u
        layer(torch.randn(2, 16, 8, 8))
    layer.eval()
    assert layers.spectral_norms(nn.Sequential(layer))["0"] == pytest.approx(1.0, abs=0.01)
    plain = make()
    dim = 1 if isinstance(plain, nn.ConvTranspose2d) else 0
    exact = torch.linalg.matrix_norm(plain.weight.detach().movedim(dim, 0).flatten(1), 2).item()
    assert layers.spectral_norms(nn.Sequential(plain), iterations=500)["0"] == pytest.approx(exact, rel=1e-3)


def test_self_attention_starts_as_the_identity_and_mixes_positions():
    torch.manual_seed(0)
    sa = layers.SelfAttention(16)
    x = torch.randn(2, 16, 8, 8)
    assert torch.equal(sa(x), x)                          # γ = 0 at the start
    with torch.no_grad():
        sa.gamma.fill_(1.0)
    y = sa(x)
    x2 = x.clone()
    x2[:, :, 0, 0] += 5                                   # change one position...
    assert not torch.allclose(sa(x2)[:, :, 7, 7], y[:, :, 7, 7])   # ...and a far one sees it


def test_conditional_batchnorm_uses_the_class():
    cbn = layers.ConditionalBatchNorm2d(4, 3)
    with torch.no_grad():
        cbn.gain.weight[1].fill_(2.0)
    x = torch.randn(6, 4, 2, 2)
    out = cbn(x, torch.tensor([0, 1, 0, 1, 0, 1]))
    assert torch.allclose(out[1::2], 2 * cbn.bn(x)[1::2], atol=1e-5) and torch.allclose(out[::2], cbn.bn(x)[::2], atol=1e-5)


@pytest.mark.parametrize("size,channels", [(32, 3), (28, 1)])
def test_networks_shapes(size, channels):
    torch.manual_seed(0)
    z = torch.randn(4, 16)
    y = torch.tensor([0, 1, 2, 3])
    for attention in (False, True):
        G = sngan.SNDCGANGenerator(16, 8, channels, size, attention=attention)
        D = sngan.SNDCGANDiscriminator(8, channels, size, attention=attention)
        assert G(z).shape == (4, channels, size, size) and D(G(z)).shape == (4,)
        Gc = sngan.ResNetGenerator(16, 16, channels, size, n_classes=10, attention=attention)
        Dc = sngan.ResNetDiscriminator(16, channels, size, n_classes=10, attention=attention)
        assert Gc(z, y).shape == (4, channels, size, size) and Dc(Gc(z, y), y).shape == (4,)
        assert Dc.features(Gc(z, y)).shape == (4, 16)
    with pytest.raises(CourseError, match="labels"):
        sngan.ResNetGenerator(16, 16, channels, size, n_classes=10)(z)


def test_a_conditional_gan_trains_and_samples_by_class():
    torch.manual_seed(0)
    x, yl = torch.rand(64, 1, 28, 28) * 2 - 1, torch.arange(64) % 10
    G, D = sngan.ResNetGenerator(8, 8, 1, 28, n_classes=10), sngan.ResNetDiscriminator(8, 1, 28, n_classes=10)
    tr = training.Trainer(G, D, loss="hinge", n_classes=10, progress=False, d_terms=[losses.R1(1.0)])
    tr.fit(data.batches(x, 8, labels=yl), 2)
    assert tr.sample(6).shape == (6, 1, 28, 28) and tr.sample().shape[0] == 64
    assert torch.equal(tr.eval_labels(20, "x"), tr.eval_labels(20, "x"))
    fresh = training.Trainer(G, D, loss="hinge", n_classes=10, progress=False)
    with pytest.raises(CourseError, match="labelled batches"):
        fresh.fit(data.batches(x, 8), 1)


def test_r2_and_weight_clipping():
    D = nn.Linear(3, 1)
    x = torch.randn(5, 3)
    r2 = losses.r2_penalty(lambda t: D(t).squeeze(1), x)
    assert r2.item() == pytest.approx(D.weight.pow(2).sum().item(), rel=1e-5)   # ‖∇ψx‖² = ‖w‖²
    with torch.no_grad():
        D.weight.mul_(100)
    losses.WeightClipping(0.01)(D)
    assert D.weight.abs().max() <= 0.01 and D.bias.abs().max() <= 0.01


def test_dirac_gan_oscillates_without_regularisation_and_converges_with_r1():
    plain = dirac.distance_to_equilibrium(dirac.trajectory(steps=400, lr=0.1, alternating=False))
    r1 = dirac.distance_to_equilibrium(dirac.trajectory(steps=400, lr=0.1, regulariser="r1", gamma=1.0))
    gp = dirac.distance_to_equilibrium(dirac.trajectory(steps=400, lr=0.1, regulariser="wgan-gp", gamma=1.0))
    assert plain[-1] > plain[0]              # simultaneous steps spiral outwards
    assert r1[-1] < 1e-2 * r1[0]             # R1 converges to the equilibrium
    assert gp[-1] > 0.1                      # WGAN-GP keeps |ψ| near 1: it cannot stop at (0, 0)
    th, ps = dirac.vector_field(np.array([1.0]), np.array([0.0]))
    assert th[0] == 0 and ps[0] == pytest.approx(0.5)  # f'(0) = 1/2 for the standard GAN
    with pytest.raises(CourseError):
        dirac.trajectory(regulariser="magic")


def test_linear_probe_reads_labels_from_good_features_not_from_noise():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    good = np.eye(3)[y] + 0.1 * rng.standard_normal((300, 3))
    noise = rng.standard_normal((300, 3))
    assert probe.linear_probe(good[:200], y[:200], good[200:], y[200:]) > 0.95
    assert probe.linear_probe(noise[:200], y[:200], noise[200:], y[200:]) < 0.6
    D = models.DCGANDiscriminator(8, 1, 28)
    ds = data.ImageSet("mnist", "test", torch.randint(0, 255, (10, 1, 28, 28), dtype=torch.uint8), torch.zeros(10).long(), "x")
    assert probe.features(D, ds).shape[0] == 10 and probe.pixels(ds).shape == (10, 784)


def test_stabilizer_variants_and_diagnostics(tmp_path):
    from gancourse.instruments import metrics
    from gancourse.papers import stabilizers
    assert stabilizers.variant("sn")["loss"] == "hinge" and stabilizers.variant("r1")["d_terms"][0].gamma == 10.0
    with pytest.raises(CourseError, match="choose one of none"):
        stabilizers.variant("magic")
    torch.manual_seed(0)
    x = torch.rand(64, 1, 28, 28) * 2 - 1
    for name in ("sn", "clip"):
        r = stabilizers.train(name, x, 4, 8, 4, z_dim=8, out_dir=tmp_path / name, progress=False)
        assert len(r.diagnostics.records) == 4 and {"grad_norm", "sigma_max"} <= set(r.trainer.history[-1])
    assert r.diagnostics.records[-1]["sigma_max"] < 0.5                       # clipped weights: tiny σ
    sn = stabilizers.train("sn", x, 4, 8, 4, z_dim=8, out_dir=tmp_path / "sn", progress=False)
    assert sn.trainer.step == 4 and len(sn.diagnostics.records) == 4          # resumed, diagnostics restored
    assert max(sn.diagnostics.records[-1]["sigma"].values()) == pytest.approx(1.0, abs=0.05)
    cond = stabilizers.train("biggan", x, 2, 8, 4, z_dim=8, labels=torch.arange(64) % 10, n_classes=10, progress=False)
    assert cond.trainer.sample(5).shape == (5, 1, 28, 28)
