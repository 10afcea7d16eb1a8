"""Batch runs: notebooks executed headless by papermill with parameters, one after another, side by
side (``--jobs``) or as one share of many machines (``--shard I/N``). A notebook that fails is reported
with its cell and the rest still run; SIGTERM or Ctrl-C writes the output notebook as far as it ran."""
from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

from .. import CourseError
from ..profiles import check_profile, setting_names
from .build import NOTEBOOK_DIR, build_notebooks


class LocalKernelManager(AsyncKernelManager):
    """The notebook's kernel talks to papermill over local (IPC) sockets, not TCP: nothing listens on
    the network, and ipykernel has no reason to warn about unencrypted TCP in every run's log."""

    def __init__(self, **kw):
        sockets = tempfile.mkdtemp(prefix="gancourse-kernel-")     # its own folder: side-by-side runs never meet
        kw.setdefault("transport", "ipc")
        kw.setdefault("ip", os.path.join(sockets, "kernel"))
        super().__init__(**kw)
        weakref.finalize(self, shutil.rmtree, sockets, True)


def _coerce(value: str):
    """-p values: ints, floats, true/false/none, else strings (as papermill's CLI does)."""
    low = value.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def split_parameters(nb: Path, declared: dict, params: dict) -> tuple[dict, dict]:
    """``-p`` values → (notebook parameters, profile-setting overrides) for one notebook."""
    settings = set(setting_names(nb.stem))
    direct = {k: v for k, v in params.items() if k in declared}
    overrides = {k: v for k, v in params.items() if k not in declared and k in settings}
    return direct, overrides


