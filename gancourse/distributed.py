"""Data-parallel training with torch.distributed, launched by ``torchrun`` (one machine or several).

Every rank holds the same G and D (same seed, same averaged gradients), draws the same *global*
batch of real images and noise from the same RNG and keeps its own share of it; after each backward
pass the gradients are averaged over ranks (what DDP's all-reduce does), so a run on N processes
follows a one-process run with the same global batch, up to the order of floating-point sums (and
BatchNorm, whose statistics are per rank, as with DDP without SyncBatchNorm). Rank 0 alone writes
checkpoints, logs and results; every rank resumes from them. Random draws inside hooks that take one
number per sample (WGAN-GP's interpolation weights) are drawn for the global batch and shared
(``global_rand``); augmentations and noise layers draw per rank: statistically the same, not bitwise.

    torchrun --nproc_per_node 2 -m gancourse.distributed --out runs/ddp --steps 2000 --batch 128

trains notebook 01's DCGAN on MNIST that way (``gloo`` on CPUs, ``nccl`` on GPUs); a notebook reads the
result with ``distributed.load_dcgan(out)``, or launches it with ``distributed.launch(...)``.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import torch
import torch.distributed as dist


def rank_world() -> tuple[int, int]:
    """(rank, world size) of this process; (0, 1) outside torch.distributed."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    return rank_world()[0] == 0


def share(t: torch.Tensor) -> torch.Tensor:
    """This rank's share of a global batch (the first dimension split into world-size equal parts)."""
    rank, world = rank_world()
    if world == 1:
        return t
    if len(t) % world:
        raise ValueError(f"a global batch of {len(t)} does not split over {world} processes")
    return t.chunk(world)[rank]


def average_gradients(params) -> None:
    """All-reduce every gradient and divide by the world size: the data-parallel step."""
    rank, world = rank_world()
    if world == 1:
        return
    for p in params:
        if p.grad is not None:
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
            p.grad.div_(world)


def mean_over_ranks(record: dict) -> dict:
    """The float values of ``record`` averaged over ranks (one all-reduce): logged losses then describe
    the global batch, as in one process."""
    rank, world = rank_world()
    keys = [k for k, v in record.items() if isinstance(v, float)]
    if world == 1 or not keys:
        return record
    t = torch.tensor([record[k] for k in keys], dtype=torch.float64)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return {**record, **{k: v / world for k, v in zip(keys, t.tolist())}}


def global_rand(n: int, *shape, device=None) -> torch.Tensor:
    """U[0, 1) numbers for this rank's ``n`` samples, drawn as the global batch's and shared, so a
    data-parallel run draws exactly what one process would (e.g. WGAN-GP's interpolation weights)."""
    world = rank_world()[1]
    return share(torch.rand(n * world, *shape, device=device))


def barrier() -> None:
    if rank_world()[1] > 1:
        dist.barrier()


def init_from_env() -> str:
    """Join the process group torchrun describes in the environment: nccl with GPUs, gloo without."""
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend)
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    return backend


def launch(args: list[str], nproc: int = 2, timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run ``torchrun --nproc_per_node nproc -m gancourse.distributed *args`` (e.g. from a notebook)."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "gancourse.distributed", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


# -- the demonstration recipe: notebook 01's DCGAN on MNIST, data-parallel ------------------------

def dcgan_trainer(out_dir, width: int = 32, seed: int = 0, device="cpu", progress: bool = True):
    from . import models, training          # here, not at the top: training imports this module
    torch.manual_seed(seed)
    G, D = models.DCGANGenerator(100, width, 1, 28), models.DCGANDiscriminator(width, 1, 28)
    models.dcgan_init(G), models.dcgan_init(D)
    return training.Trainer(G, D, loss="non_saturating", lr=2e-4, betas=(0.5, 0.999), device=device, seed=seed,
                            out_dir=out_dir, ckpt_every=100, log_every=10, desc="dcgan (data-parallel)",
                            progress=progress)


def load_dcgan(out_dir, width: int = 32):
    """The trainer of a finished data-parallel DCGAN run, resumed from its checkpoint in this process."""
    return dcgan_trainer(out_dir, width, progress=False)


def main(argv=None) -> int:
    from . import data, seeding             # (see dcgan_trainer)
    ap = argparse.ArgumentParser(prog="torchrun ... -m gancourse.distributed", description=__doc__.split("\n\n")[0])
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
    root = args.data_root or os.environ.get("GANCOURSE_DATA") or Path(__file__).resolve().parent.parent / "data"
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
