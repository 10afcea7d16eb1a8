"""The divergence guard. Guarantee: a run whose loss or weight became NaN or infinite stops, naming
the first step where a loss did (or the step where a weight was found so) and which; no checkpoint
is ever written after a bad step, so the last good one stays.

The step never waits for the device: losses are remembered on it (``watch``, no host sync) and read
at log steps and before each checkpoint (``verify``); python floats from callbacks are checked at once.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch

from .. import CourseError


class Diverged(CourseError):
    """A loss or a weight became NaN or infinite: the run stops, its last good checkpoint is kept."""


class DivergenceGuard:
    def __init__(self, desc: str, checkpoint: Path | None = None):
        self.desc, self.checkpoint = desc, checkpoint       # the run's checkpoint file, if it keeps one
        self.keys, self.bad_step, self.bad_vals = None, None, None

    def watch(self, rec: dict, step: int) -> None:
        """Remember, on the device, the first step (``step``, 1-based) whose losses were not finite."""
        bad = [f"{k} = {v}" for k, v in rec.items() if isinstance(v, float) and not math.isfinite(v)]
        if bad:
            self.fail(step, bad)
        keys = [k for k, v in rec.items() if torch.is_tensor(v)]
        if not keys:
            return
        if keys != self.keys:
            self.verify()                                 # a new set of losses: settle the old one first
            self.keys, self.bad_step = keys, None
        vals = torch.stack([rec[k].float() for k in keys])
        if self.bad_step is None:
            self.bad_step = torch.full((), math.inf, device=vals.device)
            self.bad_vals = torch.zeros_like(vals)
        first = ~torch.isfinite(vals).all() & torch.isinf(self.bad_step)
        self.bad_step = torch.where(first, torch.full_like(self.bad_step, step), self.bad_step)
        self.bad_vals = torch.where(first, vals, self.bad_vals)

    def verify(self, step: int | None = None, nets: dict | None = None) -> None:
        """Raise Diverged if a watched step's losses (or, with ``nets``, a weight now) are not finite."""
        if self.bad_step is not None and math.isfinite(bad := self.bad_step.item()):
            self.fail(int(bad), [f"{k} = {v}" for k, v in zip(self.keys, self.bad_vals.tolist()) if not math.isfinite(v)])
        if nets:
            bad = [f"a weight of {name}" for name, net in nets.items()
                   if not all(torch.isfinite(p).all() for p in net.parameters())]
            if bad:
                self.fail(step, bad)

    def fail(self, step: int, bad: list[str]) -> None:
        kept = self.checkpoint is not None and self.checkpoint.exists()
        where = f"; the last good checkpoint is kept in {self.checkpoint.parent}" if kept else ""
        raise Diverged(f"{self.desc}: training diverged at step {step}: {', '.join(bad)}{where}. "
                       "Lower the learning rate or add a stabilizer (gradient penalty, spectral norm).")
