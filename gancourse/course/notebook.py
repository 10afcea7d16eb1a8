"""The one preamble every course notebook starts with.

    run = notebook.start("01_gan_foundations", profile, device, seed, out_dir, overrides)
    cfg, dev, out, claims = run.cfg, run.device, run.out, run.claims

checks the parameters (one clear error naming the valid values, before any work), resolves the
profile's settings with ``overrides`` applied, picks the device, seeds the run, makes the output
folder (removing a results file an earlier run left there, so a failed run is never reported with
old numbers), opens the notebook's claims, and prints where everything goes.

**Runs of some claims.** ``claim_ids="A1,A3"`` (``gancourse run --claims A1,A3``) measures only those: a
cell that starts with ``%%feeds A4 A5`` runs only when the run measures one of the claims it names, and
otherwise prints one line saying it was skipped. Every training run seeds itself and every evaluation draws
from its own generator, so a claim's numbers are the same whichever other claims run beside it.

``data_root=None`` and ``out_dir=None`` (the notebooks' defaults) mean the course's own folders,
``<course>/data`` (or ``$GANCOURSE_DATA``) and ``<course>/runs/manual/<notebook>`` (or ``$GANCOURSE_OUT/<notebook>``), whatever folder
the notebook runs from; a relative path a user gives is taken from the current folder. One process at a
time writes into an output folder (``claim_folder``).
"""
from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import torch

from .. import CourseError, profiles, threads, timing, training
from .results import RESULTS_FILE, Claims

COURSE_ROOT = Path(__file__).resolve().parents[2]
DATA_ENV = "GANCOURSE_DATA"
OUT_ENV = "GANCOURSE_OUT"

# notebook → the document it reproduces (the scorecard's grouping)
DOCUMENTS = {
    "00_setup": "setup",
    "01_gan_foundations": "survey",
    "02_improved_techniques": "improved",
    "03_semi_supervised": "improved",
    "04_pggan_swd": "pggan",
    "05_stabilizers": "survey",
    "06_autogan": "autogan",
    "07_augmentation": "augment",
}


@dataclass
class Run:
    notebook: str
    profile: str
    cfg: SimpleNamespace
    device: torch.device
    seed: int
    out: Path
    claims: Claims
    data_root: Path

    def feeds(self, line: str, cell: str) -> None:
        """The ``%%feeds ID ...`` cell magic: run the cell if this run measures one of the claims named
        (``%%feeds none``: a cell that measures no claim, run only when every claim is)."""
        ids = line.replace(",", " ").split()
        if not ids:
            raise CourseError("%%feeds names the claims the cell feeds, e.g. %%feeds A1 A2 (or none)")
        wanted = self.claims.wants() and self.claims.selected is None if ids == ["none"] else self.claims.wants(*ids)
        if not wanted:
            what = "no claim" if ids == ["none"] else ", ".join(ids) + " only"
            print(f"skipped: this cell feeds {what} (this run measures {', '.join(self.claims.selected)})")
            return
        from IPython import get_ipython
        shell = get_ipython()
        _run_as_cell(shell, cell)


def _run_as_cell(shell, cell: str) -> None:
    """Run ``cell`` in the notebook's namespace as IPython runs a cell: its IPython syntax (``%magics``) turned
    into Python, tracebacks showing its own lines, its last expression's value displayed (not after a ``;``)."""
    import ast
    code = shell.transform_cell(cell)
    name = shell.compile.cache(code)
    tree = ast.parse(code, name)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, name, "exec"), shell.user_ns)
    if last is not None:
        value = eval(compile(ast.Expression(last.value), name, "eval"), shell.user_ns)
        if value is not None and not code.rstrip().endswith(";"):
            shell.displayhook(value)


def _claim_ids(value) -> tuple[str, ...] | None:
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
        raise CourseError(f"claim_ids is a comma-separated list of claim ids, e.g. 'A1,A3', not {value!r}")
    return tuple(value)


