"""Instructor grading with nbgrader (Jupyter's own grader): release student notebooks, autograde a
folder of submissions, write a gradebook and feedback.

Why nbgrader (otter-grader was tried too): the course's exercises already use nbgrader's markers
(``### BEGIN SOLUTION`` / ``### END SOLUTION``, ``### BEGIN HIDDEN TESTS``), its autograder runs each
notebook in its own kernel with a time limit and keeps a gradebook database, and it marks
autograding with ``NBGRADER_EXECUTION`` so a check can tell a learner stepping through ("not answered
yet") from a grader (0 points). Otter would need every exercise rewritten in its own question format.

    python -m gancourse grade release COURSE_DIR [01 02 ...]        # student notebooks: COURSE_DIR/release/
    python -m gancourse grade collect COURSE_DIR SUBMISSIONS_DIR    # SUBMISSIONS_DIR/<student>/*.ipynb → grades

Each exercise is an answer cell (the solution, stubbed for students) and a check cell worth the
exercise's points: the visible check, then hidden checks on other inputs (removed from students'
copies). Notebooks are graded in the smoke profile (their default), each in its own kernel, cell
time limit ``timeout``, each student in a scratch copy of the course; points earned in the kernel are
re-checked outside it (the answer cell's source alone, in a fresh process), so patching the checks
inside a submission earns nothing. Every process that runs a submission's code (nbgrader's kernel,
the re-check) runs in a bubblewrap sandbox with limits (``sandbox.py``): no submissions, no course
folder, no solutions, no other student's scratch, no network; nbgrader itself stays outside.
``--jobs N`` grades N students side by side, each in sandboxes of their own.
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
from . import sandbox as sb
from .build import ROOT, build_notebook
from .exercises import BEGIN, REGISTRY, run_isolated, strip_solutions

ASSIGNMENT = "gancourse"
CHECK = re.compile(r'exercises\.check\("(?P<id>[0-9]{2}\.E[0-9]+)",\s*(?P<answer>\w+)\)')
UNSAFE = "WARNING: graded without a sandbox (--no-sandbox)"


def add_grading_metadata(nb) -> list[str]:
    """nbgrader metadata on a notebook with solutions: answer cells are solution cells, check cells are
    graded (the exercise's points) and get the hidden checks; every other cell is left as it is.
    Returns the ids of the graded exercises."""
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
            cell.source = (cell.source.rstrip() + "\n### BEGIN HIDDEN TESTS\n"
                           f'exercises.hidden("{ex.id}", {m["answer"]})\n### END HIDDEN TESTS')
            cell.metadata["nbgrader"] = dict(grade=True, grade_id=ex.id.replace(".", "-"), locked=True,
                                             points=ex.points, schema_version=3, solution=False, task=False)
            graded.append(ex.id)
    return graded


def _nbgrader(course_dir: Path, *args: str, timeout: int | None = None, check: bool = True,
              box: dict | None = None, wall: int | None = None) -> subprocess.CompletedProcess:
    """nbgrader in ``course_dir``. With ``box`` (``sandbox.view()`` plus limits) every kernel it starts
    runs in a sandbox; after ``wall`` seconds nbgrader and its kernels are killed (TimeoutExpired)."""
    main = ["-c", "from gancourse.course.sandbox import nbgrader_main; nbgrader_main()"] if box else ["-m", "nbgrader"]
    cmd = [sys.executable, *main, *args, f"--CourseDirectory.root={course_dir}",
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


def recheck(notebooks: list[Path], ex_id: str, timeout: int = 300, prefix: list[str] = ()) -> str | None:
    """Re-run exercise ``ex_id``'s visible and hidden checks on the submission's answer cell (the last
    cell defining the answer), outside the student's kernel: the cell's own source in a fresh Python
    process, started through ``prefix`` (the sandbox). None if it passes, else why."""
    ex = REGISTRY[ex_id]
    cells = [c.source for nb in notebooks for c in nbformat.read(nb, as_version=4).cells
             if c.cell_type == "code" and re.search(rf"^def {re.escape(ex.answer)}\(", c.source, re.M)]
    if not cells:
        return f"no cell defines {ex.answer}"
    return run_isolated(ex_id, cells[-1], ex.answer, timeout=timeout, prefix=prefix)


@dataclass
class Plan:
    """How ``collect`` grades each student."""
    timeout: int                                         # seconds a cell may run
    ids: list[str]                                       # the graded exercises
    limits: sb.Limits
    box: dict | None = None                              # sandbox.view(): None grades without a sandbox
    hidden: list[str] = field(default_factory=list)      # host folders no sandbox sees (to name what it stopped)


def collect(course_dir, submissions, timeout: int = 900, jobs: int = 1, sandbox: bool = True,
            limits: sb.Limits | None = None) -> Path:
    """Autograde ``submissions/<student>/*.ipynb``, ``jobs`` students side by side. Each student is
    graded in a scratch copy of the course (its own gradebook, its own kernel per notebook, cells
    interrupted after ``timeout`` seconds), and every process that runs the submission's code (its
    kernels, the re-checks) runs in a bubblewrap sandbox with ``limits`` (``sandbox.Limits``), which
    sees no submissions, no course folder, no solutions, no other student's scratch and no network.
    Check cells are restored from the instructor's version, points earned in the kernel re-checked in
    a fresh process; submissions are only read. Writes feedback per student
    (``course_dir/feedback/<student>/``), the graded notebooks (``course_dir/autograded/<student>/``)
    and ``course_dir/grades.csv``: points per exercise, total, maximum, and a status column (``ok``, or
    why a notebook lost points or could not be graded, naming the limit that stopped it).
    ``sandbox=False`` grades without one (unsafe) and says so in every status."""
    if sandbox and (why := sb.unavailable()):
        raise CourseError(why)
    course_dir, submissions = Path(course_dir).resolve(), Path(submissions).resolve()
    if not (course_dir / "source" / ASSIGNMENT).is_dir():
        raise CourseError(f"{course_dir} has no released assignment: run `gancourse grade release {course_dir}` first")
    students = sorted(p.name for p in submissions.iterdir() if p.is_dir()) if submissions.is_dir() else []
    if not students:
        raise CourseError(f"no student folders in {submissions} (expected {submissions}/<student>/NN_topic.ipynb)")
    jobs = max(1, int(jobs))
    plan = Plan(timeout, graded_ids(course_dir), limits or sb.Limits(wall_s=max(sb.Limits.wall_s, 4 * timeout)),
                hidden=[str(p) for p in (course_dir, submissions, ROOT / "notebooks", Path.home())])
    if sandbox:
        plan.box = sb.view(max(1, int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1) // jobs))
        inside = [p for p in (course_dir, submissions) if any(p.is_relative_to(r) for r in plan.box["ro"])]
        if inside:
            raise CourseError(f"{inside[0]} lies in what the sandbox shows read-only ({', '.join(plan.box['ro'])}): "
                              "move it elsewhere")
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        rows = list(pool.map(lambda s: _grade_one(course_dir, submissions / s, s, plan), students))
    out = course_dir / "grades.csv"
    with open(out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", *plan.ids, "total", "max", "status"])
        writer.writerows(rows)
    return out


_LOG_LINE = re.compile(r"\| (?P<level>ERROR|WARNING)\] (?P<msg>.*)")
_NOISE = re.compile(r"Traceback|Please see|There was an error processing assignment|\s*$")   # nbgrader's generic lines


def _grade_ids(nb: Path) -> list[str]:
    return [c.metadata.get("nbgrader", {}).get("grade_id") for c in nbformat.read(nb, as_version=4).cells
            if c.metadata.get("nbgrader", {}).get("grade_id")]


def _deleted_cells(source: Path, submitted: Path) -> list[str]:
    """The instructor's graded or locked cells missing from a submission (they score 0; the status says so)."""
    if not source.exists():
        return []
    there = set(_grade_ids(submitted))
    return [g for g in _grade_ids(source) if g not in there]


def _stripped_copy(source: Path, dest: Path) -> None:
    """The instructor's notebooks as nbgrader needs them to restore check cells (hidden checks in), with
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
        what = sb.explain(text, plan.limits, plan.timeout, plan.hidden)
        if what and what not in found:
            found[what] = f"{what} ({text.strip().splitlines()[0][:120].rstrip(': ')})" if text.strip() else what
    return list(found.values())


def _grade_one(course_dir: Path, folder: Path, student: str, plan: Plan) -> list:
    from nbgrader.api import Gradebook
    scratch = Path(tempfile.mkdtemp(prefix="gancourse-grade-"))
    problems = [] if plan.box else [UNSAFE]
    try:
        _stripped_copy(course_dir / "source", scratch / "source")
        shutil.copy(course_dir / "gradebook.db", scratch / "gradebook.db")      # the assignment, no students
        dest = scratch / "submitted" / student / ASSIGNMENT
        dest.mkdir(parents=True)
        for nb in folder.glob("*.ipynb"):                                   # read, never written
            shutil.copyfile(nb, dest / nb.name)
        problems += [f"{nb.name}: cells deleted: {', '.join(gone)}" for nb in sorted(dest.glob("*.ipynb"))
                     if (gone := _deleted_cells(scratch / "source" / ASSIGNMENT / nb.name, nb))]
        limits = sb.run_limits(plan.limits)
        box = dict(plan.box, limits=limits, sockets=str(scratch / "ipc")) if plan.box else None
        (scratch / "ipc").mkdir()
        try:
            r = _nbgrader(scratch, "autograde", ASSIGNMENT, "--force", timeout=plan.timeout, check=False,
                          box=box, wall=plan.limits.wall_s)
            log = r.stdout + r.stderr
        except subprocess.TimeoutExpired as exc:
            log = "".join(x.decode(errors="replace") if isinstance(x, bytes) else (x or "") for x in (exc.stdout, exc.stderr))
            problems.append(f"time limit ({plan.limits.wall_s} s for a student's whole grading) hit: grading stopped")
        logged = [m["msg"].strip() for m in _LOG_LINE.finditer(log)
                  if (m["level"] == "ERROR" or "missing" in m["msg"].lower()) and not _NOISE.match(m["msg"])]
        problems += [line.split(sb.MARK, 1)[1].strip() for line in log.splitlines() if sb.MARK in line]
        problems += _named(logged + _errors(sorted((scratch / "autograded").rglob("*.ipynb"))), plan)
        problems += [m for m in logged if not sb.explain(m, plan.limits, plan.timeout, plan.hidden)]
        _nbgrader(scratch, "generate_feedback", ASSIGNMENT, "--force", check=False)
        points, total, max_total = {}, 0.0, 0.0
        with Gradebook(f"sqlite:///{scratch / 'gradebook.db'}") as gb:
            try:
                sub = gb.find_submission(ASSIGNMENT, student)
                for nb in sub.notebooks:
                    for grade in nb.grades:
                        points[grade.name.replace("-", ".")] = grade.score
                        total += grade.score
                        max_total += grade.max_score
            except Exception as exc:             # nbgrader could not grade it at all
                problems.append(f"not graded: {exc}")
        if not max_total:                        # nothing graded: the maximum is the assignment's
            with Gradebook(f"sqlite:///{scratch / 'gradebook.db'}") as gb:
                max_total = sum(nb.max_score for nb in gb.find_assignment(ASSIGNMENT).notebooks)
        for ex_id in [i for i in plan.ids if points.get(i)]:     # points earned in the kernel: re-check outside it
            prefix = sb.wrap(plan.box, limits) if plan.box else ()
            why = recheck(sorted(dest.glob("*.ipynb")), ex_id, plan.timeout, prefix)
            if why:
                total -= points[ex_id]
                points[ex_id] = 0.0
                named = _named([why], plan)
                problems.append(f"{ex_id}: re-checked outside the kernel: {named[0] if named else why}")
        for kind in ("feedback", "autograded"):
            src = scratch / kind / student
            if src.exists():
                shutil.rmtree(course_dir / kind / student, ignore_errors=True)
                shutil.copytree(src, course_dir / kind / student)
        status = "; ".join(dict.fromkeys(problems))[:500] or "ok"
        summary = course_dir / "feedback" / student / "summary.txt"       # every student gets one, graded or not
        summary.parent.mkdir(parents=True, exist_ok=True)
        summary.write_text(f"{student}: {total:g} / {max_total:g} points\n"
                           + "".join(f"  {i}: {points.get(i, 0.0):g}\n" for i in plan.ids)
                           + f"status: {status}\n"
                           + ("nbgrader's feedback per notebook: the .html files beside this one\n"
                              if (scratch / "feedback" / student).exists() else
                              "nbgrader could not write feedback for this submission (see the status)\n"))
        return [student, *(points.get(i, 0.0) for i in plan.ids), total, max_total, status]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
