"""Seeds: training draws from the global RNG (seeded once, checkpointed with every run); every
*evaluation* draws from its own generator, derived from the run's seed and the evaluation's name.

So a finished run, a resumed run and a rerun in the same kernel print the same numbers: what ran
before an evaluation (training, or nothing because it resumed; another cell) cannot move its draw.

    z = torch.randn(n, 100, generator=seeding.generator(seed, "fid", draw))
    with seeding.evaluation(seed, "kid"):      # library code that uses the global RNG (torchmetrics)
        kid = metric.compute()

``draw`` numbers independent draws of one evaluation (same model, other noise): the spread over
draws is the evaluation's own noise, reported beside every claimed number that rests on samples.
"""
from __future__ import annotations

import hashlib
import os
import random
from contextlib import contextmanager

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and every GPU): the start of a training run."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))


def derive(seed: int, *names) -> int:
    """A 63-bit seed from the run's seed and names (stable across processes, unlike ``hash``)."""
    text = "|".join(str(x) for x in (seed, *names))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def generator(seed: int, *names, device="cpu") -> torch.Generator:
    """A torch generator for one evaluation: ``generator(run_seed, "mode coverage", draw)``."""
    return torch.Generator(device=device).manual_seed(derive(seed, *names))


@contextmanager
def evaluation(seed: int, *names):
    """Run library code that draws from the global RNG (torchmetrics' IS splits, KID subsets) with
    a seed derived from ``names``; the global RNG state outside is left exactly as it was."""
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    state = (random.getstate(), np.random.get_state())
    with torch.random.fork_rng(devices=devices):
        s = derive(seed, *names)
        torch.manual_seed(s)
        random.seed(s)
        np.random.seed(s % 2**32)
        try:
            yield
        finally:
            random.setstate(state[0])
            np.random.set_state(state[1])
