"""The grader decides: an answer's points come from comparing its outputs with the reference, here, in the
grader's own process. The submission's code only ever computes outputs, in a sandbox that cannot import the
course (``answers.py``), on inputs drawn from a secret of the grading run (the visible check's inputs, and two
more draws no learner has seen). No check, registry or reference shares a process with submitted code, and no
exit status or printed line counts as a pass.

    result = judge.answer(ex, cell_source, secret, prefix)     # Result(points, why)

The answer cell is the last code cell of its notebook that defines the answer function at its top level, run
whole (its imports and helpers with it). IPython syntax in it (a ``%magic``) is turned into Python first, as
IPython would; whatever the cell then does runs in the sandbox and can change only its own outputs.
"""
from __future__ import annotations

import ast
import inspect
import io
import os
import secrets
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

import torch

from .exercises import Exercise, WrongAnswer, secret_rng, visible_rng

SERVER = Path(__file__).with_name("answers.py")
MAX_OUTPUT = 16 << 20            # bytes of results an answer may send back
DRAWS = 2                        # hidden draws of inputs, beside the visible check's


@dataclass
class Result:
    points: float
    why: str = ""                # empty when full points


def new_secret() -> int:
    """A grading run's secret: the seed of its hidden inputs (never written anywhere a submission can read)."""
    return secrets.randbits(62)


def answer_cell(cells: list[str], name: str) -> str | None:
    """The last code cell that defines ``name`` at its top level, as Python (IPython syntax transformed)."""
    from IPython.core.inputtransformer2 import TransformerManager
    found = None
    for source in cells:
        try:
            code = TransformerManager().transform_cell(source)
            tree = ast.parse(code)
        except (SyntaxError, ValueError):
            continue
        if any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name for n in tree.body):
            found = code
    return found


def cases(ex: Exercise, secret: int, draws: int = DRAWS) -> list:
    """The visible check's cases and ``draws`` draws of secret ones."""
    out = list(ex.cases(visible_rng))
    for d in range(1, draws + 1):
        out += ex.cases(secret_rng(secret, ex.id, d))
    return out


def answer(ex: Exercise, cell: str | None, secret: int, prefix: list[str], timeout: int = 300,
           files: list | None = None, draws: int = DRAWS) -> Result:
    """Judge one exercise: run the answer cell in the sandbox (``prefix`` from ``sandbox.wrap`` with this
    module's server and the job among its files: see :func:`run`), compare here."""
    if cell is None:
        return Result(0.0, f"no cell defines {ex.answer}")
    todo = cases(ex, secret, draws)
    got, why = run(ex, cell, todo, prefix, timeout)
    if why:
        return Result(0.0, why)
    for i, (case, res) in enumerate(zip(todo, got)):
        which = "the visible check" if i < len(ex.cases(visible_rng)) else "a hidden check"
        if "error" in res:
            return Result(0.0, f"{which}: {res['error']}" if res["error"] != "not answered" else "not answered")
        try:
            with torch.random.fork_rng(devices=[]):
                case.judge(_restore(res["out"]))
        except WrongAnswer as exc:
            return Result(0.0, f"{which}: {exc}")
        except Exception as exc:             # noqa: BLE001 (an output of the wrong kind)
            return Result(0.0, f"{which}: the output could not be compared ({type(exc).__name__}: {exc})"[:300])
    return Result(float(ex.points))


def job(ex: Exercise, cell: str, todo: list) -> dict:
    probe = textwrap.dedent(inspect.getsource(ex.probe))
    return dict(cell=cell, answer=ex.answer, probe=probe, probe_name=ex.probe.__name__,
                cases=[(tuple(c.args), dict(c.kwargs)) for c in todo])


def run(ex: Exercise, cell: str, todo: list, prefix, timeout: int) -> tuple[list, str]:
    """The answer server on ``todo``'s inputs: (results, "") or ([], why it gave none). ``prefix`` is a
    ``sandbox.Box`` (files -> the sandbox's command prefix; ``finish()`` names a limit it hit), or a list
    (no sandbox: ``--no-sandbox`` and tests)."""
    with tempfile.TemporaryDirectory(prefix="gancourse-judge-") as tmp:
        path = Path(tmp) / "job.pt"
        torch.save(job(ex, cell, todo), path)
        if callable(prefix):
            inside = "/tmp/gancourse-answer"
            cmd = prefix([[str(path), f"{inside}/job.pt"], [str(SERVER), f"{inside}/answers.py"]]) + \
                [sys.executable, "-I", f"{inside}/answers.py", f"{inside}/job.pt"]
        else:
            cmd = [*prefix, sys.executable, "-I", str(SERVER), str(path)]
        err = Path(tmp) / "stderr"
        with open(err, "wb") as stderr:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL,
                                    cwd=tmp, env={**os.environ, "OMP_NUM_THREADS": "1", "GANCOURSE_THREADS": "1"})
            data, why = _read_capped(proc, timeout)
        tail = err.read_text(errors="replace")[-2000:]
    stopped = prefix.finish() if hasattr(prefix, "finish") else ""
    if why or stopped:
        return [], stopped or why
    try:
        payload = torch.load(io.BytesIO(data), weights_only=True)
        results = payload["results"]
    except Exception:                        # noqa: BLE001 (a process that died, or wrote over its results)
        last = [line for line in tail.splitlines() if line.strip()]
        return [], ("the answer's process gave no results" + (f" ({last[-1][:200]})" if last else "")
                    + f" (exit status {proc.returncode})")
    if payload.get("course_imported"):
        return [], f"the answer used the course's own package ({payload['course_imported'][0]}): write it with torch"
    if len(results) != len(todo):
        return [], "the answer's process gave results for other inputs than it was sent"
    return results, ""


def _read_capped(proc: subprocess.Popen, timeout: int) -> tuple[bytes, str]:
    """stdout up to MAX_OUTPUT bytes within ``timeout`` seconds; the process is killed past either."""
    import selectors
    import time
    chunks, size, end = [], 0, time.monotonic() + timeout
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    why = ""
    while True:
        left = end - time.monotonic()
        if left <= 0:
            why = f"the answer did not finish in {timeout} s"
            break
        if not sel.select(timeout=min(left, 1.0)):
            if proc.poll() is not None:
                break
            continue
        chunk = os.read(proc.stdout.fileno(), 1 << 16)
        if not chunk:
            break
        size += len(chunk)
        if size > MAX_OUTPUT:
            why = f"the answer sent more than {MAX_OUTPUT >> 20} MiB of results"
            break
        chunks.append(chunk)
    if why:
        proc.kill()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
    sel.close()
    proc.stdout.close()
    return b"".join(chunks), why


def _restore(x):
    """An output as the answer made it: tensors back with their requires_grad."""
    if isinstance(x, dict) and "tensor" in x:
        t = x["tensor"]
        if x.get("requires_grad") and t.is_floating_point():
            t = t.clone().requires_grad_(True)
        return t
    if isinstance(x, dict) and "unsupported" in x:
        raise WrongAnswer(f"the answer returned a {x['unsupported']}, which a check cannot read")
    if isinstance(x, list):
        return [_restore(v) for v in x]
    return x
