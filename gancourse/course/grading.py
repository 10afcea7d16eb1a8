"""Instructor grading: release student notebooks (nbgrader), then grade a folder of submissions where
the grader decides.

    python -m gancourse grade release COURSE_DIR [01 02 ...]        # student notebooks: COURSE_DIR/release/
    python -m gancourse grade collect COURSE_DIR SUBMISSIONS_DIR    # SUBMISSIONS_DIR/<student>/*.ipynb → grades

**Points** come from ``judge``: each exercise's answer cell runs in a sandbox that cannot import the course,
on the visible check's inputs and on inputs drawn from a secret of this grading run, and only its outputs
come back; the comparison with the reference happens in the grader's own process. Nothing a submission does
in its notebook (patched checks, a changed registry, an input transformer, an exit status) reaches that
comparison. **Feedback** comes from nbgrader: each notebook executed in a sandboxed kernel (``sandbox.py``),
its outputs capped and sanitised, rendered to HTML; nbgrader's own scores are not used.

**Bad files stay one student's problem**: only regular files are read (no links, folders or devices), up to
``MAX_NOTEBOOK`` bytes, named as the released notebooks (others are ignored); a file that is not a valid
notebook is "not a notebook" with 0 points for its exercises; ``grades.csv`` always has a row per student,
even when grading one of them failed. Before grading anyone, one sandboxed kernel and one answer sandbox are
started, and a failure stops ``collect`` with its cause.
"""
from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .. import CourseError
from . import judge
from . import sandbox as sb
from .memory import cgroups_available
from .submissions import read_submission, sanitize
from .build import build_notebook
from .exercises import BEGIN, REGISTRY, solution_source, strip_solutions

ASSIGNMENT = "gancourse"
CHECK = re.compile(r'exercises\.check\("(?P<id>[0-9]{2}\.E[0-9]+)",\s*(?P<answer>\w+)\)')
UNSAFE = "WARNING: graded without a sandbox (--no-sandbox)"
GRADER_MEMORY = 6 << 30              # address space of nbgrader's own process (a flood of output stops there)


def add_grading_metadata(nb) -> list[str]:
    """nbgrader metadata on a notebook with solutions: answer cells are solution cells, check cells are
    graded cells (the exercise's points, for nbgrader's feedback: the grade itself is the judge's); every other
    cell is left as it is. Returns the ids of the graded exercises."""
    graded = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        m = CHECK.search(cell.source)
        if BEGIN in cell.source:
            cell.metadata["nbgrader"] = dict(grade=False, grade_id=f"answer-{cell.id}", locked=False,
                                             schema_version=3, solution=True, task=False)
        elif m:
            ex = REGISTRY[m["id"]]
            cell.metadata["nbgrader"] = dict(grade=True, grade_id=ex.id.replace(".", "-"), locked=True,
                                             points=ex.points, schema_version=3, solution=False, task=False)
            graded.append(ex.id)
    return graded


