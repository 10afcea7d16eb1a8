"""Where a notebook's minutes go, in a few coarse buckets: ``training`` (GAN and classifier training
loops), ``evaluation`` (feature extraction, FID/KID/IS, SWD, MS-SSIM, probes, the course's extractor
training), ``plotting`` (rendering figures); the rest of a notebook's wall time is ``other`` (data,
set-up, printing). Guarantee: buckets nest without double counting (an evaluation inside a training
loop, e.g. a quality curve, counts as evaluation, not training), and timing never touches a number.

    @timing.timed("evaluation")
    def image_metrics(...): ...

``results.json`` records ``timing`` (seconds per bucket, since ``notebook.start``); the README's time
table shows the split, so the next speed-up aims at the biggest bucket. On a GPU, queued work is
waited for at each bucket's end, so it counts where it was queued.
"""
from __future__ import annotations

import functools
import time
from collections import defaultdict
from contextlib import contextmanager

BUCKETS = ("training", "evaluation", "plotting")
_totals: dict[str, float] = defaultdict(float)
_stack: list[list] = []          # [name, seconds spent in buckets nested inside it]


def _sync() -> None:
    import torch
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


@contextmanager
def bucket(name: str):
    """Count the time inside towards ``name``, less what nested buckets count."""
    if name not in BUCKETS:
        raise ValueError(f"unknown timing bucket {name!r}; one of {BUCKETS}")
    t0 = time.perf_counter()
    _stack.append([name, 0.0])
    try:
        yield
    finally:
        _sync()
        _, nested = _stack.pop()
        dt = time.perf_counter() - t0
        _totals[name] += dt - nested
        if _stack:
            _stack[-1][1] += dt


def timed(name: str):
    """Decorator form of :func:`bucket`."""
    def wrap(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            with bucket(name):
                return fn(*args, **kwargs)
        return inner
    return wrap


def reset() -> None:
    """Start counting afresh (``notebook.start`` does, so a rerun in the same kernel counts itself)."""
    _totals.clear()


def totals(wall: float | None = None, digits: int = 1) -> dict[str, float]:
    """Seconds per bucket (and ``other`` = the rest of ``wall``, when given), rounded to ``digits``."""
    out = {k: round(_totals.get(k, 0.0), digits) for k in BUCKETS}
    if wall is not None:
        out["other"] = round(max(0.0, wall - sum(_totals.get(k, 0.0) for k in BUCKETS)), digits)
    return out


def time_plotting() -> None:
    """Count figure rendering (matplotlib's ``print_figure``: savefig and the inline backend's display)
    as ``plotting``; idempotent."""
    from matplotlib.backend_bases import FigureCanvasBase
    if getattr(FigureCanvasBase.print_figure, "_gancourse_timed", False):
        return
    FigureCanvasBase.print_figure = timed("plotting")(FigureCanvasBase.print_figure)
    FigureCanvasBase.print_figure._gancourse_timed = True
