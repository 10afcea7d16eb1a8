"""How many CPU threads the course's work uses: every core on an idle machine, fewer when other programs
keep cores busy. Measured per workload by ``benchmarks/bench_threads.py`` (README: the time table).

torch's default is one thread per core. On an idle 2-core CPU that is 1.2-1.8x faster than one thread for
the course's models; with one other busy program beside it, it is 2-100x *slower* (each of a step's many
parallel regions waits for the thread that lost its core). So before work starts the course reads the load
(the CPU time other processes used, from ``/proc/stat``) and takes ``cores - round(others' busy cores)``
threads, at least one. Two kinds of work:

- **work whose numbers do not depend on the thread count** (the 2D-mixture GANs, feature extraction:
  ``tests/test_threads.py`` checks each bit for bit at 1 and 2 threads) looks again every few seconds and
  follows the load (:func:`adaptive`);
- **every other training run** (float sums split across threads round differently) decides once, when it
  starts, and keeps that count for the whole run and its resumes: the count is in its checkpoint, so a
  killed run resumes to the same numbers (:func:`for_run`, :func:`fixed`).

Evaluation (:func:`evaluation`) is the same two kinds: FID, KID, IS and MS-SSIM follow the load (tested bit
for bit); SWD, sampling and probes take one count per process; inside a training run's loop, the run's.

``results.json`` records what each run used (:func:`report`). ``GANCOURSE_THREADS=N`` (or
``OMP_NUM_THREADS=N``) pins the count for everything: to rerun a recorded run bit for bit on a machine whose
load differs, or to share the cores between jobs (``gancourse run --jobs`` does). Without ``/proc`` (macOS,
Windows) the course keeps torch's default. On a GPU none of this applies.
"""
from __future__ import annotations

import functools
import os
import threading
import time
from contextlib import contextmanager

import torch

try:
    from threadpoolctl import threadpool_limits      # scikit-learn's own dependency
except ImportError:                                  # pragma: no cover
    threadpool_limits = None

from . import CourseError

ENV = "GANCOURSE_THREADS"
RECHECK_S = 1.0             # how often work that follows the load looks at it again
ALL_CORES = torch.get_num_threads()   # torch's default when the course was imported: one thread per core

_decided: dict[str, tuple[int, str]] = {}     # run key -> (threads, why): a run keeps its count in this process
_used: list[dict] = []                         # what report() gathers since the last reset()
_in_run = 0                                    # > 0 inside a run's fixed count (its evaluations keep it)
_active = None                                 # the outermost work that follows the load, while it runs


def override() -> int | None:
    """The thread count the user pinned (``GANCOURSE_THREADS``, else ``OMP_NUM_THREADS``), or None."""
    for name in (ENV, "OMP_NUM_THREADS"):
        value = os.environ.get(name)
        if value is None or value.strip() == "":
            continue
        try:
            n = int(value)
        except ValueError:
            n = 0
        if n < 1:
            raise CourseError(f"{name}={value!r}: a thread count is a positive integer, e.g. {name}=1 "
                              f"(or unset it: the course then follows the machine's load)")
        return n
    return None


