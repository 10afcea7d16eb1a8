"""Training time. Guarantee: only training counts (evaluations, sample grids and checkpoints run
``paused``), time on a GPU counts where its work was queued, and a resumed run goes on from the
training time its checkpoint recorded, so a time budget means the same thing after a kill."""
from __future__ import annotations

import time
from contextlib import contextmanager

import torch


class Clock:
    def __init__(self, device: torch.device):
        self.device = device
        self.start(0.0)

    def now(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)   # the GPU's queued work counts where it was queued
        return time.perf_counter()

    def start(self, elapsed: float) -> None:
        """Go on from ``elapsed`` seconds of training."""
        self._start = time.perf_counter() - elapsed

    def seconds(self) -> float:
        """Seconds of training so far, paused time excluded."""
        return self.now() - self._start

    def over(self, budget: float | None) -> bool:
        return budget is not None and self.seconds() >= budget

    @contextmanager
    def paused(self):
        """Time spent inside does not count as training time."""
        t0 = self.now()
        try:
            yield
        finally:
            self._start += self.now() - t0
