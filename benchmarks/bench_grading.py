"""Grading speed: `gancourse grade collect` on N submissions of one course notebook (issue 13: 30 on the
2-core CPU), each graded in its sandbox (issue 29), with ``--jobs 1`` and ``--jobs 2`` in the same run,
and one plain smoke run of the same notebook as the yardstick.

    python benchmarks/bench_grading.py --notebook 06_autogan --students 30

Submissions are the released student notebook with every answer cell filled in from the instructor's
version (two in three students) or left as the stub (one in three). Reports the wall time of each
collect, seconds per submission, the ratio per submission / plain run (the grader's overhead:
nbgrader's kernel, the sandbox, feedback, the re-check of each answer in a fresh process) and the
speed-up of ``--jobs 2`` over ``--jobs 1`` (wall time of jobs 1 / wall time of jobs 2). Writes a JSON
line to stdout; each gradebook is checked, so a benchmark that graded nothing cannot pass for a fast one.
``--no-sandbox`` measures grading without the sandbox (its cost: compare two runs).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from gancourse.course import build, grading  # noqa: E402


def plain_run(notebook: str, out: Path) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "gancourse", "run", notebook, "--profile", "smoke", "--out", str(out)],
                   check=True, cwd=ROOT, capture_output=True)
    return time.perf_counter() - t


def graded(course: Path, subs: Path, jobs: int, timeout: int, sandbox: bool, expected: int, students: int) -> float:
    """Wall seconds of one collect on a fresh copy of the released course; exits if the gradebook is wrong."""
    t = time.perf_counter()
    grades = grading.collect(course, subs, timeout=timeout, jobs=jobs, sandbox=sandbox)
    wall = time.perf_counter() - t
    rows = list(csv.DictReader(grades.open()))
    full = sum(float(r["total"]) == float(r["max"]) for r in rows)
    if len(rows) != students or full != expected:
        sys.exit(f"--jobs {jobs}: gradebook wrong: {len(rows)} rows, {full} full marks (expected {expected}); "
                 f"statuses: {sorted({r['status'] for r in rows})}")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--notebook", default="06_autogan")
    ap.add_argument("--students", type=int, default=30)
    ap.add_argument("--timeout", type=int, default=600)
    ap.add_argument("--no-sandbox", action="store_true", help="grade without the sandbox")
    args = ap.parse_args()
    src, = [p for p in build.course_notebooks() if p.stem.startswith(args.notebook)]
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        tmp = Path(tmp)
        baseline = plain_run(src.stem, tmp / "plain")
        student_nb, = grading.release(tmp / "course", [src])
        instructor = nbformat.read(tmp / "course" / "source" / grading.ASSIGNMENT / student_nb.name, as_version=4)
        answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in instructor.cells
                   if c.metadata.get("nbgrader", {}).get("solution")}
        for i in range(args.students):
            nb = nbformat.read(student_nb, as_version=4)
            if i % 3 != 2:
                for c in nb.cells:
                    gid = c.metadata.get("nbgrader", {}).get("grade_id")
                    if gid in answers:
                        c.source = answers[gid]
            (tmp / "subs" / f"s{i:02d}").mkdir(parents=True)
            nbformat.write(nb, tmp / "subs" / f"s{i:02d}" / student_nb.name)
        expected = sum(i % 3 != 2 for i in range(args.students))
        walls = {}
        for jobs in (1, 2):
            course = tmp / f"course-jobs{jobs}"
            shutil.copytree(tmp / "course", course)
            walls[jobs] = graded(course, tmp / "subs", jobs, args.timeout, not args.no_sandbox, expected, args.students)
    per = {j: w / args.students for j, w in walls.items()}
    print(json.dumps({"notebook": src.stem, "students": args.students, "sandbox": not args.no_sandbox,
                      "collect_wall_s_jobs1": round(walls[1], 1), "collect_wall_s_jobs2": round(walls[2], 1),
                      "jobs2_speedup": round(walls[1] / walls[2], 2),
                      "per_submission_s_jobs1": round(per[1], 1), "per_submission_s_jobs2": round(per[2], 1),
                      "plain_smoke_run_s": round(baseline, 1),
                      "per_submission_over_plain_run_jobs1": round(per[1] / baseline, 2),
                      "per_submission_over_plain_run_jobs2": round(per[2] / baseline, 2),
                      "full_marks_each_run": expected,
                      "device": f"{os.cpu_count()}-core CPU ({platform.machine()})",
                      "omp_num_threads": os.environ.get("OMP_NUM_THREADS")}))


if __name__ == "__main__":
    main()