def _cpu_times() -> tuple[float, float, int, float] | None:
    """(busy jiffies, all jiffies, CPUs, this process's jiffies) from /proc, or None where there is none."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
            n_cpus = sum(1 for line in f if line.startswith("cpu"))
        with open("/proc/self/stat") as f:
            own = f.read().rsplit(")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)            # idle + iowait
    busy = sum(fields[:8]) - idle if len(fields) >= 8 else sum(fields) - idle   # guest time is in user already
    return float(busy), float(busy + idle), max(1, n_cpus), float(int(own[11]) + int(own[12]))   # utime + stime


class _Load:
    """Other processes' CPU use, in cores: a daemon thread reads /proc twice a second (two small files; it
    starts at the first question and never touches torch) and keeps the last few half-second readings."""
    PERIOD, KEPT = 0.5, 4

    def __init__(self):
        self.values, self.thread, self.ready, self.readable = [], None, threading.Event(), None

    def _watch(self) -> None:
        last = _cpu_times()
        while True:
            time.sleep(self.PERIOD)
            now = _cpu_times()
            if now is None or last is None:
                last = now
                continue
            (b0, t0, _, o0), (b1, t1, n, o1) = last, now
            value = max(0.0, (b1 - b0 - (o1 - o0)) / (t1 - t0) * n) if t1 > t0 else 0.0
            self.values = (self.values + [value])[-self.KEPT:]
            self.ready.set()
            last = now

    def others(self, window: float) -> float | None:
        """The mean over the last ``window`` seconds (at least the last reading)."""
        if self.readable is None:
            self.readable = _cpu_times() is not None
        if not self.readable:
            return None
        if self.thread is None:
            self.thread = threading.Thread(target=self._watch, name="gancourse load watch", daemon=True)
            self.thread.start()
        self.ready.wait()
        recent = self.values[-max(1, round(window / self.PERIOD)):]
        return sum(recent) / len(recent)


_load = _Load()


def decide(window: float = 1.0) -> tuple[int, str]:
    """(threads, why): the pinned count, or all cores less those other programs kept busy over the last
    ``window`` seconds (at least 1): a run decides for good on the last second, work that follows the load
    looks at the last half second."""
    pinned = override()
    if pinned is not None:
        return pinned, f"pinned ({ENV if os.environ.get(ENV) else 'OMP_NUM_THREADS'}={pinned})"
    others = _load.others(window)
    if others is None:
        return ALL_CORES, "torch's default (no /proc to read the load from)"
    n = max(1, ALL_CORES - int(others + 0.5))
    return n, f"{'idle machine' if n == ALL_CORES else 'busy machine'}: other programs used {others:.1f} of {ALL_CORES} cores"


def for_run(key: str, saved: int | None = None) -> int:
    """The thread count of training run ``key``: ``saved`` (from its checkpoint) when it resumes, the count
    this process already chose for it, or a fresh decision; recorded for :func:`report`."""
    if saved is not None:
        pinned = override()
        _decided[key] = (saved, "kept from its checkpoint" if pinned in (None, saved)
                         else "kept from its checkpoint (a pin applies to new runs only)")
    elif key not in _decided:
        _decided[key] = decide()
    n, why = _decided[key]
    _used.append(dict(run=key, threads=n, why=why))
    return n


def _set(n: int) -> None:
    """torch's threads and the BLAS pools NumPy and SciPy loaded (scikit-learn's probe: two OpenBLAS threads
    beside a busy program spin-wait for each other as torch's do)."""
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    if threadpool_limits is not None:
        threadpool_limits(limits=n, user_api="blas")


class _Idle:
    def tick(self) -> None:
        pass


@contextmanager
def fixed(n: int | None, device="cpu"):
    """Run the block with ``n`` threads (on a CPU; None: as it is), then restore the count before it. Yields
    an object whose ``tick()`` does nothing, as :func:`adaptive`'s follows the load."""
    if torch.device(device).type != "cpu" or n is None:
        yield _Idle()
        return
    global _in_run
    before = torch.get_num_threads()
    _set(n)
    _in_run += 1
    try:
        yield _Idle()
    finally:
        _in_run -= 1
        _set(before)


class RunThreads:
    """A training run's threads, as the Trainer composes them: ``with pace:`` around its loop, ``pace.tick()``
    between steps. Thread-free work follows the load; any other run takes the count chosen when it first trains
    (``count``, which its checkpoint keeps; ``keep(n)`` on resume)."""

    def __init__(self, key, thread_free: bool, device):
        self.key, self.thread_free, self.device, self.count = str(key), thread_free, torch.device(device), None
        self._ctx = self._state = None

    def keep(self, n: int) -> None:
        self.count = for_run(self.key, n)

    def __enter__(self):
        if self.thread_free:
            self._ctx = adaptive(self.key, self.device)
        else:
            if self.device.type == "cpu" and self.count is None:
                self.count = for_run(self.key)
            self._ctx = fixed(self.count, self.device)
        self._state = self._ctx.__enter__()
        return self

    def tick(self) -> None:
        self._state.tick()

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


