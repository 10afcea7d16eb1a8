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
time limit ``timeout``.
"""
from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from . import CourseError
from .exercises import BEGIN, REGISTRY

ASSIGNMENT = "gancourse"
CHECK = re.compile(r'exercises\.check\("(?P<id>[0-9]{2}\.E[0-9]+)",\s*(?P<answer>\w+)\)')


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


def _nbgrader(course_dir: Path, *args: str, timeout: int | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={course_dir}",
           f"--CourseDirectory.db_url=sqlite:///{course_dir / 'gradebook.db'}"]
    if timeout is not None:
        cmd.append(f"--ExecutePreprocessor.timeout={timeout}")
    env = {**os.environ, "GANCOURSE_PROGRESS": "off",   # nbgrader runs `alembic` from this environment's bin/
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    r = subprocess.run(cmd, cwd=course_dir, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise CourseError(f"nbgrader {args[0]} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r


def release(course_dir, notebooks: list[Path]) -> list[Path]:
    """Write the instructor notebooks (solutions, checks, hidden checks, nbgrader metadata) into
    ``course_dir/source/gancourse/`` and generate the students' versions in ``course_dir/release/gancourse/``:
    solutions stubbed with ``raise NotImplementedError``, hidden checks removed, everything else intact."""
    from .cli import build_notebook                      # cli imports this module for its commands
    course_dir = Path(course_dir).resolve()
    src = course_dir / "source" / ASSIGNMENT
    src.mkdir(parents=True, exist_ok=True)
    for path in notebooks:
        nb = build_notebook(path, solutions=True)
        if add_grading_metadata(nb):
            nbformat.write(nb, src / f"{path.stem}.ipynb")
    _nbgrader(course_dir, "generate_assignment", ASSIGNMENT, "--force")
    return sorted((course_dir / "release" / ASSIGNMENT).glob("*.ipynb"))


def collect(course_dir, submissions, timeout: int = 900) -> Path:
    """Autograde ``submissions/<student>/*.ipynb`` (each notebook in its own kernel, cells limited to
    ``timeout`` seconds), write feedback per student (``course_dir/feedback/``) and a gradebook
    ``course_dir/grades.csv``: one row per student, points per exercise and the total."""
    from nbgrader.api import Gradebook
    course_dir, submissions = Path(course_dir).resolve(), Path(submissions)
    if not (course_dir / "source" / ASSIGNMENT).is_dir():
        raise CourseError(f"{course_dir} has no released assignment: run `gancourse grade release {course_dir}` first")
    students = sorted(p.name for p in submissions.iterdir() if p.is_dir())
    if not students:
        raise CourseError(f"no student folders in {submissions} (expected {submissions}/<student>/NN_topic.ipynb)")
    for student in students:
        dest = course_dir / "submitted" / student / ASSIGNMENT
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        for nb in (submissions / student).glob("*.ipynb"):
            shutil.copy(nb, dest / nb.name)
    _nbgrader(course_dir, "autograde", ASSIGNMENT, "--force", timeout=timeout)
    _nbgrader(course_dir, "generate_feedback", ASSIGNMENT, "--force")
    ids = sorted(ex_id for ex_id in REGISTRY)
    out = course_dir / "grades.csv"
    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gb, open(out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", *ids, "total", "max"])
        for student in students:
            points, total, max_total = {}, 0.0, 0.0
            sub = gb.find_submission(ASSIGNMENT, student)
            for nb in sub.notebooks:
                for grade in nb.grades:
                    ex_id = grade.name.replace("-", ".")
                    points[ex_id] = grade.score
                    total += grade.score
                    max_total += grade.max_score
            writer.writerow([student, *(points.get(i, "") for i in ids), total, max_total])
    return out
