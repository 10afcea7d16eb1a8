"""Rank helpers for data-parallel training (torch.distributed, launched by ``torchrun``): which
process this is, its share of a global batch, gradients averaged over processes. Guarantee: outside
torch.distributed every helper is the identity (rank 0 of 1), so single-process code pays nothing.

Every rank holds the same G and D (same seed, same averaged gradients), draws the same *global*
batch of real images and noise from the same RNG and keeps its own share of it; after each backward
pass the gradients are averaged over ranks (what DDP's all-reduce does), so a run on N processes
follows a one-process run with the same global batch, up to the order of floating-point sums (and
BatchNorm, whose statistics are per rank, as with DDP without SyncBatchNorm). Rank 0 alone writes
checkpoints, logs and results; every rank resumes from them. Random draws inside hooks that take one
number per sample (WGAN-GP's interpolation weights) are drawn for the global batch and shared
(``global_rand``); augmentations and noise layers draw per rank: statistically the same, not bitwise.
The launcher and its demonstration recipe are ``gancourse.course.launch``.
"""
from __future__ import annotations

import os

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
