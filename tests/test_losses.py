import math

import pytest
import torch
from torch import nn

from gancourse import CourseError
from gancourse.training import losses


def test_losses_match_their_formulas():
    r, f = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    sig = torch.sigmoid
    bce_d = -(torch.log(sig(r)).mean() + torch.log(1 - sig(f)).mean())
    for name in ("minimax", "non_saturating"):
        assert torch.allclose(losses.d_loss(name, r, f), bce_d)
    assert torch.allclose(losses.g_loss("minimax", f), torch.log(1 - sig(f)).mean())
    assert torch.allclose(losses.g_loss("non_saturating", f), -torch.log(sig(f)).mean())
    assert torch.allclose(losses.d_loss("hinge", r, f), torch.relu(1 - r).mean() + torch.relu(1 + f).mean())
    assert torch.allclose(losses.d_loss("wasserstein", r, f), f.mean() - r.mean())
    for name in ("hinge", "wasserstein"):
        assert torch.allclose(losses.g_loss(name, f), -f.mean())


def test_saturation_gradients():
    d = torch.tensor([-6.0, 0.0, 6.0])
    assert torch.allclose(losses.g_logit_gradient("minimax", d), torch.sigmoid(d))
    assert torch.allclose(losses.g_logit_gradient("non_saturating", d), torch.sigmoid(-d))


def test_gradient_penalty_and_r1_on_a_linear_critic():
    D = nn.Linear(3, 1, bias=False)
    with torch.no_grad():
        D.weight.copy_(torch.tensor([[0.6, 0.8, 0.0]]))  # ‖∇D‖ = 1 everywhere
    wrap = lambda x: D(x).squeeze(1)
    real, fake = torch.randn(16, 3), torch.randn(16, 3)
    assert losses.gradient_penalty(wrap, real, fake).item() == pytest.approx(0.0, abs=1e-10)
    with torch.no_grad():
        D.weight.mul_(3)
    assert losses.gradient_penalty(wrap, real, fake).item() == pytest.approx(4.0, rel=1e-5)
    assert losses.r1_penalty(wrap, real).item() == pytest.approx(9.0, rel=1e-5)


def test_generator_grad_norm_is_positive_and_clears_grads():
    G, D = nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 1), nn.Flatten(0))
    n = losses.generator_grad_norm("non_saturating", G, D, torch.randn(8, 2))
    assert n > 0 and math.isfinite(n)
    assert all(p.grad is None for p in [*G.parameters(), *D.parameters()])


def test_unknown_loss():
    with pytest.raises(CourseError, match="hinge"):
        losses.d_loss("least_squares", torch.zeros(1), torch.zeros(1))


def test_one_sided_label_smoothing():
    r, f = torch.tensor([2.0]), torch.tensor([-1.0])
    smooth = losses.d_loss("non_saturating", r, f, real_target=0.9)
    s = torch.sigmoid
    expect = -(0.9 * torch.log(s(r)) + 0.1 * torch.log(1 - s(r))) - torch.log(1 - s(f))
    assert torch.allclose(smooth, expect.mean())
    with pytest.raises(CourseError, match="label smoothing"):
        losses.d_loss("hinge", r, f, real_target=0.9)


def test_feature_matching_and_historical_averaging():
    a, b = torch.randn(32, 5), torch.randn(32, 5)
    assert losses.feature_matching(a, a).item() == 0
    assert torch.allclose(losses.feature_matching(a, b), (a.mean(0) - b.mean(0)).pow(2).sum())
    assert torch.allclose(losses.feature_matching(a, b, "mean"), (a.mean(0) - b.mean(0)).pow(2).mean())
    with pytest.raises(ValueError, match="reduction"):
        losses.feature_matching(a, b, "max")
    lin = nn.Linear(2, 1)
    ha = losses.HistoricalAveraging(lin, weight=2.0)
    assert ha().item() == 0  # θ equals the mean of its history
    with torch.no_grad():
        for p in lin.parameters():
            p.add_(1.0)
    # the history holds the initial θ (and, after the first call, θ again): distance 1 per parameter
    assert ha().item() == pytest.approx(2.0 * 3)


def test_drift_penalises_the_squared_critic_value_on_reals():
    from types import SimpleNamespace
    d_real = torch.tensor([1.0, -3.0])
    assert torch.isclose(losses.Drift(0.001)(SimpleNamespace(d_real=d_real)), torch.tensor(0.005))


def test_feature_matching_can_take_its_own_real_batches():
    """The official K+1 code matches G's features against a second permutation of the data, not D's batch."""
    import types
    own = torch.full((4, 3), 3.0)
    ctx = types.SimpleNamespace(D=types.SimpleNamespace(features=lambda x: x), real=torch.zeros(4, 3),
                                fake=torch.ones(4, 3))
    assert losses.FeatureMatching("mean")(ctx).item() == pytest.approx(1.0)                       # (0 - 1)²
    hook = losses.FeatureMatching("mean", real_batches=iter([own]))
    assert hook(ctx).item() == pytest.approx(4.0) and hook.describe()["own_real_batches"] is None   # (3 - 1)²
    with pytest.raises(StopIteration):
        hook(ctx)
