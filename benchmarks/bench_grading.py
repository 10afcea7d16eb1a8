"""Grading speed: `gancourse grade collect` on N submissions of one course notebook (issue 13: 30 on the
2-core CPU), against one plain smoke run of the same notebook measured in the same run.

    python benchmarks/bench_grading.py --notebook 06_autogan --students 30

Submissions are the released student notebook with every answer cell filled in from the instructor's
version (two in three students) or left as the stub (one in three). Reports the wall time of the whole
collect, seconds per submission, and the ratio per submission / plain run (the grader's overhead:
nbgrader's kernel, feedback, the re-check of each answer in a fresh process). Writes a JSON line to
stdout; the gradebook is checked so a benchmark that graded nothing cannot pass for a fast one.
"""
from __future__ import annotations

import argparse
import csv
import json
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--notebook", default="06_autogan")
    ap.add_argument("--students", type=int, default=30)
    ap.add_argument("--timeout", type=int, default=600)
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
        t = time.perf_counter()
        grades = grading.collect(tmp / "course", tmp / "subs", timeout=args.timeout)
        wall = time.perf_counter() - t
        rows = list(csv.DictReader(grades.open()))
        full = sum(float(r["total"]) == float(r["max"]) for r in rows)
        expected = sum(i % 3 != 2 for i in range(args.students))
        if len(rows) != args.students or full != expected:
            sys.exit(f"gradebook wrong: {len(rows)} rows, {full} full marks (expected {expected})")
    per = wall / args.students
    print(json.dumps({"notebook": src.stem, "students": args.students, "collect_wall_s": round(wall, 1),
                      "per_submission_s": round(per, 1), "plain_smoke_run_s": round(baseline, 1),
                      "per_submission_over_plain_run": round(per / baseline, 2),
                      "full_marks": full, "expected_full_marks": expected}))


if __name__ == "__main__":
    main()
