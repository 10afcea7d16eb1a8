"""Claims: what each notebook ends with, and the results file a scorecard gathers.

A notebook declares its claims *before* its experiments — statement, the paper's number and a
criterion for each profile — and fills in measured values at the end; the verdict follows from the
criterion of the profile that ran, which cannot be changed once declared.

    claims = Claims("01_gan_foundations", "survey", profile, device, seed, out_dir)
    claims.declare("C1", "minimax G loss saturates", paper="Goodfellow 2014 §3",
                   criterion=dict(laptop=at_least(10), course=at_least(10), paper=at_least(10)), unit="×")
    ...
    claims.measure("C1", [r0, r1, r2, r3, r4])      # one value per evaluation draw: mean ± sd
    claims.show(); claims.save()

A number that rests on random samples is measured on several independent draws (same model, other
noise); the table shows mean ± sd and over what (evaluation draws, or training seeds). A criterion
with ``margin=True`` must hold for the whole interval mean ± sd, not just the mean: that is how a
criterion comparing two numbers says how it treats their noise.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .. import CourseError, __version__, threads, timing
from ..profiles import CLAIM_PROFILES, PROFILES, check_profile

RESULTS_FILE = "results.json"
KINDS = ("claim", "check")


@dataclass(frozen=True)
class Criterion:
    """x ≥ v, x ≤ v or lo ≤ x ≤ hi, where x is the mean over draws (or seeds); with ``margin`` the
    whole interval mean ± sd must pass, with ``every`` each single value must."""
    op: str
    value: float
    high: float | None = None
    margin: bool = False
    every: bool = False

    def _ok(self, lo: float, hi: float) -> bool:
        if self.op == ">=":
            return lo >= self.value
        if self.op == "<=":
            return hi <= self.value
        return self.value <= lo and hi <= self.high

    def __call__(self, x: float | None, sd: float = 0.0, values=None) -> bool:
        if x is None or x != x:  # None or NaN never passes
            return False
        if self.every and values:
            return all(v == v and self._ok(v, v) for v in values)
        sd = sd if (self.margin and sd == sd) else 0.0
        return self._ok(x - sd, x + sd)

    def __str__(self) -> str:
        lo, hi = ("x − sd", "x + sd") if self.margin else ("each x", "each x") if self.every else ("x", "x")
        if self.op == "between":
            return f"{self.value:g} ≤ {lo}, {hi} ≤ {self.high:g}" if lo != hi else f"{self.value:g} ≤ {lo} ≤ {self.high:g}"
        return f"{lo} ≥ {self.value:g}" if self.op == ">=" else f"{hi} ≤ {self.value:g}"

    @classmethod
    def parse(cls, text: str) -> "Criterion":
        """The criterion a results file shows as text (``str(criterion)``), back as a Criterion."""
        import re
        s = text.replace("−", "-").strip()
        x = r"(each x|x - sd|x \+ sd|x)"
        num = r"(-?[0-9.]+(?:e[-+]?[0-9]+)?)"
        flags = lambda who: dict(margin=who in ("x - sd", "x + sd"), every=who == "each x")
        if m := re.fullmatch(rf"{x} ≥ {num}", s):
            return cls(">=", float(m[2]), **flags(m[1]))
        if m := re.fullmatch(rf"{x} ≤ {num}", s):
            return cls("<=", float(m[2]), **flags(m[1]))
        if m := re.fullmatch(rf"{num} ≤ {x}(?:, {x})? ≤ {num}", s):
            return cls("between", float(m[1]), float(m[4]), **flags(m[2]))
        raise CourseError(f"cannot read the criterion {text!r}")


def at_least(v: float, margin: bool = False, every: bool = False) -> Criterion:
    return Criterion(">=", float(v), margin=margin, every=every)


def at_most(v: float, margin: bool = False, every: bool = False) -> Criterion:
    return Criterion("<=", float(v), margin=margin, every=every)


def between(lo: float, hi: float, margin: bool = False, every: bool = False) -> Criterion:
    return Criterion("between", float(lo), float(hi), margin=margin, every=every)


def summary(values) -> dict:
    """mean, sd (sample, n − 1) and n of one or several values; sd is 0 for a single value."""
    vals = [float(v) for v in (values if isinstance(values, (list, tuple)) else [values])]
    n = len(vals)
    mean = sum(vals) / n if n else float("nan")
    sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1)) if n > 1 else 0.0
    return {"mean": mean, "sd": sd, "n": n, "values": vals}


def format_value(mean: float | None, sd: float = 0.0, n: int = 1, over: str = "", digits: str = ".4g") -> str:
    """'12.3', or '12.3 ± 0.4 (5 evaluation draws)'; never '± nan'."""
    if mean is None or mean != mean:
        return "—"
    if n <= 1:
        return format(mean, digits)
    return f"{mean:{digits}} ± {sd:.2g} ({n} {over})" if over else f"{mean:{digits}} ± {sd:.2g}"


@dataclass
class Claim:
    id: str
    statement: str
    paper: str
    criteria: dict                   # profile → criterion text, as declared
    unit: str = ""
    measured: float | None = None    # the mean over draws (or the single value)
    sd: float = 0.0
    n: int = 0
    over: str = ""                   # what the n values vary: "evaluation draws", "training seeds"
    values: list = field(default_factory=list)
    detail: str = ""
    passed: bool | None = None
    kind: str = "claim"              # "claim": the paper's; "check": of an instrument or a deterministic fact
    shares_run: str = ""             # claims measured on the same training runs say so (one name for the group)
    machine_dependent: bool = False  # its value depends on the machine (wall-clock): never pooled across kinds
    paper_value: float | None = None  # the paper's number on this claim's own scale, where there is one (plots)
    _check: Criterion | None = field(default=None, repr=False)


def _criteria(criterion) -> dict:
    """One criterion for every claim profile, or a dict naming each of them."""
    if isinstance(criterion, Criterion):
        return {p: criterion for p in CLAIM_PROFILES}
    if not isinstance(criterion, dict) or set(criterion) != set(CLAIM_PROFILES):
        raise CourseError(f"a claim's criterion is one criterion, or a dict with one for each of "
                          f"{', '.join(CLAIM_PROFILES)} (got {criterion!r})")
    return dict(criterion)


CODE_PATHS = ("gancourse", "notebooks/source", "data_scripts", "pyproject.toml")


def git_commit() -> str:
    """The commit the code ran at; "-dirty" when the code (package, notebook sources, data scripts)
    differs from it. A learner's saved notebooks, runs or data do not count."""
    if os.environ.get("GANCOURSE_COMMIT"):
        return os.environ["GANCOURSE_COMMIT"]
    try:
        root = Path(__file__).resolve().parents[2]
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=5)
        if out.returncode == 0:
            dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS],
                                   cwd=root, capture_output=True, text=True, timeout=5).stdout.strip()
            return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return "unknown"


