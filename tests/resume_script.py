"""Trains a small GAN into OUT_DIR; with --die-at N it SIGKILLs itself at step N (no clean-up)."""
import argparse
import json
import os
import signal

import torch

from gancourse import data, losses, models, profiles, training

ap = argparse.ArgumentParser()
ap.add_argument("out_dir")
ap.add_argument("--steps", type=int, default=40)
ap.add_argument("--die-at", type=int, default=0)
args = ap.parse_args()

torch.set_num_threads(1)
profiles.seed_everything(7)
mix = data.ring8()
x = mix.sample(4096)
G, D = models.MLPGenerator(2, 32), models.MLPDiscriminator(2, 32)


def die(trainer, ctx):
    if args.die_at and trainer.step + 1 == args.die_at:
        os.kill(os.getpid(), signal.SIGKILL)


tr = training.Trainer(G, D, loss="wasserstein", lr=1e-3, n_critic=2, d_terms=[losses.WGANGP(1.0)],
                      out_dir=args.out_dir, ckpt_every=10, log_every=5, seed=7, progress=False,
                      callbacks=[die])
tr.fit(data.batches(x, 64), args.steps)
params = {k: v.tolist() for k, v in tr.G_ema.module.state_dict().items()}
print(json.dumps({"step": tr.step, "G_ema": params, "probe": tr.sample(z=torch.ones(2, 2)).tolist()}))
