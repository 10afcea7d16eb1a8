import pytest
import torch

from gancourse.nn import layers


def test_minibatch_discrimination_matches_the_equation():
    torch.manual_seed(0)
    mbd = layers.MinibatchDiscrimination(4, kernels=3, kernel_dim=2)
    f = torch.randn(5, 4)
    out = mbd(f)
    assert out.shape == (5, 4 + 3) and torch.equal(out[:, :4], f)
    M = (f @ mbd.T).view(5, 3, 2)
    i = 1
    expect = sum(torch.exp(-(M[i] - M[j]).abs().sum(-1)) for j in range(5) if j != i)
    assert torch.allclose(out[i, 4:] - mbd.bias, expect, atol=1e-6)


def test_minibatch_discrimination_gradients_match_the_broadcast_formula():
    """cdist (2-3x faster on a CPU at batch 64, 100 kernels) gives the values and gradients of the
    direct (n, n, B, C) broadcast of the equation."""
    torch.manual_seed(0)
    mbd = layers.MinibatchDiscrimination(32, kernels=10, kernel_dim=5)
    f = (torch.randn(16, 32) * 0.3).requires_grad_()
    w = torch.randn(16, 32 + 10)

    def direct(f):
        M = (f @ mbd.T).view(16, 10, 5)
        l1 = (M.unsqueeze(0) - M.unsqueeze(1)).abs().sum(-1)
        o = torch.exp(-l1).masked_fill(torch.eye(16, dtype=torch.bool).unsqueeze(-1), 0.0).sum(1)
        return torch.cat([f, o + mbd.bias], 1)

    got = torch.autograd.grad((mbd(f) * w).sum(), (f, mbd.theta, mbd.log_scale))
    want = torch.autograd.grad((direct(f) * w).sum(), (f, mbd.theta, mbd.log_scale))
    assert torch.allclose(mbd(f), direct(f), atol=1e-5)
    for g, e in zip(got, want):
        assert torch.allclose(g, e, atol=1e-4, rtol=1e-4)


def test_minibatch_features_see_collapse():
    """Identical samples make every c_b(x_i, x_j) = 1: o(x) = n - 1, its maximum."""
    mbd = layers.MinibatchDiscrimination(4, kernels=3, kernel_dim=2)
    same = mbd(torch.ones(6, 4))[:, 4:] - mbd.bias
    diverse = mbd(torch.randn(6, 4) * 10)[:, 4:] - mbd.bias
    assert torch.allclose(same, torch.full_like(same, 5.0)) and (diverse < same).all()


def test_minibatch_discrimination_is_weight_normalised_and_initialised_from_data_as_the_official_code():
    """T = θ·e^s/‖θ‖ (a column's norm is e^s, whatever θ's scale); init_from puts each kernel's mean
    nearest-neighbour L1 distance on the batch at 2 and o's mean on it at 0 (openai/improved-gan nn.py)."""
    torch.manual_seed(0)
    mbd = layers.MinibatchDiscrimination(16, kernels=6, kernel_dim=5)
    assert torch.allclose(mbd.T.norm(dim=0), torch.ones(30)) and torch.equal(mbd.bias, torch.full((6,), -1.0))
    f = torch.randn(32, 16) * 3
    mbd.init_from(f)
    nearest = (mbd.l1(f) + torch.eye(32) * 1e6).min(2).values.mean(1)
    assert torch.allclose(nearest, torch.full((6,), 2.0), atol=1e-4)
    assert torch.allclose(mbd(f)[:, 16:].mean(0), torch.zeros(6), atol=1e-5)
    assert torch.allclose(mbd.T.norm(dim=0), mbd.log_scale.exp(), atol=1e-6)


def test_virtual_batch_norm_uses_reference_plus_self():
    torch.manual_seed(0)
    vbn = layers.VirtualBatchNorm(3)
    ref, x = torch.randn(8, 3, 4, 4) * 2 + 1, torch.randn(2, 3, 4, 4)
    with pytest.raises(RuntimeError, match="reference_pass"):
        vbn(x)
    with layers.reference_pass(vbn):
        r = vbn(ref)
    assert torch.allclose(r.mean((0, 2, 3)), torch.zeros(3), atol=1e-5)
    out = vbn(x)
    # example 0 alone, against the statistics of ref ∪ {x_0} computed by hand
    w = 1 / 9
    mean = w * x[0].mean((1, 2)) + (1 - w) * ref.mean((0, 2, 3))
    meansq = w * x[0].pow(2).mean((1, 2)) + (1 - w) * ref.pow(2).mean((0, 2, 3))
    expect = (x[0] - mean[:, None, None]) / torch.sqrt(meansq - mean ** 2 + 1e-5)[:, None, None]
    assert torch.allclose(out[0], expect, atol=1e-5)
    # an example's output does not depend on the rest of its batch
    assert torch.allclose(vbn(x[:1]), out[:1], atol=1e-6)


def test_weightnorm_init_and_noise():
    lin = layers.WNLinear(10, 6)
    y = lin.init_from(torch.randn(256, 10) * 3 + 2)
    assert torch.allclose(y.mean(0), torch.zeros(6), atol=1e-4) and torch.allclose(y.std(0), torch.ones(6), atol=1e-3)
    noise = layers.GaussianNoise(0.5)
    x = torch.zeros(1000)
    assert noise(x).std() == pytest.approx(0.5, rel=0.1)
    noise.eval()
    assert torch.equal(noise(x), x)


def test_equalized_layers_scale_at_run_time_and_match_he_init_in_output():
    torch.manual_seed(0)
    eq = layers.EqualizedConv2d(64, 32, 3)
    he = layers.EqualizedConv2d(64, 32, 3, equalized=False)
    assert abs(eq.weight.std().item() - 1.0) < 0.05                     # stored at N(0, 1)
    assert abs(he.weight.std().item() - (2 / (64 * 9)) ** 0.5) < 0.005  # stored at He's std
    x = torch.randn(8, 64, 8, 8)
    # same output statistics: both keep the variance of their input (gain √2 for a ReLU-like next layer)
    assert abs(eq(x).var().item() - he(x).var().item()) < 0.3
    lin, v = layers.EqualizedLinear(100, 10, gain=1.0), torch.randn(100)
    assert torch.allclose(lin(v), lin.weight @ v / 10 + lin.bias, atol=1e-5)


def test_pixel_norm_gives_unit_mean_square_per_pixel():
    a = layers.PixelNorm()(torch.randn(3, 16, 5, 5) * torch.rand(3, 1, 5, 5) * 10)
    assert torch.allclose(a.pow(2).mean(1), torch.ones(3, 5, 5), atol=1e-4)


def test_minibatch_stddev_matches_a_direct_computation():
    x = torch.randn(8, 3, 4, 4)
    out = layers.MinibatchStdDev(4)(x)
    assert out.shape == (8, 4, 4, 4)
    for i in range(8):
        group = x[[j for j in range(8) if j % 2 == i % 2]]            # groups: i mod (8 / 4)
        expect = (group.var(0, unbiased=False) + 1e-8).sqrt().mean()
        assert torch.allclose(out[i, 3], expect.expand(4, 4), atol=1e-5)
    assert layers.MinibatchStdDev(4)(torch.ones(8, 3, 4, 4))[:, 3].max() < 1e-3   # a collapsed batch
    with pytest.raises(ValueError, match="divisible"):
        layers.MinibatchStdDev(4)(torch.randn(6, 3, 4, 4))
