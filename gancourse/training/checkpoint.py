"""Checkpoints and a run's identity. Guarantee: a run killed at any moment (even mid-write) and
restarted on the same ``out_dir`` resumes from its last complete checkpoint and ends with the same
numbers as one never interrupted; a checkpoint of any other run (settings, networks, hooks, data) is
refused, naming what differs.

A run's identity is built from all of the trainer's settings, both networks' architectures and every
hook's own settings (a hook may say what matters with ``describe()``); callers add only what the
trainer cannot know (``data_id``). A checkpoint holds models, optimisers, EMA copies, stateful hooks,
RNG states, step, training time and history. Files are written to a temporary file, flushed and
renamed; the one before is kept as ``checkpoint.prev.pt``, the fallback if the newest is unreadable.
Under torch.distributed rank 0 writes and every rank resumes.
"""
from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import os
import random
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import CourseError
from .ranks import is_main

CHECKPOINT = "checkpoint.pt"


# -- a run's identity ---------------------------------------------------------------------------

def _plain(v):
    """JSON-able settings only: numbers, strings, None, and lists/dicts/dataclasses of them; else None."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, (list, tuple)):
        items = [_plain(x) for x in v]
        return items if all(x is not None or y is None for x, y in zip(items, v)) else None
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return {f.name: _plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
    return None


def describe_module(m: nn.Module) -> str:
    """Class name, parameter count and a hash of the architecture (its repr and every tensor's shape)."""
    shapes = [(k, tuple(v.shape)) for k, v in m.state_dict().items()]
    digest = hashlib.sha1((repr(m) + repr(shapes)).encode()).hexdigest()[:12]
    return f"{type(m).__name__} ({sum(p.numel() for p in m.parameters()):,} parameters, arch {digest})"


def describe(hook) -> dict | str | None:
    """What a hook contributes to a run's identity: its own ``describe()``, or its name plus its
    plain settings (public attributes that are numbers, strings, or lists/dataclasses of them),
    plus the architecture of any network it holds."""
    if hook is None:
        return None
    if hasattr(hook, "describe"):
        return hook.describe()
    if inspect.isfunction(hook) or inspect.ismethod(hook) or inspect.isbuiltin(hook):
        return f"{hook.__module__}.{hook.__qualname__}"
    out = {"hook": f"{type(hook).__module__}.{type(hook).__qualname__}"}
    for k, v in sorted(vars(hook).items() if hasattr(hook, "__dict__") else []):
        if k.startswith("_") or k == "training":
            continue
        if isinstance(v, nn.Module):
            out[k] = describe_module(v)
        elif _plain(v) is not None:
            out[k] = _plain(v)
    return out


def as_json(x):
    """``x`` as it reads back from JSON (tuples become lists): how identities are compared."""
    return json.loads(json.dumps(x, sort_keys=True))


def differences(saved: dict, current: dict) -> str:
    keys = sorted(set(saved) | set(current), key=str)
    diff = [f"{k}: {saved.get(k, '—')!r} → {current.get(k, '—')!r}" for k in keys if saved.get(k) != current.get(k)]
    return "; ".join(diff)


# -- RNG states, files ------------------------------------------------------------------------------

def rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def previous(path: Path) -> Path:
    """Where the checkpoint before ``path`` is kept (``checkpoint.prev.pt``)."""
    return path.with_name(path.stem + ".prev" + path.suffix)


def atomic_save(obj, path: Path, keep_previous: bool = False) -> None:
    """Write to a temporary file, flush it to disk, and rename: a kill mid-write never leaves a half
    file under ``path``. With ``keep_previous`` the file it replaces becomes ``previous(path)``, the
    fallback if ``path`` is ever unreadable. A failed write (disk full, read-only) leaves nothing
    half-written and says so."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        if keep_previous and path.exists():
            os.replace(path, previous(path))
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CourseError(f"could not write {path} ({exc.strerror or exc}): free some disk space or choose "
                          "another out_dir; the last complete checkpoint is kept") from exc


def load_latest(out_dir: Path) -> tuple[dict | None, Path | None]:
    """The newest readable checkpoint in ``out_dir``: checkpoint.pt, or (with a warning naming the
    file) the one before; (None, None) when there is none."""
    path = out_dir / CHECKPOINT
    problems = []
    for candidate in (path, previous(path)):
        if not candidate.exists():
            continue
        try:
            state = torch.load(candidate, map_location="cpu", weights_only=False)
        except Exception as exc:
            problems.append(f"{candidate} cannot be read ({exc.__class__.__name__}: {exc})")
            continue
        if problems or candidate != path:
            why = problems[0] if problems else f"{path} is missing (the run was killed between two renames)"
            warnings.warn(f"{why}; resuming from the previous checkpoint {candidate}", stacklevel=4)
        return state, candidate
    if problems:
        raise CourseError("; ".join(problems) + f". Delete {out_dir} to start afresh (gancourse run --fresh).")
    return None, None


# -- the trainer's checkpoints ------------------------------------------------------------------------

class Checkpoints:
    """Saves and restores a ``Trainer`` in ``out_dir`` (see the module's guarantee)."""

    def __init__(self, out_dir: Path):
        self.out_dir, self.path = out_dir, out_dir / CHECKPOINT
        self.saved_at = None          # the step of the last checkpoint written

    @staticmethod
    def state(tr) -> dict:
        return dict(identity=tr.identity, stream=tr.stream, step=tr.step, elapsed=tr.elapsed, history=tr.history,
                    G=tr.G.state_dict(), D=tr.D.state_dict(), G_ema=tr.G_ema.state_dict(),
                    D_ema=tr.D_ema.state_dict() if tr.D_ema is not None else None,
                    opt_g=tr.opt_g.state_dict(), opt_d=tr.opt_d.state_dict(), rng=rng_state(),
                    hooks=[h.state_dict() for h in tr.stateful_hooks()], threads=tr.pace.count)

    def save(self, tr) -> Path:
        if is_main():
            atomic_save(self.state(tr), self.path, keep_previous=True)
        self.saved_at = tr.step
        return self.path

    def resume(self, tr) -> None:
        """Restore ``tr`` from the newest readable checkpoint, if any, after checking it is this run's."""
        state, path = load_latest(self.out_dir)
        if state is None:
            if is_main():
                (self.out_dir / "log.jsonl").unlink(missing_ok=True)
            return
        saved = state.get("identity", state.get("run_id"))
        if saved != tr.identity:
            what = differences(saved, tr.identity) if isinstance(saved, dict) else "an older format"
            raise CourseError(f"{path} belongs to another run, not this one ({what}). "
                              "Use another out_dir, or delete it to start afresh (gancourse run --fresh).")
        for name in ("G", "D", "G_ema", "opt_g", "opt_d"):
            getattr(tr, name).load_state_dict(state[name])
        if tr.D_ema is not None:
            tr.D_ema.load_state_dict(state["D_ema"])
        for hook, hook_state in zip(tr.stateful_hooks(), state.get("hooks", [])):
            hook.load_state_dict(hook_state)
        set_rng_state(state["rng"])
        tr.step, tr.elapsed, tr.history = state["step"], state["elapsed"], state["history"]
        tr.stream = state.get("stream")
        if state.get("threads") is not None:          # the count the run started with: a resume keeps its numbers
            tr.pace.keep(state["threads"])
        tr.log.rewrite(tr.history)    # the log on disk may hold lines written after the checkpoint
        if tr.progress:
            print(f"{tr.desc}: resumed from {path} at step {tr.step}")


def check_stream(tr, stream: dict | None) -> None:
    """The data stream (batch size, data size) must be the one a resumed run was trained on."""
    if stream is None:
        return
    stream = as_json(stream)
    if tr.stream is not None and tr.stream != stream:
        where = tr.out_dir / CHECKPOINT if tr.out_dir is not None else "this trainer"
        raise CourseError(f"{where} was trained on another data stream ({differences(tr.stream, stream)}). "
                          "Use another out_dir, or delete it to start afresh.")
    tr.stream = stream