def training(key: str, device="cpu"):
    """``with threads.training(key, device):`` a training loop without a checkpoint of its own, at the count
    this process chose for run ``key`` (a rerun in the same kernel trains with the same count)."""
    return fixed(for_run(key) if torch.device(device).type == "cpu" else None, device)


class _Adaptive:
    def __init__(self, what: str):
        self.what, self.next, self.seconds = what, 0.0, {}
        self.n, self.since = torch.get_num_threads(), time.monotonic()

    def tick(self) -> None:
        """Between two units of work: follow the load (every ``RECHECK_S`` seconds)."""
        now = time.monotonic()
        if now < self.next:
            return
        self.next = now + RECHECK_S
        n, _ = decide(window=_Load.PERIOD)
        if n != self.n:
            self.seconds[self.n] = self.seconds.get(self.n, 0.0) + now - self.since
            self.n, self.since = n, now
            _set(n)

    def close(self) -> None:
        self.seconds[self.n] = self.seconds.get(self.n, 0.0) + time.monotonic() - self.since
        _used.append(dict(run=self.what, adaptive={str(k): round(v, 2) for k, v in sorted(self.seconds.items())}))


@contextmanager
def adaptive(what: str, device="cpu"):
    """For work whose numbers do not depend on the thread count: threads that follow the load, looked at
    again whenever the block calls ``tick()`` and ``RECHECK_S`` seconds have passed."""
    global _active
    if torch.device(device).type != "cpu":
        yield _Idle()
        return
    if _active is not None:          # inside other work that follows the load: its record counts this time too
        yield _active
        return
    before = torch.get_num_threads()
    n, _ = decide(window=_Load.PERIOD)
    _set(n)
    state = _active = _Adaptive(what)
    try:
        yield state
    finally:
        _active = None
        state.close()
        _set(before)


EVALUATION = "evaluation"     # the run key of this process's evaluation count (results.json: threads.runs)


def evaluation(thread_free: bool = False):
    """Decorator for an evaluation (metrics, sampling, probes). Inside a training run's loop (a quality curve)
    it keeps the run's count. Elsewhere: ``thread_free`` work (its numbers equal at any count, tested in
    tests/test_threads.py) follows the load; any other evaluation takes the count this process chose for
    ``evaluation`` on its first use and keeps it, as a training run does (at torch's default every
    evaluation beside a busy program ran 2-5x slower than on one thread)."""
    def wrap(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            if _in_run:
                return fn(*args, **kwargs)
            with (adaptive(f"{EVALUATION} ({fn.__name__})") if thread_free else fixed(for_run(EVALUATION))):
                return fn(*args, **kwargs)
        return inner
    return wrap


def describe() -> str:
    """One line for a notebook's first output: how threads will be chosen."""
    pinned = override()
    if pinned is not None:
        return f"{pinned} thread{'s' * (pinned > 1)}, pinned"
    return f"up to {ALL_CORES} threads: all cores when the machine is idle, fewer beside busy programs; {ENV}=N pins"


def reset() -> None:
    """Start a new record (``notebook.start``); runs keep the counts they chose."""
    _used.clear()


def report() -> dict:
    """What ``results.json`` records: the cores, a pin if any, each training run's count and why, and the
    seconds work that follows the load spent at each count."""
    by_run, adaptive_s = {}, {}
    for rec in _used:
        if "adaptive" in rec:
            for k, v in rec["adaptive"].items():
                adaptive_s[k] = round(adaptive_s.get(k, 0.0) + v, 1)
        else:
            by_run[rec["run"]] = rec                  # the latest word on each run (a resume says "kept")
    runs = list(by_run.values())
    counts = sorted({r["threads"] for r in runs})
    return dict(cores=ALL_CORES, pinned=override(), runs_at={str(n): sum(r["threads"] == n for r in runs) for n in counts},
                runs=runs, adaptive_seconds_at=adaptive_s)
