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


def test_a_run_of_some_claims_trains_only_the_rows_they_compare():
    every = lambda *ids: True
    assert improved.table3_rows(every) == list(improved.TABLE3)
    only = lambda *wanted: (lambda *ids: any(i in wanted for i in ids))
    assert improved.table3_rows(only("I5", "I7")) == ["Our methods", "−LS", "−L"]       # in the table's order
    assert improved.table3_rows(only("I4")) == ["−L+HA", "−L"]
    assert improved.table3_rows(only("I3")) == list(improved.TABLE3)                       # −MBF against every row
    assert improved.table3_rows(only("I1", "I2")) == []                                    # the 2D claims: none
    assert all(set(rows) <= set(improved.TABLE3) for rows in improved.TABLE3_CLAIMS.values())


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


def test_table3_rows_are_the_papers():
    """Table 3's caption: "Our methods" is every technique but FM and HA, with labels; the rest take one away."""
    ours = set(improved.TABLE3["Our methods"])
    assert ours == {"L", "MBD", "LS", "VBN"}
    for row, taken in (("−VBN+BN", "VBN"), ("−LS", "LS"), ("−L", "L"), ("−MBF", "MBD")):
        assert set(improved.TABLE3[row]) == ours - {taken}, row
    assert set(improved.TABLE3["−L+HA"]) == ours - {"L"} | {"HA"}
    assert list(improved.PAPER_IS) == ["Real data", *improved.TABLE3]
    assert improved.paper_ratio("−L+HA", "−L") == dict(paper="Table 3: 6.86 / 4.36 = 1.57", paper_value=1.573)


def test_the_k_plus_one_head_gives_the_real_fake_logit_and_class_logits():
    torch.manual_seed(0)
    D = models.DCGANDiscriminator(8, 1, 28)
    x = torch.randn(6, 1, 28, 28)
    for mbd in (True, False):
        head = improved.KPlusOneD(D, x, n_classes=10, mbd=mbd, kernels=4)
        logits = head.class_logits(x)
        assert logits.shape == (6, 10) and (head.mbd is not None) == mbd
        assert torch.allclose(head(x), torch.logsumexp(logits, 1))                  # l_{K+1} = 0: D(x) = Z / (Z + 1)


def test_labels_add_the_supervised_loss_and_need_labelled_images(tmp_path):
    G, D = models.DCGANGenerator(8, 8, 1, 28), models.DCGANDiscriminator(8, 1, 28)
    x, y = torch.rand(64, 1, 28, 28) * 2 - 1, torch.arange(64) % 10
    with pytest.raises(CourseError, match="labelled images"):
        improved.apply(("L",), G, D, x[:8], torch.randn(8, 8))
    G2, D2, kw = improved.apply(improved.TABLE3["Our methods"], G, D, x[:8], torch.randn(8, 8), mbd_kernels=4,
                                labelled=(x[:20], y[:20]), n_classes=10, labelled_batch=8)
    assert isinstance(D2, improved.KPlusOneD) and D2.mbd is not None
    assert [type(t).__name__ for t in kw["d_terms"]] == ["LabelledLoss"] and isinstance(kw["d_loss_fn"], improved.LabelSmoothing)
    _, D3, kw3 = improved.apply(improved.TABLE3["−L"], G, D, x[:8], torch.randn(8, 8), mbd_kernels=4, n_classes=10)
    assert isinstance(D3, improved.KPlusOneD) and kw3["d_terms"] == []               # the same head, no labels
    tr = improved.train_row("Our methods", improved.TABLE3["Our methods"], G, D, x, 3, 8, out_dir=tmp_path,
                            mbd_kernels=4, labelled=(x[:20], y[:20]), n_classes=10, progress=False, log_every=1)
    assert tr.step == 3 and "labelled" in tr.history[-1] and tr.history[-1]["labelled"] > 0
    again = improved.train_row("Our methods", improved.TABLE3["Our methods"], G, D, x, 4, 8, out_dir=tmp_path,
                               mbd_kernels=4, labelled=(x[:20], y[:20]), n_classes=10, progress=False, log_every=1)
    assert again.step == 4                                                            # resumed, label chain included
