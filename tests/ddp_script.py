"""A small GAN trained into OUT_DIR with a global batch of 16: in one process, or data-parallel under
torchrun (gloo). --die-at N: rank 0 SIGKILLs itself at step N. Rank 0 prints the final numbers as JSON."""
import argparse
import json
import os
import signal

import torch

from gancourse import data, profiles, training
from gancourse.training import ranks as distributed, losses
from gancourse.nn import models

ap = argparse.ArgumentParser()
ap.add_argument("out_dir")
ap.add_argument("--steps", type=int, default=30)
ap.add_argument("--die-at", type=int, default=0)
args = ap.parse_args()

os.environ["GANCOURSE_THREADS"] = "1"       # pinned: the course would otherwise follow the load
torch.set_num_threads(1)
if "RANK" in os.environ:
    distributed.init_from_env()
profiles.seed_everything(3)
x = data.grid25().sample(2048)
G, D = models.MLPGenerator(2, 32), models.MLPDiscriminator(2, 32)


def die(trainer, ctx):
    if args.die_at and trainer.step + 1 == args.die_at and distributed.is_main():
        os.kill(os.getpid(), signal.SIGKILL)


tr = training.Trainer(G, D, loss="wasserstein", lr=1e-3, d_terms=[losses.WGANGP(1.0)], out_dir=args.out_dir,
                      ckpt_every=10, log_every=5, seed=3, progress=False, callbacks=[die])
tr.fit(data.batches(x, 16), args.steps)
if distributed.is_main():
    print(json.dumps({"step": tr.step, "world": distributed.rank_world()[1],
                      "G_ema": {k: v.tolist() for k, v in tr.G_ema.module.state_dict().items()},
                      "d_loss": [h["d_loss"] for h in tr.history]}))
