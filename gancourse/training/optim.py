"""Adam as the trainer uses it, and the exponential moving average of weights (G's samples, the
K+1 classifier's D). Guarantee: the same update as ``torch.optim.Adam``; the EMA's first updates are
not dominated by the random initialisation."""
from __future__ import annotations

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel


def adam(params, lr: float, betas, eps: float = 1e-8) -> torch.optim.Adam:
    """Adam with its fused kernel (one launch for all parameters) when every parameter is a float CUDA
    tensor; torch's default otherwise. Same update. Not fused on a CPU: there it is 3-5x faster on idle
    cores but, with two threads and another process on the cores, ~80 ms a step (an OpenMP barrier per
    tensor; benchmarks/bench_adam.py)."""
    params = list(params)
    fused = bool(params) and all(p.is_floating_point() and p.device.type == "cuda" for p in params)
    return torch.optim.Adam(params, lr=lr, betas=betas, eps=eps, fused=fused or None)


def ema_with_warmup(decay: float):
    """EMA whose decay ramps up as min(decay, (1 + n) / (10 + n)) after n updates, so that the
    average of a short run is not dominated by the random initialisation."""
    def avg_fn(averaged, current, num_averaged):
        n = float(num_averaged)
        beta = min(decay, (1.0 + n) / (10.0 + n))
        return beta * averaged + (1.0 - beta) * current
    return avg_fn


def ema(net: nn.Module, decay: float | None) -> AveragedModel | None:
    """An averaged copy of ``net`` (buffers too), updated with ``.update_parameters(net)``; None without a decay."""
    return AveragedModel(net, avg_fn=ema_with_warmup(decay), use_buffers=True) if decay else None
