import math

import torch
import torch.nn.functional as F

from gancourse.papers import ssl


def test_unsupervised_loss_is_the_k_plus_one_gan_loss():
    logits_r, logits_f = torch.randn(8, 10), torch.randn(8, 10)
    # explicit K+1 softmax with the fake class's logit fixed at 0
    pad = lambda l: torch.cat([l, torch.zeros(len(l), 1)], 1)
    p_fake_r = F.softmax(pad(logits_r), 1)[:, -1]
    p_fake_f = F.softmax(pad(logits_f), 1)[:, -1]
    expect = -torch.log(1 - p_fake_r).mean() - torch.log(p_fake_f).mean()
    assert torch.allclose(ssl.unsupervised_loss(logits_r, logits_f), expect, atol=1e-5)


def test_supervised_loss_ignores_the_fake_class():
    logits, y = torch.randn(8, 10), torch.randint(10, (8,))
    pad = torch.cat([logits, torch.zeros(8, 1)], 1)
    # conditioning on y ≤ K renormalises over the real classes only
    cond = F.log_softmax(pad[:, :10], 1)
    assert torch.allclose(ssl.supervised_loss(logits, y), -cond[torch.arange(8), y].mean(), atol=1e-6)


def test_networks_match_the_paper():
    D, G = ssl.MNISTClassifier(), ssl.MNISTGenerator()
    x = G(torch.rand(4, 100))
    assert x.shape == (4, 1, 28, 28) and 0 <= x.min() and x.max() <= 1
    assert D(x).shape == (4, 10) and D.features(x).shape == (4, 250)
    wn = [m for m in D.modules() if hasattr(m, "v")]
    assert [m.v.shape[0] for m in wn] == [1000, 500, 250, 250, 250, 10]
    assert [m.g.requires_grad for m in wn] == [False] * 5 + [True]  # only the output scale is trained
    ssl.init_weightnorm(D, torch.rand(64, 1, 28, 28))
    D.eval()
    assert torch.equal(D(x), D(x))  # no noise in eval mode


def test_pick_labels_and_errors():
    y = torch.arange(100) % 10
    idx = ssl.pick_labels(y, 3, seed=0)
    assert len(idx) == 30 and torch.bincount(y[idx]).tolist() == [3] * 10
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 10))
    x = torch.randn(50, 1, 2, 2)
    pred = model(x).argmax(1)
    assert ssl.errors_per_10k(model, x, pred) == 0
    assert ssl.errors_per_10k(model, x, (pred + 1) % 10) == 1e4


def test_semi_supervised_training_runs_and_averages_d(tmp_path):
    from gancourse import data, training
    from gancourse.training import losses
    torch.manual_seed(0)
    x = torch.rand(200, 1, 28, 28)
    y = torch.randint(10, (200,))
    D, G = ssl.MNISTClassifier(), ssl.MNISTGenerator()
    tr = training.Trainer(G, D, d_loss_fn=ssl.KPlusOneLoss(x[:20], y[:20], batch_size=20),
                          g_loss_fn=losses.FeatureMatching(), z_dist="uniform", lr=3e-3, ema_d=0.999,
                          progress=False, out_dir=tmp_path, log_every=1)
    tr.fit(data.batches(x, 20), 3)
    assert tr.D_ema is not None and tr.history[-1]["d_loss"] > 0
    assert math.isfinite(tr.history[-1]["g_loss"])
    resumed = training.Trainer(ssl.MNISTGenerator(), ssl.MNISTClassifier(),
                               d_loss_fn=ssl.KPlusOneLoss(x[:20], y[:20], batch_size=20),
                               g_loss_fn=losses.FeatureMatching(), z_dist="uniform", lr=3e-3, ema_d=0.999,
                               progress=False, out_dir=tmp_path)
    assert resumed.step == 3
    for a, b in zip(resumed.D_ema.parameters(), tr.D_ema.parameters()):
        assert torch.equal(a, b)


def test_supervised_baseline_learns_separable_data():
    torch.manual_seed(0)
    y = torch.arange(100) % 2
    x = torch.rand(100, 1, 28, 28) * 0.5 + 0.5 * y.view(-1, 1, 1, 1)   # class = bright or dark
    net = ssl.MNISTClassifier(n_classes=2)
    ssl.init_weightnorm(net, x)
    model = ssl.train_supervised(net, x, y, 100, 50)
    assert ssl.errors_per_10k(model, x, y) < 1000


def test_the_official_epsilon_reaches_adam_and_the_epsilon_study_is_committed():
    from gancourse.training import losses
    from gancourse import training
    tr = training.Trainer(ssl.MNISTGenerator(), ssl.MNISTClassifier(), g_loss_fn=losses.FeatureMatching("mean"),
                          eps=ssl.OFFICIAL_EPS, progress=False)
    assert {g["eps"] for o in (tr.opt_d, tr.opt_g) for g in o.param_groups} == {1e-4}
    assert tr.identity["eps"] == 1e-4 and tr.identity["g_loss_fn"]["reduction"] == "mean"
    study = ssl.epsilon_study()
    assert len(study["runs"]) >= 3 and {"step", "fm_sum", "d", "err_avg"} <= set(study["runs"][0]["records"][0])


def test_labelled_batches_chain_permutations_and_resume():
    """Official tiling: consecutive slices of a chain of permutations of the labelled set (each label
    once per pass); the chain's remainder is saved, so a resumed run draws the same batches."""
    x, y = torch.arange(10.0)[:, None], torch.arange(10) % 5
    hook = ssl.KPlusOneLoss(x, y, batch_size=4)
    torch.manual_seed(0)
    first = [hook.labelled_batch() for _ in range(5)]                    # 20 indices = two passes
    flat = torch.cat(first)
    assert sorted(flat[:10].tolist()) == list(range(10)) and sorted(flat[10:].tolist()) == list(range(10))
    torch.manual_seed(0)
    again = ssl.KPlusOneLoss(x, y, batch_size=4)
    [again.labelled_batch() for _ in range(2)]
    state, rng = again.state_dict(), torch.get_rng_state()
    resumed = ssl.KPlusOneLoss(x, y, batch_size=4)
    resumed.load_state_dict(state)
    torch.set_rng_state(rng)
    assert all(torch.equal(a, b) for a, b in zip(first[2:], [resumed.labelled_batch() for _ in range(3)]))
    assert all(len(b) == 4 for b in first)