def versions() -> dict:
    """The versions a number may depend on: the course, Python, and the numerical libraries (a linear probe's
    accuracy, for one, moves in its third decimal between scikit-learn / NumPy builds)."""
    from importlib.metadata import PackageNotFoundError, version
    out = dict(gancourse=__version__, torch=torch.__version__, python=platform.python_version())
    for name in ("numpy", "scipy", "scikit-learn", "torchmetrics"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def hardware(device) -> str:
    """What a number was measured on: the GPU's name, or the CPU's model and core count (machines of one
    kind differ: a laptop run's minutes mean something only beside its CPU)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{model}, {os.cpu_count()} cores"


def cpu_kind() -> str:
    """The CPU's widest vector unit (avx512, avx2, or the architecture): per-seed numbers differ slightly between
    kinds, so a laptop run records it and only claims that do not depend on the machine pool across kinds."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        flags = []
    return "avx512" if "avx512f" in flags else "avx2" if "avx2" in flags else platform.machine()


def criterion_for(profile: str) -> str:
    """The profile whose criteria a run uses: its own, or (for a profile whose verdicts are not
    claims, i.e. smoke) the smallest claim profile's, shown but marked "not a claim"."""
    return profile if PROFILES[profile].claims else CLAIM_PROFILES[0]


class Claims:
    def __init__(self, notebook: str, document: str, profile: str, device, seed: int, out_dir):
        self.notebook, self.document, self.profile = notebook, document, check_profile(profile)
        self.device, self.seed, self.out_dir = torch.device(device), seed, Path(out_dir)
        self.started = time.time()
        self.claims: dict[str, Claim] = {}
        self.extra: dict = {}
        self.selected: tuple[str, ...] | None = None      # a run of only some claims (``gancourse run --claims``)

    def select(self, ids) -> None:
        """Measure only ``ids`` (None: every claim): the results file then holds those alone, never the others
        as failed. Checked against the declared claims by :meth:`wants`."""
        self.selected = tuple(ids) if ids else None

    def wants(self, *ids: str) -> bool:
        """Does this run measure any of ``ids``? (Every run does, unless it selected claims.)"""
        unknown = sorted(set(self.selected or ()) - set(self.claims))
        if unknown:
            raise CourseError(f"{self.notebook} has no claim(s) {', '.join(unknown)}; its claims: {', '.join(self.claims)}")
        return self.selected is None or any(i in self.selected for i in ids)

    def declare(self, id: str, statement: str, paper: str, criterion, unit: str = "", kind: str = "claim",
                shares_run: str = "", machine_dependent: bool = False, paper_value: float | None = None) -> None:
        """``criterion``: one ``at_least``/``at_most``/``between`` for every profile, or a dict with
        one per claim profile (laptop, course, paper). Declared once, before the run. ``kind`` "check"
        marks a check of an instrument or of a deterministic fact (counted apart from the papers' claims);
        ``shares_run`` names the group of claims measured on the same training runs; ``machine_dependent``
        a value that depends on the machine (a wall-clock ratio); ``paper_value`` the paper's own number
        on the claim's scale, where it has one (drawn beside ours)."""
        if id in self.claims:
            raise CourseError(f"claim {id} is declared already; criteria are fixed before the run")
        if kind not in KINDS:
            raise CourseError(f"a claim's kind is one of {', '.join(KINDS)}, not {kind!r}")
        crit = _criteria(criterion)
        self.claims[id] = Claim(id, statement, paper, {p: str(c) for p, c in crit.items()}, unit, kind=kind,
                                shares_run=shares_run, machine_dependent=machine_dependent, paper_value=paper_value,
                                _check=crit[criterion_for(self.profile)])

    def measure(self, id: str, value, detail: str = "", over: str = "evaluation draws") -> bool | None:
        """``value``: one number, or a list of one per draw (``over`` says what varies between them). A claim
        this run did not select is not measured (None)."""
        if id not in self.claims:
            raise CourseError(f"claim {id} was never declared; declare it (with its criterion) before the run")
        if not self.wants(id):
            return None
        c = self.claims[id]
        if value is None:
            c.measured, c.sd, c.n, c.values = None, 0.0, 0, []
        else:
            s = summary(value)
            c.measured, c.sd, c.n, c.values = s["mean"], s["sd"], s["n"], s["values"]
        c.over = over if c.n > 1 else ""
        c.detail, c.passed = detail, c._check(c.measured, c.sd, c.values)
        return c.passed

    def verdict(self, c: Claim) -> str:
        if c.passed is None:
            return "not measured"
        word = "reproduced" if c.passed else "not reproduced"
        return word if PROFILES[self.profile].claims else word + f" ({self.profile} scale: not a claim)"

    def rows(self) -> list[dict]:
        """One row per claim (only the selected ones, in a run of some claims)."""
        active = criterion_for(self.profile)
        return [dict(id=c.id, statement=c.statement, paper=c.paper, measured=c.measured, sd=c.sd, n=c.n,
                     over=c.over, values=c.values, unit=c.unit, detail=c.detail,
                     criterion=c.criteria[active], criteria=c.criteria, criterion_profile=active,
                     passed=c.passed, verdict=self.verdict(c), kind=c.kind, shares_run=c.shares_run,
                     machine_dependent=c.machine_dependent, paper_value=c.paper_value)
                for c in self.claims.values() if self.selected is None or c.id in self.selected]

    def markdown(self) -> str:
        return claims_table(self.rows())

    def show(self):
        text = (f"Claims of {self.notebook} — profile {self.profile}, device {self.device}, seed {self.seed}"
                f"{'' if PROFILES[self.profile].claims else ' (verdicts use the laptop criteria; not claims)'}"
                "\n\n" + self.markdown())
        try:
            from IPython.display import Markdown, display
            display(Markdown(text))
        except ImportError:
            print(text)

    def save(self, **extra) -> Path:
        """Write ``out_dir/results.json`` (atomically) and return its path."""
        self.extra.update(extra)
        dev = self.device
        doc = dict(notebook=self.notebook, document=self.document, profile=self.profile, seed=self.seed,
                   device=str(dev), device_name=(torch.cuda.get_device_name(dev) if dev.type == "cuda"
                                                 else platform.processor() or platform.machine()),
                   date=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                   wall_time_s=round(wall := time.time() - self.started, 1), commit=git_commit(),
                   machine=hardware(dev), cpu_kind=cpu_kind(), threads=threads.report(), timing=timing.totals(wall),
                   versions=versions(), claims_selected=list(self.selected) if self.selected else None,
                   claims=self.rows(), extra=self.extra)
        path = self.out_dir / RESULTS_FILE
        atomic_write_text(path, json.dumps(doc, indent=1, default=str))
        return path


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file and rename it into place: a reader never sees a torn file, a
    failed write (disk full, read-only) leaves nothing and says so."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CourseError(f"could not write {path} ({exc.strerror or exc}): free some disk space or choose "
                          "another folder; nothing was written") from exc


