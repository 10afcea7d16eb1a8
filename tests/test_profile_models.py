"""The course and paper profiles cannot rot unseen: every network those settings build is built here
and takes one training step at batch 2 on the CPU."""
import pytest
import torch

from gancourse import data, profiles, training
from gancourse.papers import improved, progressive, ssl, stabilizers
from gancourse.training import losses
from gancourse.nn import models

GPU_PROFILES = ("course", "paper")


def _channels(images):
    return (1, 28) if images == "mnist" else (3, 32)


def _step(G, D, x, **kw):
    tr = training.Trainer(G, D, progress=False, **kw)
    tr.fit(data.batches(x, 2), 1)
    assert tr.step == 1


@pytest.mark.parametrize("profile", GPU_PROFILES)
def test_01_and_02_networks(profile):
    c01 = profiles.settings("01_gan_foundations", profile)
    torch.manual_seed(0)
    _step(models.DCGANGenerator(100, c01.dcgan_width, 1, 28), models.DCGANDiscriminator(c01.dcgan_width, 1, 28),
          torch.rand(4, 1, 28, 28))
    _step(models.MLPGenerator(2, c01.toy_hidden), models.MLPDiscriminator(2, c01.toy_hidden), torch.randn(8, 2))
    c02 = profiles.settings("02_improved_techniques", profile)
    ch, size = _channels(c02.images)
    x = torch.rand(4, ch, size, size) * 2 - 1
    G0, D0 = models.DCGANGenerator(100, c02.img_width, ch, size), models.DCGANDiscriminator(c02.img_width, ch, size)
    G, D, kw = improved.apply(improved.TECHNIQUES, G0, D0, x[:2], torch.randn(2, 100), 0.01, c02.mbd_kernels)
    _step(G, D, x, **kw)


@pytest.mark.parametrize("profile", GPU_PROFILES)
def test_03_networks(profile):
    cfg = profiles.settings("03_semi_supervised", profile)
    x, y = torch.rand(cfg.batch, 1, 28, 28), torch.arange(cfg.batch) % 10
    D, G = ssl.MNISTClassifier(), ssl.MNISTGenerator()
    ssl.init_weightnorm(D, x)
    _step(G, D, x[:4], d_loss_fn=ssl.KPlusOneLoss(x, y, 2), g_loss_fn=losses.FeatureMatching(), z_dist="uniform")


@pytest.mark.parametrize("profile", GPU_PROFILES)
def test_04_rows(profile):
    cfg = profiles.settings("04_pggan_swd", profile)
    ch, size = _channels(cfg.images)
    size = 32
    x = torch.rand(4, ch, size, size) * 2 - 1
    for name in progressive.ROWS:
        run = progressive.train(name, progressive.row_config(name), x, kimg=0.002, schedule=progressive.Schedule(size),
                                width=cfg.width, z_dim=cfg.z_dim, batch_size=2, progress=False)
        assert run.trainer.step == 1


@pytest.mark.parametrize("profile", GPU_PROFILES)
def test_05_networks(profile):
    cfg = profiles.settings("05_stabilizers", profile)
    ch, size = _channels(cfg.images)
    x = torch.rand(4, ch, size, size) * 2 - 1
    for name in ("none", "wgan-gp", "sn", "r1"):
        r = stabilizers.train(name, x, 1, 2, cfg.width, attention=name == "sn", progress=False)
        assert r.trainer.step == 1
    for w in cfg.big_widths:
        r = stabilizers.train("biggan", x, 1, 2, w, labels=torch.arange(4) % 10, n_classes=10, progress=False)
        assert r.trainer.step == 1
