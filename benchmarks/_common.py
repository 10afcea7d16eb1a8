"""What every benchmark here does: time two (or more) runs interleaved, alternating which goes first,
and report a ratio measured in the same run as min / median / max over rounds."""
from __future__ import annotations

import statistics
import subprocess
import time
from pathlib import Path

import torch

from gancourse.course.results import cpu_kind, hardware


def interleaved(runs: dict, rounds: int, device: str = "cpu", scale: float = 1.0) -> dict[str, list[float]]:
    """Seconds (times ``scale``) of each run in each round; the order of the runs rotates every round. A run
    that returns a count (of steps it chose to run) is timed per unit of that count."""
    names, times = list(runs), {k: [] for k in runs}
    for r in range(rounds):
        for k in names[r % len(names):] + names[:r % len(names)]:
            t0 = time.perf_counter()
            count = runs[k]()
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            times[k].append((time.perf_counter() - t0) * scale / (count if isinstance(count, int) and count > 0 else 1))
    return times


def ratio(numerator: list[float], denominator: list[float]) -> dict:
    """min / median / max over rounds of numerator[i] / denominator[i]."""
    r = [a / b for a, b in zip(numerator, denominator)]
    return dict(min=round(min(r), 3), median=round(statistics.median(r), 3), max=round(max(r), 3))


def commit() -> str:
    """The commit the benchmark ran on (with -dirty when the working tree differs)."""
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty"], capture_output=True, text=True)
    return out.stdout.strip() or "unknown"


def provenance(device: str) -> dict:
    """Where and when a benchmark ran: device, hardware, threads, torch, date and commit, for its JSON record."""
    return dict(device=str(device), hardware=hardware(device), cpu_kind=cpu_kind(), threads=torch.get_num_threads(),
                torch=torch.__version__, date=time.strftime("%Y-%m-%d"), commit=commit())