def _nbgrader(course_dir: Path, *args: str, timeout: int | None = None, check: bool = True,
              box: dict | None = None, wall: int | None = None) -> subprocess.CompletedProcess:
    """nbgrader in ``course_dir``. With ``box`` (``sandbox.view()`` plus limits) every kernel it starts
    runs in a sandbox; after ``wall`` seconds nbgrader and its kernels are killed (TimeoutExpired)."""
    start = ("from gancourse.course.kernels import nbgrader_main; nbgrader_main()" if box else
             "import sys; from nbgrader.apps.nbgraderapp import main; sys.argv[0] = 'nbgrader'; main()")
    cap = (f"import resource as r; r.setrlimit(r.RLIMIT_AS, ({GRADER_MEMORY}, r.getrlimit(r.RLIMIT_AS)[1])); "  # soft: kernels
           if hasattr(os, "fork") else "")                                                                       # start free
    cmd = [sys.executable, "-c", cap + start, *args, f"--CourseDirectory.root={course_dir}",
           f"--CourseDirectory.db_url=sqlite:///{course_dir / 'gradebook.db'}"]
    if timeout is not None:      # a cell that runs too long is interrupted and recorded as failed; grading goes on
        cmd += [f"--ExecutePreprocessor.timeout={timeout}", "--ExecutePreprocessor.interrupt_on_timeout=True"]
    env = {**os.environ, "GANCOURSE_PROGRESS": "off", "GANCOURSE_OUT": str(course_dir / "runs"),  # a student's runs stay in their scratch
           "JUPYTER_RUNTIME_DIR": str(course_dir / "runtime"),           # the kernels' connection files too
           # nbgrader runs `alembic` from this environment's bin/
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    if box:
        env[sb.SPEC_ENV] = json.dumps(box)
    r = subprocess.run(cmd, cwd=course_dir, capture_output=True, text=True, env=env, timeout=wall)
    if check and r.returncode != 0:
        raise CourseError(f"nbgrader {args[0]} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r


def release(course_dir, notebooks: list[Path]) -> list[Path]:
    """Write the instructor notebooks (solutions, checks, hidden checks, nbgrader metadata) into
    ``course_dir/source/gancourse/`` and generate the students' versions in ``course_dir/release/gancourse/``:
    solutions stubbed with ``raise NotImplementedError``, hidden checks removed, everything else intact."""
    course_dir = Path(course_dir).resolve()
    src = course_dir / "source" / ASSIGNMENT
    src.mkdir(parents=True, exist_ok=True)
    for path in notebooks:
        nb = build_notebook(path, solutions=True)
        if add_grading_metadata(nb):
            nbformat.write(nb, src / f"{path.stem}.ipynb")
    _nbgrader(course_dir, "generate_assignment", ASSIGNMENT, "--force")
    return sorted((course_dir / "release" / ASSIGNMENT).glob("*.ipynb"))


def graded_ids(course_dir: Path) -> list[str]:
    """The exercises of the released assignment, from the instructor notebooks' graded cells."""
    ids = []
    for path in sorted((course_dir / "source" / ASSIGNMENT).glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade") and not meta.get("solution"):
                ids.append(meta["grade_id"].replace("-", "."))
    return ids


def judge_notebook(nb, ids: list[str], secret: int, prefix, timeout: int) -> dict[str, judge.Result]:
    """Every exercise of ``ids`` whose answer this notebook holds, judged (``judge.answer``)."""
    cells = [c.source for c in nb.cells if c.cell_type == "code"]
    return {i: judge.answer(REGISTRY[i], judge.answer_cell(cells, REGISTRY[i].answer), secret, prefix, timeout) for i in ids}


@dataclass
class Plan:
    """How ``collect`` grades each student."""
    timeout: int                                         # seconds a cell (or an answer's whole run) may take
    ids: list[str]                                       # the graded exercises
    limits: sb.Limits
    secret: int                                          # the seed of the hidden inputs (this run's own)
    box: dict | None = None                              # sandbox.view(): None grades without a sandbox
    answers: dict | None = None                          # sandbox.view(course=False): where answers run
    notebooks: dict = field(default_factory=dict)        # released notebook name → its exercises

    def answer_box(self):
        """Where one answer runs: a sandbox that cannot import the course (or, unsafely, this machine as it is)."""
        return sb.Box(self.answers, self.limits, stdout=True) if self.answers is not None else []


def collect(course_dir, submissions, timeout: int = 900, jobs: int = 1, sandbox: bool = True,
            limits: sb.Limits | None = None) -> Path:
    """Grade ``submissions/<student>/*.ipynb``, ``jobs`` students side by side. Each exercise's points are
    the judge's (``judge.answer``: the answer cell run in a sandbox without the course, on the visible and on
    secret inputs, compared here); each submitted notebook is also run by nbgrader in a sandboxed kernel
    (cells interrupted after ``timeout`` seconds) for feedback, its outputs capped and sanitised. Submissions
    are only read (``submissions.read_submission``). Writes feedback per student
    (``course_dir/feedback/<student>/``), the graded notebooks (``course_dir/autograded/<student>/``)
    and ``course_dir/grades.csv``: points per exercise, total, maximum, and a status column (``ok``, or
    why an exercise lost its points and what went wrong in the notebook's run, naming the limit that
    stopped it), a row for every student. ``sandbox=False`` grades without one (unsafe) and says so in
    every status."""
    if sandbox and (why := sb.unavailable()):
        raise CourseError(why)
    course_dir, submissions = Path(course_dir).resolve(), Path(submissions).resolve()
    if not (course_dir / "source" / ASSIGNMENT).is_dir():
        raise CourseError(f"{course_dir} has no released assignment: run `gancourse grade release {course_dir}` first")
    students = sorted(p.name for p in submissions.iterdir() if p.is_dir() or p.is_symlink()) if submissions.is_dir() else []
    if not students:
        raise CourseError(f"no student folders in {submissions} (expected {submissions}/<student>/NN_topic.ipynb)")
    jobs = max(1, int(jobs))
    plan = Plan(timeout, graded_ids(course_dir), limits or sb.Limits(wall_s=max(sb.Limits.wall_s, 4 * timeout)),
                judge.new_secret(), notebooks=released_exercises(course_dir))
    if sandbox:
        cgroups = cgroups_available(plan.limits.memory_mib)
        threads = max(1, int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1) // jobs)
        plan.box = dict(sb.view(threads), cgroups=cgroups)
        plan.answers = dict(sb.view(1, course=False), cgroups=cgroups)
        inside = [p for p in (course_dir, submissions) if any(p.is_relative_to(r) for r in plan.box["ro"])]
        if inside:
            raise CourseError(f"{inside[0]} lies in what the sandbox shows read-only ({', '.join(plan.box['ro'])}): "
                              "move it elsewhere")
        precheck(course_dir, plan)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        rows = list(pool.map(lambda s: _row(course_dir, submissions / s, s, plan), students))
    out = course_dir / "grades.csv"
    with open(out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", *plan.ids, "total", "max", "status"])
        writer.writerows(rows)
    return out


def released_exercises(course_dir: Path) -> dict[str, list[str]]:
    """Released notebook name → the exercises graded in it."""
    out = {}
    for path in sorted((course_dir / "source" / ASSIGNMENT).glob("*.ipynb")):
        out[path.name] = [c.metadata["nbgrader"]["grade_id"].replace("-", ".") for c in nbformat.read(path, as_version=4).cells
                          if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata["nbgrader"].get("solution")]
    return out


def precheck(course_dir: Path, plan: Plan) -> None:
    """Before grading anyone: a sandboxed kernel answers, and an answer sandbox judges a reference answer
    right. A grader that cannot start them would give every student 0; it stops here instead, with the cause."""
    fix = ("check that the Python environment is reached through a real path (not a symbolic link: the "
           "sandbox shows the environment's own folders), that bwrap runs (`bwrap --ro-bind / / true`), and "
           "retry; --no-sandbox grades without a sandbox (unsafe)")
    env = {**os.environ, sb.SPEC_ENV: json.dumps(dict(plan.box, limits=sb.run_limits(plan.limits),
                                                       sockets=tempfile.mkdtemp(prefix="gancourse-precheck-")))}
    r = subprocess.run([sys.executable, "-c", "from gancourse.course.kernels import kernel_check; kernel_check()"],
                       capture_output=True, text=True, env=env, timeout=300)
    shutil.rmtree(json.loads(env[sb.SPEC_ENV])["sockets"], ignore_errors=True)
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or r.stdout.strip().splitlines() or ["no output"])[-1]
        raise CourseError(f"a sandboxed kernel cannot start here ({last}): no one was graded. Fix: {fix}")
    ex_id = plan.ids[0] if plan.ids else "01.E1"
    ex = REGISTRY[ex_id]
    got = judge.answer(ex, judge.answer_cell([solution_source(ex_id)], ex.answer), plan.secret, plan.answer_box(), 300)
    if got.points != ex.points:
        raise CourseError(f"the answer sandbox judged the reference answer of {ex_id} wrong ({got.why}): no one was "
                          f"graded. Fix: {fix}")


def _row(course_dir: Path, folder: Path, student: str, plan: Plan) -> list:
    """One student's row, whatever happens while grading them (the class is always graded to the end)."""
    try:
        return _grade_one(course_dir, folder, student, plan)
    except Exception as exc:                 # noqa: BLE001 (a grader's bug or a lost machine: this student's row says so)
        status = f"not graded: the grader failed ({type(exc).__name__}: {str(exc)[:200]})"
        return [student, *(0.0 for _ in plan.ids), 0.0, float(sum(REGISTRY[i].points for i in plan.ids)), status]


_LOG_LINE = re.compile(r"\| (?P<level>ERROR|WARNING)\] (?P<msg>.*)")
_NOISE = re.compile(r"Traceback|Please see|There was an error processing assignment|\s*$")   # nbgrader's generic lines


def _grade_ids(nb: Path) -> list[str]:
    return [c.metadata.get("nbgrader", {}).get("grade_id") for c in nbformat.read(nb, as_version=4).cells
            if c.metadata.get("nbgrader", {}).get("grade_id")]


def _deleted_cells(source: Path, submitted: Path) -> list[str]:
    """The instructor's graded or locked cells missing from a submission (the status says so)."""
    if not source.exists():
        return []
    there = set(_grade_ids(submitted))
    return [g for g in _grade_ids(source) if g not in there]


def _stripped_copy(source: Path, dest: Path) -> None:
    """The instructor's notebooks as nbgrader needs them to restore check cells, with
    every solution cell stubbed: no solution reaches a student's scratch, sandbox or not. (nbgrader
    restores check cells from the gradebook, which holds no solutions either: it is written after
    nbgrader clears them.)"""
    for path in source.rglob("*"):
        out = dest / path.relative_to(source)
        if path.is_dir():
            out.mkdir(parents=True, exist_ok=True)
        elif path.suffix == ".ipynb":
            nb = nbformat.read(path, as_version=4)
            for cell in nb.cells:
                if cell.cell_type == "code" and BEGIN in cell.source:
                    cell.source = strip_solutions(cell.source)
            out.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, out)
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, out)


def _errors(notebooks: list[Path]) -> list[str]:
    """``ename: evalue`` of every error a graded notebook shows."""
    out = []
    for path in notebooks:
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:                    # noqa: BLE001 (a notebook nbgrader could not finish)
            continue
        out += [f"{o.get('ename')}: {o.get('evalue')}" for c in nb.cells if c.cell_type == "code"
                for o in c.get("outputs", []) if o.get("output_type") == "error"]
    return out


def _named(texts: list[str], plan: Plan) -> list[str]:
    """What stopped the submission, for each text a sandbox limit or wall explains (one entry each)."""
    found = {}
    for text in texts:
        what = sb.explain(text, plan.limits, plan.timeout)
        if what and what not in found:
            found[what] = f"{what} ({text.strip().splitlines()[0][:120].rstrip(': ')})" if text.strip() else what
    return list(found.values())


def _grade_one(course_dir: Path, folder: Path, student: str, plan: Plan) -> list:
    import time
    from nbgrader.api import Gradebook  # noqa: F401 (nbgrader present: the feedback needs it)
    deadline = time.monotonic() + plan.limits.wall_s
    left = lambda: max(1, int(deadline - time.monotonic()))
    scratch = Path(tempfile.mkdtemp(prefix="gancourse-grade-"))
    problems = [] if plan.box else [UNSAFE]
    try:
        submitted, bad = read_submission(folder, list(plan.notebooks))
        problems += bad
        points = {}                                                  # the judge's, and only the judge's
        for name, ids in plan.notebooks.items():
            cells = [c.source for c in submitted[name].cells if c.cell_type == "code"] if name in submitted else None
            for i in ids:
                if cells is None:
                    points[i] = 0.0
                    continue
                if time.monotonic() > deadline:
                    points[i] = 0.0
                    problems.append(f"{i}: not judged: time limit ({plan.limits.wall_s} s for a student's whole grading) hit")
                    continue
                res = judge.answer(REGISTRY[i], judge.answer_cell(cells, REGISTRY[i].answer), plan.secret,
                                   plan.answer_box(), min(plan.timeout, left()))
                points[i] = res.points
                if res.why:
                    named = _named([res.why], plan)
                    problems.append(f"{i}: {named[0] if named else res.why}")
        problems += _feedback(course_dir, scratch, student, submitted, plan, left)
        total, max_total = sum(points.values()), float(sum(REGISTRY[i].points for i in plan.ids))
        status = "; ".join(dict.fromkeys(problems))[:500] or "ok"
        summary = course_dir / "feedback" / student / "summary.txt"       # every student gets one, graded or not
        summary.parent.mkdir(parents=True, exist_ok=True)
        summary.write_text(f"{student}: {total:g} / {max_total:g} points\n"
                           + "".join(f"  {i}: {points.get(i, 0.0):g}\n" for i in plan.ids)
                           + f"status: {status}\n"
                           + ("the graded notebooks, as feedback: the .html files beside this one\n"
                              if any((course_dir / "feedback" / student).glob("*.html")) else
                              "no notebook could be rendered as feedback (see the status)\n"))
        return [student, *(points.get(i, 0.0) for i in plan.ids), total, max_total, status]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _feedback(course_dir: Path, scratch: Path, student: str, submitted: dict, plan: Plan, left) -> list[str]:
    """Run the submitted notebooks in nbgrader (sandboxed kernels) and render them as sanitised feedback;
    what went wrong, for the status (the points do not depend on it)."""
    problems = []
    if not submitted:
        return problems
    _stripped_copy(course_dir / "source", scratch / "source")
    shutil.copy(course_dir / "gradebook.db", scratch / "gradebook.db")      # the assignment, no students
    dest = scratch / "submitted" / student / ASSIGNMENT
    dest.mkdir(parents=True)
    for name, nb in submitted.items():                                   # the validated copies: read once, never written
        nbformat.write(nb, dest / name)
    problems += [f"{nb.name}: cells deleted: {', '.join(gone)}" for nb in sorted(dest.glob("*.ipynb"))
                 if (gone := _deleted_cells(scratch / "source" / ASSIGNMENT / nb.name, nb))]
    box = dict(plan.box, limits=sb.run_limits(plan.limits), sockets=str(scratch / "ipc")) if plan.box else None
    (scratch / "ipc").mkdir()
    try:
        r = _nbgrader(scratch, "autograde", ASSIGNMENT, "--force", timeout=plan.timeout, check=False, box=box, wall=left())
        log = r.stdout + r.stderr
    except subprocess.TimeoutExpired as exc:
        log = "".join(x.decode(errors="replace") if isinstance(x, bytes) else (x or "") for x in (exc.stdout, exc.stderr))
        problems.append(f"time limit ({plan.limits.wall_s} s for a student's whole grading) hit: the notebooks' run stopped")
    logged = [m["msg"].strip() for m in _LOG_LINE.finditer(log)
              if (m["level"] == "ERROR" or "missing" in m["msg"].lower()) and not _NOISE.match(m["msg"])]
    problems += [line.split(sb.MARK, 1)[1].strip() for line in log.splitlines() if sb.MARK in line]
    graded = sorted((scratch / "autograded").rglob("*.ipynb"))
    problems += _named(logged + _errors(graded), plan)
    problems += [f"the notebook's run: {m[:200]}" for m in logged if not sb.explain(m, plan.limits, plan.timeout)]
    if MemoryError.__name__ in log or "Cannot allocate memory" in log:
        problems.append("the notebook's run: nbgrader ran out of memory (the submission printed too much?)")
    ran = {p.name for p in graded}
    problems += [f"{name}: nbgrader could not run it: no feedback" for name in submitted if name not in ran]
    for path in graded:
        sanitize(path)
    try:
        _nbgrader(scratch, "generate_feedback", ASSIGNMENT, "--force", check=False, wall=left())
    except subprocess.TimeoutExpired:
        problems.append(f"time limit ({plan.limits.wall_s} s for a student's whole grading) hit: no feedback")
    for kind in ("feedback", "autograded"):
        src = scratch / kind / student
        if src.exists():
            shutil.rmtree(course_dir / kind / student, ignore_errors=True)
            shutil.copytree(src, course_dir / kind / student)
    return problems
