"""A hostile class (issue 37): the attacks that forged grades or stopped `collect`, each as one student's
submission of a course notebook beside an honest one, graded by `gancourse grade collect` with its default
limits in the sandbox. Prints the table of grades and statuses and writes it as JSON.

    python benchmarks/hostile_class.py --notebook 06_autogan --out benchmarks/results/hostile-class-06.json

Not a test (tests/test_forgery.py tries each attack on a small notebook, with its defence on and off); this
is the same class on a real notebook, as an instructor would grade it, for the record. The first exercise's
answer cell carries the forgeries; the second exercise stays honest, so a forgery that earns nothing scores
half the points.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from gancourse.course import build, exercises, grading  # noqa: E402

GIB = 1 << 30


def memorised(ex_id: str) -> str:
    """Right on the visible check's inputs (looked up by their sum), wrong on any other: 06.E1 only."""
    assert ex_id == "06.E1"
    table = {}
    for case in exercises.get(ex_id).cases(exercises.visible_rng):
        lp, r, b, decay = case.args
        nb = decay * b + (1 - decay) * r.mean().item()
        table[round(float(lp.sum() + r.sum()), 4)] = ((-(r - nb) / len(r)).tolist(), nb)
    return ("TABLE = " + repr(table) + "\n"
            "def my_reinforce_loss(log_probs, rewards, baseline, decay=0.9):\n"
            "    coef, b = TABLE.get(round(float(log_probs.sum() + rewards.sum()), 4), ([0.0] * len(rewards), 0.0))\n"
            "    return (log_probs * torch.tensor(coef)).sum(), b\n")


