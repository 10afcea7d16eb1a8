"""Instructor grading through nbgrader: student versions from the instructor notebooks, and a folder of
submissions autograded into a gradebook with points per exercise and feedback per student."""
import csv
import json

import nbformat

from gancourse import cli, exercises, grading

SOURCE = '''# %% [markdown]
# # 99 · A small graded notebook
# %% tags=["parameters"]
profile = "smoke"
# %%
import torch
from gancourse import exercises
# %%
def my_hinge_d_loss(d_real, d_fake):
    ### BEGIN SOLUTION
    return torch.relu(1 - d_real).mean() + torch.relu(1 + d_fake).mean()
    ### END SOLUTION


# %%
exercises.check("01.E1", my_hinge_d_loss)
'''


def test_release_strips_solutions_and_hidden_checks_from_every_course_notebook(tmp_path):
    released = grading.release(tmp_path, cli.course_notebooks())
    assert [p.stem for p in released] == [p.stem for p in cli.course_notebooks()[1:]]   # 00 has no exercises
    for p in released:
        text = p.read_text()
        assert exercises.BEGIN not in text and "exercises.hidden" not in text and "NotImplementedError" in text
        nb = nbformat.read(p, as_version=4)
        graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
        assert len(graded) >= 2 and all("exercises.check(" in c.source for c in graded)
    source = nbformat.read(tmp_path / "source" / "gancourse" / "01_gan_foundations.ipynb", as_version=4)
    assert any('exercises.hidden("01.E1", my_hinge_d_loss)' in c.source for c in source.cells)


def test_collect_grades_correct_wrong_and_unanswered_submissions(tmp_path):
    src = tmp_path / "99_small.py"
    src.write_text(SOURCE)
    course = tmp_path / "course"
    student_nb, = grading.release(course, [src])
    nb = nbformat.read(student_nb, as_version=4)
    answer = next(c for c in nb.cells if "NotImplementedError" in c.source)
    subs = tmp_path / "submissions"
    for student, body in (("ada", "    return torch.relu(1 - d_real).mean() + torch.relu(1 + d_fake).mean()"),
                          ("bob", "    return torch.relu(1 + d_real).mean() + torch.relu(1 - d_fake).mean()"),
                          ("cy", None)):
        copy = nbformat.from_dict(json.loads(json.dumps(nb)))
        cell = next(c for c in copy.cells if c.get("id") == answer.get("id"))
        if body is not None:
            cell.source = "def my_hinge_d_loss(d_real, d_fake):\n" + body
        (subs / student).mkdir(parents=True)
        nbformat.write(copy, subs / student / student_nb.name)
    grades = grading.collect(course, subs, timeout=120)
    rows = {r["student"]: r for r in csv.DictReader(grades.open())}
    assert rows["ada"]["01.E1"] == "1.0" and rows["ada"]["total"] == "1.0" and rows["ada"]["max"] == "1.0"
    assert rows["bob"]["01.E1"] == "0.0" and rows["cy"]["01.E1"] == "0.0"
    assert list((course / "feedback").glob("*/gancourse/99_small.html"))
