"""Claims: what each notebook ends with, and the results file a scorecard gathers.

A notebook declares its claims *before* its experiments — statement, the paper's number and a
criterion — and fills in measured values at the end; the verdict follows from the criterion,
which cannot be changed once declared.

    claims = Claims("01_gan_foundations", "survey", profile, device, seed, out_dir)
    claims.declare("C1", "minimax G loss saturates", paper="Goodfellow 2014 §3",
                   criterion=at_least(10), unit="×")
    ...
    claims.measure("C1", ratio)
    claims.show(); claims.save()
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from . import CourseError, __version__

RESULTS_FILE = "results.json"


@dataclass(frozen=True)
class Criterion:
    op: str
    value: float
    high: float | None = None

    def __call__(self, x: float) -> bool:
        if x is None or x != x:  # None or NaN never passes
            return False
        if self.op == ">=":
            return x >= self.value
        if self.op == "<=":
            return x <= self.value
        return self.value <= x <= self.high

    def __str__(self) -> str:
        if self.op == "between":
            return f"{self.value:g} ≤ x ≤ {self.high:g}"
        return f"x {'≥' if self.op == '>=' else '≤'} {self.value:g}"


def at_least(v: float) -> Criterion:
    return Criterion(">=", float(v))


def at_most(v: float) -> Criterion:
    return Criterion("<=", float(v))


def between(lo: float, hi: float) -> Criterion:
    return Criterion("between", float(lo), float(hi))


@dataclass
class Claim:
    id: str
    statement: str
    paper: str
    criterion: str
    measured: float | None = None
    detail: str = ""
    passed: bool | None = None
    _check: Criterion | None = field(default=None, repr=False)

    def verdict(self, profile: str) -> str:
        if self.passed is None:
            return "not measured"
        word = "reproduced" if self.passed else "not reproduced"
        return word + (" (smoke scale: not a claim)" if profile == "smoke" else "")


def git_commit() -> str:
    if os.environ.get("GANCOURSE_COMMIT"):
        return os.environ["GANCOURSE_COMMIT"]
    try:
        root = Path(__file__).resolve().parent.parent
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=5)
        if out.returncode == 0:
            dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                   capture_output=True, text=True, timeout=5).stdout.strip()
            return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return "unknown"


class Claims:
    def __init__(self, notebook: str, document: str, profile: str, device, seed: int, out_dir):
        self.notebook, self.document, self.profile = notebook, document, profile
        self.device, self.seed, self.out_dir = torch.device(device), seed, Path(out_dir)
        self.started = time.time()
        self.claims: dict[str, Claim] = {}
        self.extra: dict = {}

    def declare(self, id: str, statement: str, paper: str, criterion: Criterion, unit: str = "") -> None:
        if id in self.claims:
            raise CourseError(f"claim {id} is declared already; criteria are fixed before the run")
        self.claims[id] = Claim(id, statement, paper, f"{criterion}{(' ' + unit) if unit else ''}", _check=criterion)

    def measure(self, id: str, value: float, detail: str = "") -> bool:
        if id not in self.claims:
            raise CourseError(f"claim {id} was never declared; declare it (with its criterion) before the run")
        c = self.claims[id]
        c.measured = None if value is None else float(value)
        c.detail, c.passed = detail, c._check(c.measured)
        return c.passed

    def rows(self) -> list[dict]:
        return [dict(id=c.id, statement=c.statement, paper=c.paper, measured=c.measured,
                     detail=c.detail, criterion=c.criterion, passed=c.passed,
                     verdict=c.verdict(self.profile)) for c in self.claims.values()]

    def markdown(self) -> str:
        head = "| id | claim | paper | measured | criterion | verdict |\n|---|---|---|---|---|---|\n"
        body = "".join(
            f"| {r['id']} | {r['statement']} | {r['paper']} | "
            f"{'—' if r['measured'] is None else format(r['measured'], '.4g')}"
            f"{(' (' + r['detail'] + ')') if r['detail'] else ''} | {r['criterion']} | {r['verdict']} |\n"
            for r in self.rows())
        return head + body

    def show(self):
        text = f"Claims of {self.notebook} — profile {self.profile}, device {self.device}, seed {self.seed}\n\n" + self.markdown()
        try:
            from IPython.display import Markdown, display
            display(Markdown(text))
        except ImportError:
            print(text)
        return text

    def save(self, **extra) -> Path:
        """Write ``out_dir/results.json`` (atomically) and return its path."""
        self.extra.update(extra)
        dev = self.device
        doc = dict(notebook=self.notebook, document=self.document, profile=self.profile, seed=self.seed,
                   device=str(dev), device_name=(torch.cuda.get_device_name(dev) if dev.type == "cuda"
                                                 else platform.processor() or platform.machine()),
                   date=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                   wall_time_s=round(time.time() - self.started, 1), commit=git_commit(),
                   versions=dict(gancourse=__version__, torch=torch.__version__,
                                 python=platform.python_version()),
                   claims=self.rows(), extra=self.extra)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        path = self.out_dir / RESULTS_FILE
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(doc, indent=1, default=str))
        os.replace(tmp, path)
        return path


def passed_rows(rows) -> tuple[int, int]:
    measured = [r for r in rows if r["passed"] is not None]
    return sum(bool(r["passed"]) for r in measured), len(measured)