def run_notebooks(notebooks: list[Path], profile: str, out_root: Path, data_root: str,
                  params: dict, fresh: bool = False, log_output: bool = False, solutions: bool = False) -> list[dict]:
    """Execute notebooks with papermill. Course notebooks are built from their sources first (the
    learner's version, or the instructor's with ``solutions``), never taken from notebooks/*.ipynb,
    which a learner may have edited."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    check_profile(profile)
    out_root = Path(out_root) / profile
    out_root.mkdir(parents=True, exist_ok=True)
    notebooks = build_notebooks(notebooks, out_root / ".inputs", solutions)
    # Progress bars: plain text, one line a minute in batch logs (no widgets, no carriage-return torrent).
    os.environ.setdefault("TQDM_MININTERVAL", "60")
    os.environ.setdefault("GANCOURSE_PROGRESS", "text")
    plan = []
    for nb in notebooks:
        declared = pm.inspect_notebook(str(nb))
        direct, overrides = split_parameters(nb, declared, params)
        used = set(direct) | set(overrides)
        plan.append((nb, direct, overrides, declared, used))
    known_anywhere = set().union(*(u for *_, u in plan)) if plan else set()
    unknown = sorted(set(params) - known_anywhere)
    if unknown:
        nb, _, _, declared, _ = plan[0]
        settings = setting_names(nb.stem)
        raise CourseError(f"{nb.stem} has no parameter(s) {unknown}; its parameters: {', '.join(declared)}"
                          + (f"; its settings (-p KEY VALUE overrides them): {', '.join(settings)}" if settings else ""))
    report = []
    previous = signal.signal(signal.SIGTERM, _interrupt) if threading.current_thread() is threading.main_thread() else None
    try:
        for nb, direct, overrides, declared, _ in plan:
            entry = _run_one(pm, PapermillExecutionError, nb, direct, overrides, declared, out_root, profile, data_root,
                             fresh, log_output)
            report.append(entry)
            if entry.get("interrupted"):
                break
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return report


def _interrupt(signum, frame):
    """SIGTERM (a scheduler's or a user's kill) becomes KeyboardInterrupt, so papermill writes the output
    notebook as far as it ran; checkpoints are already on disk."""
    raise KeyboardInterrupt


def _run_one(pm, PapermillExecutionError, nb: Path, direct: dict, overrides: dict, declared: dict, out_root: Path,
             profile: str, data_root, fresh: bool, log_output: bool) -> dict:
    """Execute one notebook; the report entry says ok, or where it failed, or that it was interrupted."""
    out_dir = out_root / nb.stem
    if fresh and out_dir.exists():
        shutil.rmtree(out_dir)
    parameters = dict(profile=profile, out_dir=str(out_dir.resolve()),
                      data_root=str(Path(data_root).resolve()), **direct)
    if overrides:
        if "overrides" not in declared:
            raise CourseError(f"{nb.stem} takes no overrides parameter; cannot set {sorted(overrides)}")
        parameters["overrides"] = overrides
    start = time.time()
    entry = dict(notebook=nb.stem, output=str(out_root / nb.name), ok=True)
    print(f"[{profile}] {nb.stem} ...", flush=True)
    try:
        pm.execute_notebook(str(nb), str(out_root / nb.name), parameters=parameters,
                            kernel_name="python3", cwd=str(NOTEBOOK_DIR if nb.parent.name == ".inputs" else nb.parent),
                            progress_bar=False, log_output=log_output, report_mode=False,
                            kernel_manager_class=LocalKernelManager)
    except PapermillExecutionError as exc:
        entry.update(ok=False, cell=exc.exec_count, cell_index=exc.cell_index, error=f"{exc.ename}: {exc.evalue}".strip())
    except KeyboardInterrupt:
        entry.update(ok=False, cell=None, interrupted=True,
                     error="interrupted (SIGTERM or Ctrl-C); rerun the same command to resume from the last checkpoint")
    except Exception as exc:  # kernel died, missing kernel, bad notebook
        entry.update(ok=False, cell=None, error=f"{exc.__class__.__name__}: {exc}")
    entry["wall_time_s"] = round(time.time() - start, 1)
    status = "ok" if entry["ok"] else f"FAILED at cell [{entry['cell']}]: {entry['error'].splitlines()[0]}"
    print(f"[{profile}] {nb.stem}: {status} ({entry['wall_time_s']} s) -> {entry['output']}", flush=True)
    return entry


def shard(notebooks: list[Path], spec: str | None) -> list[Path]:
    """``I/N``: the notebooks at positions I−1, I−1+N, ... (1-based I), so N machines split the course."""
    if spec is None:
        return notebooks
    try:
        i, n = (int(v) for v in spec.split("/"))
    except ValueError:
        raise CourseError(f"--shard takes I/N with 1 ≤ I ≤ N, e.g. 2/4; not {spec!r}") from None
    if not 1 <= i <= n:
        raise CourseError(f"--shard takes I/N with 1 ≤ I ≤ N, e.g. 2/4; not {spec!r}")
    return notebooks[i - 1::n]


def job_environments(jobs: int, n_gpus: int | None = None, cores: int | None = None) -> list[dict]:
    """The environment of each of ``jobs`` side-by-side runs: one GPU each (round robin) when there
    are GPUs, else an equal share of the CPU's threads."""
    if n_gpus is None:
        import torch
        n_gpus = torch.cuda.device_count()
    cores = cores or os.cpu_count() or 1
    if n_gpus:
        return [{"CUDA_VISIBLE_DEVICES": str(j % n_gpus)} for j in range(jobs)]
    threads = str(max(1, cores // jobs))
    return [{"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "GANCOURSE_THREADS": threads} for _ in range(jobs)]


def run_parallel(notebooks: list[Path], args, params: dict) -> list[dict]:
    """``--jobs N``: each notebook in its own ``gancourse run`` process, at most N at a time."""
    import subprocess
    import tempfile
    from concurrent.futures import ThreadPoolExecutor
    envs = job_environments(args.jobs)

    def one(i_nb):
        i, nb = i_nb
        env = {**os.environ, **envs[i % len(envs)]}
        report = tmp / f"{i}.json"
        cmd = [sys.executable, "-m", "gancourse", "run", str(nb if nb.suffix == ".ipynb" else nb.stem),
               "--profile", args.profile, "--out", str(args.out), "--data-root", str(args.data_root),
               "--report", str(report), *(["--fresh"] if args.fresh else []),
               *(["--solutions"] if args.solutions else []), *(["--log-output"] if args.log_output else [])]
        for k, v in params.items():
            cmd += ["-p", k, json.dumps(v) if not isinstance(v, str) else v]
        subprocess.run(cmd, env=env, cwd=Path.cwd())
        if report.exists():
            return json.loads(report.read_text())
        return [dict(notebook=nb.stem, output="", ok=False, cell=None, error="the job died", wall_time_s=0.0)]

    with tempfile.TemporaryDirectory(prefix="gancourse-jobs-") as reports, ThreadPoolExecutor(args.jobs) as pool:
        tmp = Path(reports)                           # the jobs' reports, removed when they are read
        results = list(pool.map(one, enumerate(notebooks)))
    return [entry for part in results for entry in part]