def claims_table(rows: list[dict]) -> str:
    """The one renderer of a claims table (notebooks and scorecards): measured value with its spread,
    the criterion of every claim profile side by side (the active one in bold), the verdict."""
    profiles_ = list(CLAIM_PROFILES)
    head = ("| id | claim | paper | measured | " + " | ".join(f"{p} criterion" for p in profiles_) + " | verdict |\n"
            + "|---" * (5 + len(profiles_)) + "|\n")
    lines = []
    for r in rows:
        m = format_value(r["measured"], r.get("sd", 0.0), r.get("n", 1), r.get("over", ""))
        unit = f" {r['unit']}" if r.get("unit") else ""
        detail = f" ({r['detail']})" if r.get("detail") else ""
        crit = r.get("criteria") or {r.get("criterion_profile", profiles_[0]): r["criterion"]}
        cells = [(f"**{crit[p]}**" if p == r.get("criterion_profile") else crit.get(p, "—")) + unit
                 for p in profiles_]
        lines.append(f"| {r['id']} | {r['statement']} | {r['paper']} | {m}{detail} | " + " | ".join(cells)
                     + f" | {r['verdict']} |\n")
    return head + "".join(lines)


def passed_rows(rows) -> tuple[int, int]:
    measured = [r for r in rows if r["passed"] is not None]
    return sum(bool(r["passed"]) for r in measured), len(measured)
