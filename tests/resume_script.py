"""Trains a small GAN into OUT_DIR; with --die-at N it SIGKILLs itself at step N (no clean-up).

--kind mlp: a 2D WGAN-GP; --kind progressive: a growing PGGAN (4→8→16 px) whose schedule changes
resolution between checkpoints, with an SWD curve. Prints the final numbers as JSON."""
import argparse
import json
import os
import signal

import torch

from gancourse import data, profiles, training
from gancourse.training import checkpoint, losses
from gancourse.nn import models
from gancourse.papers import progressive

ap = argparse.ArgumentParser()
ap.add_argument("out_dir")
ap.add_argument("--kind", default="mlp", choices=["mlp", "progressive"])
ap.add_argument("--steps", type=int, default=40)
ap.add_argument("--die-at", type=int, default=0)
ap.add_argument("--die-in-save", type=int, default=0, help="SIGKILL inside the checkpoint write at this step")
args = ap.parse_args()

if args.die_in_save:                                     # killed after the temporary file, before the renames
    real_replace = checkpoint.os.replace

    def dying_replace(src, dst):
        if str(src).endswith(".tmp") and DIE_NOW[0]:
            os.kill(os.getpid(), signal.SIGKILL)
        return real_replace(src, dst)
    DIE_NOW = [False]
    checkpoint.os.replace = dying_replace

os.environ["GANCOURSE_THREADS"] = "1"       # pinned: the course would otherwise follow the load
torch.set_num_threads(1)
profiles.seed_everything(7)


def die(trainer, ctx):
    if args.die_at and trainer.step + 1 == args.die_at:
        os.kill(os.getpid(), signal.SIGKILL)
    if args.die_in_save and trainer.step + 1 == args.die_in_save:
        DIE_NOW[0] = True                                # the checkpoint written after this step dies mid-write


if args.kind == "mlp":
    x = data.ring8().sample(4096)
    G, D = models.MLPGenerator(2, 32), models.MLPDiscriminator(2, 32)
    tr = training.Trainer(G, D, loss="wasserstein", lr=1e-3, n_critic=2, d_terms=[losses.WGANGP(1.0)],
                          out_dir=args.out_dir, ckpt_every=10, log_every=5, seed=7, progress=False,
                          callbacks=[die])
    tr.fit(data.batches(x, 64), args.steps)
    probe = tr.sample(z=torch.ones(2, 2))
    extra = {}
else:
    x = torch.rand(64, 1, 16, 16) * 2 - 1
    ref = ((torch.rand(32, 1, 16, 16)) * 255).to(torch.uint8)
    # 8 images a step: a phase of 0.04 kimg is 5 steps, so lod moves 2 → 1.5 → 1 → 0.5 → 0 over steps 5-20;
    # checkpoints every 6 steps fall inside phases and fades.
    sched = progressive.Schedule(16, train_kimg=0.04, fade_kimg=0.04)
    orig_init = progressive.Trainer.__init__

    def init(self, *a, **kw):
        kw["callbacks"] = list(kw["callbacks"]) + [die]
        orig_init(self, *a, **kw)
    progressive.Trainer.__init__ = init
    run = progressive.train("t", progressive.row_config(progressive.PGGAN), x, kimg=args.steps * 8 / 1000,
                            schedule=sched, width=4, z_dim=8, batch_size=8, progress=False, ckpt_every=6,
                            curve_reference=ref, every_kimg=0.04, out_dir=args.out_dir, seed=7)
    tr = run.trainer
    probe = tr.sample(z=torch.ones(2, 8))
    extra = {"resets": run.growth.resets, "lod": tr.G.lod, "curve": [r["avg"] for r in run.curve.records],
             "snapshots": sorted(run.growth.snapshots)}
params = {k: v.tolist() for k, v in tr.G_ema.module.state_dict().items()}
print(json.dumps({"step": tr.step, "G_ema": params, "probe": probe.tolist(), **extra}))