def attacks(stub: str, honest: str) -> dict:
    """student -> (what it tries, {answer function: its cell} | None, first extra cell | None, markdown | None)."""
    patch = "exercises.check = lambda *a, **k: True\nexercises.hidden = lambda *a, **k: None\n"
    return {
        "patched-checks": ("stub + exercises.check/hidden replaced", {"my_reinforce_loss": stub + patch}, None, None),
        "default-argument": ("the registry's check replaced from a default argument",
                             {"my_reinforce_loss": "def my_reinforce_loss(log_probs, rewards, baseline, decay=0.9,\n"
                              "        _=exercises.REGISTRY['06.E1'].__setattr__('cases', lambda rng: [])):\n"
                              "    raise NotImplementedError\n"}, None, None),
        "input-transformer": ("IPython input transformer + os._exit(0) outside a kernel",
                              {"my_reinforce_loss": stub + "import os\ntry:\n    get_ipython().input_transformers_cleanup"
                               ".append(\n        lambda lines: ['pass\\n' if 'exercises.check' in l else l "
                               "for l in lines])\nexcept NameError:\n    os._exit(0)\n"}, None, None),
        "memorised": ("answers memorised from the visible check's inputs", {"my_reinforce_loss": memorised("06.E1")},
                      None, None),
        "calls-the-course": ("E2 answered with the course's own DynamicReset",
                             {"my_should_reset": "from gancourse.papers.nas.shared import DynamicReset\n"
                              "def my_should_reset(g_losses, d_losses, window, threshold):\n"
                              "    r = DynamicReset(window, threshold)\n"
                              "    return len(d_losses) >= window and len(g_losses) >= window and (\n"
                              "        r.spread(g_losses[-window:]) < threshold or r.spread(d_losses[-window:]) < threshold)\n"},
                             None, None),
        "shared-mmap": ("6 GiB MAP_SHARED anonymous mapping, touched, in the answer cell",
                        {"my_reinforce_loss": "import mmap\nm = mmap.mmap(-1, 6 << 30, flags=mmap.MAP_SHARED)\n"
                         "for i in range(0, 6 << 30, 4096):\n    m[i] = 1\n" + honest}, None, None),
        "memfds": ("24 memfds of 256 MiB (6 GiB), in the answer cell",
                   {"my_reinforce_loss": "import os\nfds = []\nfor i in range(24):\n"
                    "    fd = os.memfd_create(f'm{i}')\n    os.ftruncate(fd, 256 << 20)\n"
                    "    os.write(fd, b'x' * (256 << 20))\n    fds.append(fd)\n" + honest}, None, None),
        "output-at-once": ("600 MB printed in one go", None, "print('x' * (600 << 20))", None),
        "output-streamed": ("600 MB printed 10 MB at a time", None,
                            "import time\nfor _ in range(60):\n    print('x' * (10 << 20), flush=True)\n    time.sleep(0.5)",
                            None),
        "oracle-exists": ("FileNotFoundError naming a host path that exists", None,
                          f"raise FileNotFoundError(2, 'No such file or directory', {str(ROOT / 'README.md')!r})", None),
        "oracle-missing": ("FileNotFoundError naming a host path that does not exist", None,
                           "raise FileNotFoundError(2, 'No such file or directory', '/no/such/host/path')", None),
        "markup": ("<script> in a markdown cell", None, None, "<script>alert('feedback')</script>"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--notebook", default="06_autogan")
    ap.add_argument("--timeout", type=int, default=600)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    src, = [p for p in build.course_notebooks() if p.stem.startswith(args.notebook)]
    with tempfile.TemporaryDirectory(prefix="hostile-class-") as tmp:
        tmp = Path(tmp)
        student_nb, = grading.release(tmp / "course", [src])
        instructor = nbformat.read(tmp / "course" / "source" / grading.ASSIGNMENT / student_nb.name, as_version=4)
        answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in instructor.cells
                   if c.metadata.get("nbgrader", {}).get("solution")}
        released = nbformat.read(student_nb, as_version=4)
        stub = next(c.source for c in released.cells if "def my_reinforce_loss" in c.source)
        honest_e1 = next(s for s in answers.values() if "def my_reinforce_loss" in s)

        def submission(replace=None, extra=None, markdown=None):
            nb = nbformat.read(student_nb, as_version=4)
            for c in nb.cells:
                gid = c.metadata.get("nbgrader", {}).get("grade_id")
                if gid in answers:
                    c.source = answers[gid]
                    for name, cell in (replace or {}).items():
                        if f"def {name}" in c.source:
                            c.source = cell
            first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
            if extra:
                nb.cells.insert(first_code + 1, nbformat.v4.new_code_cell(extra))
            if markdown:
                nb.cells.insert(1, nbformat.v4.new_markdown_cell(markdown))
            return nb

        subs = tmp / "subs"
        table = {"honest": ("every answer right", None, None, None), **attacks(stub, honest_e1)}
        for student, (_, replace, extra, markdown) in table.items():
            (subs / student).mkdir(parents=True)
            nbformat.write(submission(replace, extra, markdown), subs / student / student_nb.name)
        (subs / "empty").mkdir()
        (subs / "empty" / student_nb.name).write_bytes(b"")
        (subs / "linked-solutions").mkdir()
        (subs / "linked-solutions" / student_nb.name).symlink_to(
            tmp / "course" / "source" / grading.ASSIGNMENT / student_nb.name)
        (subs / "linked-classmate").symlink_to(subs / "honest")
        table.update({"empty": ("an empty notebook file (a failed upload)",), "linked-solutions":
                      ("a symlink to the instructor's notebook",), "linked-classmate": ("a symlink to a classmate's folder",)})
        t = time.perf_counter()
        grades = grading.collect(tmp / "course", subs, timeout=args.timeout)
        wall = time.perf_counter() - t
        rows = {r["student"]: r for r in csv.DictReader(grades.open())}
        sizes = {s: max([p.stat().st_size for p in (tmp / "course" / "feedback" / s).rglob("*.html")] or [0])
                 for s in rows}
    ids = [k for k in next(iter(rows.values())) if k[:2].isdigit()]
    out = dict(notebook=src.stem, collect_wall_s=round(wall, 1), device=f"{os.cpu_count()}-core CPU ({platform.machine()})",
               torch=torch.__version__, students=[dict(student=s, attack=table[s][0], **{i: rows[s][i] for i in ids},
                                                       total=rows[s]["total"], max=rows[s]["max"], status=rows[s]["status"],
                                                       feedback_bytes=sizes[s]) for s in table])
    print(f"| student | attack | {' | '.join(ids)} | total | feedback | status |\n|---|---|{'---|' * len(ids)}---|---|---|")
    for r in out["students"]:
        print(f"| {r['student']} | {r['attack']} | {' | '.join(r[i] for i in ids)} | {r['total']}/{r['max']} | "
              f"{r['feedback_bytes'] / 1e6:.2f} MB | {r['status'][:300].replace('|', '/')} |")
    print(f"collect: {wall:.0f} s for {len(rows)} students")
    if args.out:
        args.out.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
