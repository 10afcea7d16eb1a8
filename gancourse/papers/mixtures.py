"""The 2D-mixture experiments (notebooks 01 and 02): the GAN recipe of the mode-collapse benchmarks,
and mode coverage measured over independent evaluation draws.

The mixtures themselves are ``data.ring8`` / ``data.grid25``; the metric is ``metrics.mode_coverage``.
"""
from __future__ import annotations

import torch

from ..training import losses
from ..instruments import metrics
from .. import seeding
from ..data import Mixture, batches
from ..nn.models import MLPDiscriminator, MLPGenerator
from ..training import Trainer


def train_gan(mix: Mixture, loss: str, steps: int, batch_size: int = 256, hidden: int = 128,
              z_dim: int = 2, device="cpu", seed: int = 0, out_dir=None, lr: float = 1e-4, spectral: bool = False,
              **trainer_kw) -> Trainer:
    """The 2D benchmark recipe: MLP G and D (3 hidden layers), Adam (lr 1e-4 by default), β=(0.5, 0.9);
    ``spectral`` normalises D's layers.

    The Wasserstein loss gets WGAN-GP's toy settings (λ = 0.1, 5 critic steps), as in
    Gulrajani et al.'s 2D experiments; the others train D and G in turn.
    """
    torch.manual_seed(seed)
    G, D = MLPGenerator(z_dim, hidden), MLPDiscriminator(2, hidden, sn=spectral)
    # thread_free: an MLP on 2D points trains to the same bits at any thread count (tests/test_threads.py)
    kw = dict(lr=lr, betas=(0.5, 0.9), ema_decay=0.99, log_every=max(1, steps // 100), thread_free=True)
    if loss == "wasserstein":
        kw.update(n_critic=5, d_terms=[losses.WGANGP(0.1)])
    kw.update(trainer_kw)
    trainer = Trainer(G, D, loss=loss, z_dim=z_dim, device=device, seed=seed, out_dir=out_dir,
                      desc=f"{mix.name}/{loss}", data_id=dict(mixture=mix.name), **kw)
    data = mix.sample(max(50_000, batch_size * 10), device=device, generator=seeding.generator(seed, "mixture data"))
    trainer.fit(batches(data, batch_size), steps)
    return trainer


def coverage(trainer: Trainer, mix: Mixture, n: int, draws: int) -> list[dict]:
    """``metrics.mode_coverage`` of ``n`` EMA samples, on ``draws`` independent draws of the noise."""
    return [metrics.mode_coverage(trainer.sample(n, name="mode coverage", draw=d), mix) for d in range(draws)]