def _register_feeds(run: Run | None) -> None:
    """Make ``%%feeds`` this run's, in a notebook kernel (nothing outside IPython); before any run, a
    ``%%feeds`` cell says which cell to run first."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        shell.register_magic_function(run.feeds if run is not None else _feeds_before_start, "cell", "feeds")


def _feeds_before_start(line: str, cell: str) -> None:
    raise CourseError("this cell belongs to an experiment: run the notebook's first cells (up to notebook.start) first")


_register_feeds(None)


def course_root() -> Path:
    """The course checkout (where notebooks/ is), or the current folder for an installed package."""
    return COURSE_ROOT if (COURSE_ROOT / "notebooks").is_dir() else Path.cwd()


def default_data_root() -> Path:
    return Path(os.environ.get(DATA_ENV) or course_root() / "data")


def default_out_root() -> Path:
    """Where a notebook writes when no out_dir is given: ``$GANCOURSE_OUT`` (the grader sets it to each
    student's scratch folder) or the course's ``runs/manual/``."""
    return Path(os.environ.get(OUT_ENV) or course_root() / "runs" / "manual")


def _overrides(value) -> dict:
    if value is None or value == "":
        return {}
    if isinstance(value, str):       # papermill -p overrides '{"toy_steps": 100}'
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise CourseError(f"overrides must be a dict or JSON text like '{{\"toy_steps\": 100}}', "
                              f"not {value!r}") from exc
    if not isinstance(value, dict):
        raise CourseError(f"overrides must be a dict of settings, not {type(value).__name__}")
    return value


_HELD: dict[Path, object] = {}      # out_dir -> the open lock file this process holds (for its lifetime)


def claim_folder(out: Path) -> None:
    """One run at a time writes into an output folder: an exclusive lock (``out/.lock``, flock) held until the
    process ends, so two batch reruns or two kernels pointed at one folder cannot mix their checkpoints and
    results; the second is refused, naming the first. Re-entrant within a process (a notebook run twice in one
    kernel); released by the OS when the holder dies, even by kill -9."""
    key = out.resolve()
    if key in _HELD:
        return
    f = open(key / ".lock", "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        holder = f.read().strip() or "another process"
        f.close()
        raise CourseError(f"{key} is in use by {holder}: two runs must not write into one folder. Wait for it "
                          "to finish, or pass another out_dir (gancourse run --out DIR)") from None
    f.seek(0)
    f.truncate()
    f.write(f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%d %H:%M:%S')}")
    f.flush()
    _HELD[key] = f


def release_folder(out) -> None:
    """Let go of an output folder this process claimed (a kernel that is done with it; tests)."""
    f = _HELD.pop(Path(out).resolve(), None)
    if f is not None:
        f.close()


def start(notebook: str, profile: str, device: str = "auto", seed: int = 0, out_dir=None,
          overrides=None, data_root=None, claim_ids=None, quiet: bool = False) -> Run:
    profiles.check_profile(profile)
    selected = _claim_ids(claim_ids)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise CourseError(f"seed must be a non-negative integer, not {seed!r}")
    if notebook not in DOCUMENTS:
        raise CourseError(f"unknown notebook {notebook!r}; known: {', '.join(DOCUMENTS)}")
    cfg = profiles.settings(notebook, profile, **_overrides(overrides))
    dev = profiles.pick_device(device, profile)
    out = Path(out_dir) if out_dir is not None else default_out_root() / notebook
    data = Path(data_root) if data_root is not None else default_data_root()
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("ok")
        probe.unlink()
        claim_folder(out)
        (out / RESULTS_FILE).unlink(missing_ok=True)
    except OSError as exc:
        raise CourseError(f"out_dir {out} is not writable ({exc.strerror or exc}); "
                          "pass another out_dir (gancourse run --out DIR)") from exc
    profiles.seed_everything(seed)
    timing.reset()                  # results.json says where this run's minutes went
    threads.reset()                 # ... and how many CPU threads each training run used
    timing.time_plotting()
    training.use_fast_path(profiles.fast_path(profile, dev))
    claims = Claims(notebook, DOCUMENTS[notebook], profile, dev, seed, out)
    claims.select(selected)
    if not quiet:
        spec = profiles.PROFILES[profile]
        fast = " · fast path (compiled steps)" if training.fast_path_default() else ""
        print(f"{notebook} · profile {profile} ({spec.about}) · {profiles.describe(dev)}{fast} · seed {seed}\n"
              f"settings: {profiles.format_settings(cfg)}\noutputs: {out.resolve()}\ndata: {data.resolve()}"
              + (f"\nmeasuring only claims {', '.join(selected)}: cells that feed none of them are skipped" if selected else ""))
    run = Run(notebook, profile, cfg, dev, seed, out, claims, data)
    _register_feeds(run)
    return run
