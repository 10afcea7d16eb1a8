"""The port of the official semi-supervised MNIST code (tests/reference/improved_gan_mnist.py) against
the project's K+1 implementation (gancourse.papers.ssl): the same loss math, and the port itself learns."""
import types

import pytest
import torch

from gancourse import data
from gancourse.papers import ssl
from reference import improved_gan_mnist as port


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    """One torch thread in these tests (the machine is shared), restored afterwards; pinned for the course's
    trainers too (gancourse.threads would otherwise follow the load)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    monkeypatch.setenv("GANCOURSE_THREADS", "1")
    yield
    torch.set_num_threads(n)


def test_losses_equal_the_projects():
    g = torch.Generator().manual_seed(0)
    real, fake, lab = (torch.randn(100, 10, generator=g) * 3 for _ in range(3))
    y = torch.randint(10, (100,), generator=g)
    # official loss_lab is the cross-entropy; official loss_unl is 0.5 × the K+1 GAN loss
    assert torch.allclose(port.loss_lab_fn(lab, y), ssl.supervised_loss(lab, y), atol=1e-5)
    assert torch.allclose(port.loss_unl_fn(real, fake), 0.5 * ssl.unsupervised_loss(real, fake), atol=1e-5)
    # the project's trainer hook: sup + w · 0.5 · unsup = official loss_lab + w · loss_unl (w = 1); with 100
    # labels and batch 100 the labelled batch is, as officially, every labelled example once
    hook = ssl.KPlusOneLoss(lab, y, batch_size=100)
    ctx = types.SimpleNamespace(D=lambda x: x, d_real=real, d_fake=fake)   # D = identity on the logits
    expect = port.loss_lab_fn(lab, y) + 1.0 * port.loss_unl_fn(real, fake)
    for _ in range(3):
        assert torch.allclose(hook(ctx), expect, atol=1e-5)


def test_same_networks_and_feature_layer_as_the_project():
    import numpy as np
    D = port.Discriminator(np.random.RandomState(0))
    widths = [l.b.numel() for l in D.dense]
    assert widths == [1000, 500, 250, 250, 250, 10]
    assert [l.train_scale for l in D.dense] == [False] * 5 + [True]     # only the output layer trains g
    ours = ssl.MNISTClassifier()
    assert [m.b.numel() for m in ours.modules() if hasattr(m, "g")] == widths
    assert [m.g.requires_grad for m in ours.modules() if hasattr(m, "g")] == [False] * 5 + [True]
    x = torch.rand(7, 784)
    assert D(x, upto=-3).shape == ours.features(x).shape == (7, 250)


def test_data_dependent_init_standardises_each_layer():
    import numpy as np
    D = port.Discriminator(np.random.RandomState(0))
    for layer in D.layers:
        if isinstance(layer, port.Noise):
            layer.sigma = 0.0                 # noise off, so that a second pass sees what the init pass saw
    x = torch.rand(500, 784)
    with torch.no_grad():
        D(x, init=True)
        h = x
        for layer in D.dense:
            relu, layer.relu = layer.relu, False
            pre = layer(h, layer.params())    # pre-activations with the g and b the init pass set
            layer.relu = relu
            assert torch.allclose(pre.mean(0), torch.zeros(()), atol=1e-4)
            assert torch.allclose(pre.pow(2).mean(0), torch.ones(()), atol=1e-3)
            h = pre.clamp_min(0) if relu else pre


def test_port_learns_on_a_small_split():
    pool, test = data.packaged_mnist("train"), data.packaged_mnist("test")
    x, y = pool.images[:2000].float().div(255), pool.labels[:2000]
    lab = ssl.pick_labels(y, 10, seed=0)
    recs = port.train(x, x[lab], y[lab], test.images.float().div(255), test.labels, steps=300, seed=0,
                      eval_every=300)
    assert [r["step"] for r in recs] == [300]
    r = recs[0]
    assert min(r["err_avg"], r["err_raw"]) < 5000, r      # chance is 9,000 errors per 10,000
    assert all(torch.isfinite(torch.tensor(v)) for v in r.values())
