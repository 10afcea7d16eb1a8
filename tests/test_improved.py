import pytest
import torch
from torch import nn

from gancourse import CourseError
from gancourse.papers import improved
from gancourse.nn import layers, models
from gancourse.training import losses


def test_ablation_rows_have_table_3s_shape():
    rows = improved.ablation_rows()
    assert len(rows) == 12 and rows["baseline"] == () and rows["all"] == improved.TECHNIQUES
    assert rows["all −MBD"] == ("FM", "HA", "LS", "VBN") and rows["+LS"] == ("LS",)


def test_apply_switches_each_technique_on():
    G, D = models.DCGANGenerator(8, 8, 1, 28), models.DCGANDiscriminator(8, 1, 28)
    x, z_ref = torch.randn(4, 1, 28, 28), torch.randn(4, 8)
    G2, D2, kw = improved.apply(("VBN", "MBD", "FM", "LS", "HA"), G, D, x, z_ref)
    assert any(isinstance(m, layers.VirtualBatchNorm) for m in G2.modules())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in G2.modules())
    assert any(isinstance(m, layers.MinibatchDiscrimination) for m in D2.modules())
    assert isinstance(kw["g_loss_fn"], losses.FeatureMatching) and isinstance(kw["d_loss_fn"], improved.LabelSmoothing)
    assert len(kw["d_terms"]) == len(kw["g_terms"]) == 1
    assert any(isinstance(m, nn.BatchNorm2d) for m in G.modules()), "the originals are left alone"
    out = G2(torch.randn(3, 8))
    assert out.shape == (3, 1, 28, 28) and D2(out).shape == (3,)
    # VBN: an example's output does not depend on the rest of its batch
    z = torch.randn(5, 8)
    assert torch.allclose(G2(z)[:1], G2(z[:1]), atol=1e-5)
    assert D2.features(out).shape[0] == 3
    _, _, none = improved.apply((), G, D, x, z_ref)
    assert none == {"d_terms": [], "g_terms": []}


def test_errors():
    G, D = models.MLPGenerator(2, 8), models.MLPDiscriminator(2, 8)
    with pytest.raises(CourseError, match="known"):
        improved.apply(("XYZ",), G, D, torch.randn(4, 2), torch.randn(4, 2))
    with pytest.raises(CourseError, match="BatchNorm"):
        improved.apply(("VBN",), G, D, torch.randn(4, 2), torch.randn(4, 2))


def test_train_row_runs_with_everything_on(tmp_path):
    G, D = models.MLPGenerator(2, 16, norm="bn"), models.MLPDiscriminator(2, 16)
    x = torch.randn(256, 2)
    tr = improved.train_row("all", improved.TECHNIQUES, G, D, x, 3, 32, out_dir=tmp_path, progress=False,
                            z_dim=2, log_every=1)
    assert tr.step == 3 and {"ha_d", "ha_g"} <= set(tr.history[-1])
    assert tr.sample(n=10).shape == (10, 2)
