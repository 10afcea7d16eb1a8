"""Instructor grading through nbgrader: student versions from the instructor notebooks, and a folder of
submissions (correct, partly wrong, empty, crashing, an infinite loop, tampering, writing outside its
folder) autograded into a gradebook with points per exercise, a status, and feedback per student."""
import csv
import json

import nbformat
import pytest

from gancourse.course import build, exercises, grading

SOURCE = '''# %% [markdown]
# # 99 · A small graded notebook
# %% tags=["parameters"]
profile = "smoke"
# %%
import torch
from gancourse.course import exercises
# %%
def my_hinge_d_loss(d_real, d_fake):
    ### BEGIN SOLUTION
    return torch.relu(1 - d_real).mean() + torch.relu(1 + d_fake).mean()
    ### END SOLUTION


# %%
exercises.check("01.E1", my_hinge_d_loss)

# %%
def my_d_star():
    ### BEGIN SOLUTION
    return torch.log(torch.tensor(0.01)).item()
    ### END SOLUTION


# %%
exercises.check("01.E2", my_d_star)
'''
RIGHT = {"my_hinge_d_loss": "def my_hinge_d_loss(d_real, d_fake):\n    return torch.relu(1 - d_real).mean() + torch.relu(1 + d_fake).mean()",
         "my_d_star": "def my_d_star():\n    return torch.log(torch.tensor(0.01)).item()"}
WRONG_E1 = "def my_hinge_d_loss(d_real, d_fake):\n    return torch.relu(1 + d_real).mean() + torch.relu(1 - d_fake).mean()"


def test_release_strips_solutions_from_every_course_notebook(tmp_path):
    released = grading.release(tmp_path, build.course_notebooks())
    assert [p.stem for p in released] == [p.stem for p in build.course_notebooks()[1:]]   # 00 has no exercises
    for p in released:
        text = p.read_text()
        assert exercises.BEGIN not in text and "exercises.hidden" not in text and "NotImplementedError" in text
        nb = nbformat.read(p, as_version=4)
        graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
        assert len(graded) >= 2 and all("exercises.check(" in c.source for c in graded)
    assert grading.graded_ids(tmp_path)[:2] == ["01.E1", "01.E2"]
    assert grading.released_exercises(tmp_path)["01_gan_foundations.ipynb"] == ["01.E1", "01.E2"]


def _submission(nb, answers=None, extra_first=None, edit_checks=None, drop_check=None):
    copy = nbformat.from_dict(json.loads(json.dumps(nb)))
    for cell in copy.cells:
        for name, body in (answers or {}).items():
            if f"def {name}(" in cell.source:
                cell.source = body
        if edit_checks and "exercises.check(" in cell.source:
            cell.source = edit_checks
    if drop_check:
        copy.cells = [c for c in copy.cells if drop_check not in c.source]
    if extra_first:
        at = next(i for i, c in enumerate(copy.cells) if "from gancourse.course import exercises" in c.source) + 1
        copy.cells.insert(at, nbformat.v4.new_code_cell(extra_first))
    return copy


@pytest.mark.notebook
def test_collect_grades_a_set_of_test_submissions(tmp_path):
    src = tmp_path / "99_small.py"
    src.write_text(SOURCE)
    course = tmp_path / "course"
    student_nb, = grading.release(course, [src])
    nb = nbformat.read(student_nb, as_version=4)
    outside = tmp_path / "outside.txt"
    subs = {
        "ada": _submission(nb, RIGHT),                                                      # correct
        "bob": _submission(nb, {**RIGHT, "my_hinge_d_loss": WRONG_E1}),                     # partly wrong
        "cy": _submission(nb),                                                              # empty: the stubs
        "dan": _submission(nb, RIGHT, extra_first="import os\nos._exit(1)"),                # crashes the kernel
        "eve": _submission(nb, {**RIGHT, "my_hinge_d_loss": "while True:\n    pass"}),      # an infinite loop
        "fay": _submission(nb, {**RIGHT, "my_hinge_d_loss": WRONG_E1}, edit_checks="print('skipped')",
                           extra_first="exercises.check = lambda *a, **k: True\nexercises.hidden = lambda *a, **k: None"),
        "gus": _submission(nb, RIGHT, drop_check='exercises.check("01.E2"',                 # deletes a check cell
                           extra_first=f"open({str(outside)!r}, 'w').write('x')\n"
                                       f"open({str(course / 'grades.csv')!r}, 'w').write('gus,99')"),  # writes outside
    }
    for student, sub in subs.items():
        (tmp_path / "submissions" / student).mkdir(parents=True)
        nbformat.write(sub, tmp_path / "submissions" / student / student_nb.name)
    grades = grading.collect(course, tmp_path / "submissions", timeout=20, jobs=2)
    rows = {r["student"]: r for r in csv.DictReader(grades.open())}
    got = {s: (float(r["01.E1"]), float(r["01.E2"]), float(r["total"]), float(r["max"])) for s, r in rows.items()}
    assert got["ada"] == (1, 1, 2, 2) and rows["ada"]["status"] == "ok"
    assert got["bob"] == (0, 1, 1, 2)
    assert got["cy"] == (0, 0, 0, 2)
    assert got["dan"] == (1, 1, 2, 2) and rows["dan"]["status"] != "ok"   # its answers are right; its run died, said
    assert got["eve"] == (0, 1, 1, 2)
    assert got["fay"][0] == 0 and got["fay"][1] == 1                 # tampering earns nothing
    assert got["gus"][:2] == (1, 1) and "cells deleted" in rows["gus"]["status"]  # the judge needs no check cell; said
    assert "gus,99" not in grades.read_text()                          # its write did not survive in the gradebook
    assert sorted(p.name for p in (course / "feedback").iterdir()) == sorted(subs)    # feedback for everyone
    assert "ada: 2 / 2 points" in (course / "feedback" / "ada" / "summary.txt").read_text()
    assert rows["dan"]["status"] in (course / "feedback" / "dan" / "summary.txt").read_text()
    assert rows["fay"]["status"] != "ok" and rows["eve"]["status"] != "ok"
    print(grades.read_text())
