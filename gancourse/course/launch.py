"""Data-parallel training launched by ``torchrun`` (one machine or several), with notebook 01's
DCGAN on MNIST as the demonstration recipe. How the ranks share the work: ``gancourse.training.ranks``.

    torchrun --nproc_per_node 2 -m gancourse.course.launch --out runs/ddp --steps 2000 --batch 128

trains it that way (``gloo`` on CPUs, ``nccl`` on GPUs); a notebook reads the result with
``launch.load_dcgan(out)``, or starts it with ``launch.launch(...)``.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from .. import data, seeding
from ..nn import models
from ..training import Trainer
from ..training.ranks import barrier, init_from_env, is_main, rank_world


def launch(args: list[str], nproc: int = 2, timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run ``torchrun --nproc_per_node nproc -m gancourse.course.launch *args`` (e.g. from a notebook)."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "gancourse.course.launch", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


# -- the demonstration recipe: notebook 01's DCGAN on MNIST, data-parallel ------------------------

def dcgan_trainer(out_dir, width: int = 32, seed: int = 0, device="cpu", progress: bool = True):
    torch.manual_seed(seed)
    G, D = models.DCGANGenerator(100, width, 1, 28), models.DCGANDiscriminator(width, 1, 28)
    models.dcgan_init(G), models.dcgan_init(D)
    return Trainer(G, D, loss="non_saturating", lr=2e-4, betas=(0.5, 0.999), device=device, seed=seed,
                   out_dir=out_dir, ckpt_every=100, log_every=10, desc="dcgan (data-parallel)", progress=progress)


def load_dcgan(out_dir, width: int = 32):
    """The trainer of a finished data-parallel DCGAN run, resumed from its checkpoint in this process."""
    return dcgan_trainer(out_dir, width, progress=False)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="torchrun ... -m gancourse.course.launch", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=128, help="the global batch, split over the processes")
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--profile", default="smoke", help="which data the profile allows (smoke: packaged digits)")
    args = ap.parse_args(argv)
    init_from_env()
    device = f"cuda:{os.environ.get('LOCAL_RANK', 0)}" if torch.cuda.is_available() else "cpu"
    seeding.seed_everything(args.seed)
    root = args.data_root or os.environ.get("GANCOURSE_DATA") or Path(__file__).resolve().parents[2] / "data"
    train = data.load_images("mnist", "train", root, args.profile, verbose=is_main())
    tr = dcgan_trainer(Path(args.out), args.width, args.seed, device, progress=is_main())
    tr.fit(data.batches(train.float(device), args.batch), args.steps)
    barrier()
    if is_main():
        print(f"trained {tr.step} steps on {rank_world()[1]} processes; checkpoint in {args.out}")
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
