"""Grades that can't be forged (issue 37). Each attack a hostile class tried, beside an honest answer: it earns
nothing and stops nothing but itself; and each works when its defence is switched off (the attack is real,
the test bites). Unit tests per defence, then one class graded end to end in the sandbox."""
import csv
import shutil
import subprocess
import sys

import nbformat
import pytest
import torch

from gancourse import CourseError
from gancourse.course import exercises, grading, judge, submissions
from gancourse.course import sandbox as sb
from gancourse.course.memory import MemoryCgroup, seccomp_program
from test_grading import RIGHT, SOURCE, _submission

needs_bwrap = pytest.mark.skipif(sb.bwrap() is None, reason=f"bubblewrap is not installed ({sb.INSTALL})")
HINGE = exercises.get("01.E1")
RIGHT_CELL = "def my_hinge_d_loss(d_real, d_fake):\n    return torch.relu(1 - d_real).mean() + torch.relu(1 + d_fake).mean()\n"
STUB_CELL = "def my_hinge_d_loss(d_real, d_fake):\n    raise NotImplementedError\n"

FORGED = {   # the answer cell of each forgery of the hinge exercise (the check cell after it stays the course's)
    "patched checks": STUB_CELL + "exercises.check = lambda *a, **k: True\nexercises.hidden = lambda *a, **k: None\n",
    "default argument": "def my_hinge_d_loss(d_real, d_fake, _=exercises.REGISTRY['01.E1'].__setattr__(\n"
                        "        'cases', lambda rng: [])):\n    raise NotImplementedError\n",
    "input transformer": STUB_CELL + "import os\ntry:\n    get_ipython().input_transformers_cleanup.append(\n"
                         "        lambda lines: ['pass\\n' if 'exercises.check' in l else l for l in lines])\n"
                         "except NameError:\n    os._exit(0)\n",
    "calls the course": "from gancourse.training.losses import d_loss\n"
                        "def my_hinge_d_loss(d_real, d_fake):\n    return d_loss('hinge', d_real, d_fake)\n",
}


def _visible_answers():
    """The memorised answer: right on the visible check's inputs (looked up by their sum), wrong on any other."""
    table = {}
    for case in HINGE.cases(exercises.visible_rng):
        r, f = case.args
        table[round(float(r.sum() + f.sum()), 4)] = float(torch.relu(1 - r).mean() + torch.relu(1 + f).mean())
    return ("TABLE = " + repr(table) + "\ndef my_hinge_d_loss(d_real, d_fake):\n"
            "    return torch.tensor(TABLE.get(round(float(d_real.sum() + d_fake.sum()), 4), 0.0))\n")


def _kernel(cell: str) -> bool:
    """What the old grader trusted: the cell and the course's check run together, as in the student's kernel."""
    from types import SimpleNamespace
    transformers = []
    scope = {"torch": torch, "exercises": exercises,
             "get_ipython": lambda: SimpleNamespace(input_transformers_cleanup=transformers)}
    exec(cell, scope)
    check = 'exercises.check("01.E1", my_hinge_d_loss)\n'
    for t in transformers:                 # IPython runs every later cell through them
        check = "".join(t([check]))
    try:
        exec(check, scope)
    except exercises.WrongAnswer:
        return False
    return check.strip() == "pass" or exercises.check("01.E1", scope["my_hinge_d_loss"]) is True


@pytest.fixture
def restore_registry():
    saved = {k: v.__dict__.copy() for k, v in exercises.REGISTRY.items()}
    check = exercises.check
    yield
    for k, v in saved.items():
        exercises.REGISTRY[k].__dict__.update(v)
    exercises.check = check


@pytest.mark.parametrize("attack", sorted(FORGED))
def test_a_forged_answer_earns_nothing_from_the_judge_and_fooled_the_kernel(attack, restore_registry):
    secret = judge.new_secret()
    cell = judge.answer_cell([FORGED[attack]], HINGE.answer)
    got = judge.answer(HINGE, cell, secret, [])
    assert got.points == 0 and got.why, attack
    if attack != "calls the course":       # the defence switched off: the kernel's own check says "passed"
        assert _kernel(FORGED[attack]), attack
    else:                                  # the course's own d_loss passes any check run beside it
        scope = {"torch": torch}
        exec(FORGED[attack], scope)
        assert exercises.check("01.E1", scope["my_hinge_d_loss"]) is True
        assert "course's own package" in got.why
    assert judge.answer(HINGE, judge.answer_cell([RIGHT_CELL], HINGE.answer), secret, []).points == 1


def test_memorised_answers_fail_on_the_secret_inputs():
    memorised = judge.answer_cell([_visible_answers()], HINGE.answer)
    assert judge.answer(HINGE, memorised, judge.new_secret(), [], draws=0).points == 1     # defence off: visible only
    got = judge.answer(HINGE, memorised, judge.new_secret(), [])
    assert got.points == 0 and got.why.startswith("a hidden check")


def test_every_exercise_judges_its_reference_right_and_a_wrong_answer_wrong():
    from test_exercises import WRONG
    secret = judge.new_secret()
    for ex_id, ex in exercises.REGISTRY.items():
        ref = judge.answer_cell([exercises.solution_source(ex_id)], ex.answer)
        assert judge.answer(ex, ref, secret, []).points == ex.points, ex_id
    # the judge's own comparison: a wrong output is wrong, whatever it looks like
    bad = "def my_hinge_d_loss(d_real, d_fake):\n    return (1 - d_real).mean() + (1 + d_fake).mean()\n"
    assert judge.answer(HINGE, bad, secret, []).points == 0
    assert WRONG                                 # (test_exercises feeds each check its wrong answers)


def test_an_answer_returning_junk_or_too_much_earns_nothing(monkeypatch):
    secret = judge.new_secret()
    junk = "def my_hinge_d_loss(d_real, d_fake):\n    return object()\n"
    assert "cannot read" in judge.answer(HINGE, junk, secret, []).why
    monkeypatch.setattr(judge, "MAX_OUTPUT", 1000)
    flood = "def my_hinge_d_loss(d_real, d_fake):\n    return torch.zeros(10**6)\n"
    assert "more than" in judge.answer(HINGE, flood, secret, []).why


# ------------------------------------------------------------------ bad files are their student's status

def _write(folder, name, data: bytes):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def test_only_regular_valid_notebooks_are_read(tmp_path):
    good = nbformat.writes(nbformat.v4.new_notebook()).encode()
    instructor = tmp_path / "solutions.ipynb"
    instructor.write_bytes(good)
    names = ["a.ipynb", "b.ipynb", "c.ipynb", "d.ipynb", "e.ipynb", "f.ipynb"]
    s = tmp_path / "s"
    _write(s, "a.ipynb", good)
    _write(s, "b.ipynb", b"")                                    # a failed upload
    _write(s, "c.ipynb", b'{"cells": 3}')                        # JSON, not a notebook
    (s / "d.ipynb").symlink_to(instructor)                       # a link to the solutions
    (s / "e.ipynb").mkdir()
    _write(s, "other.ipynb", good)                               # not a released notebook: ignored
    read, problems = submissions.read_submission(s, names)
    assert list(read) == ["a.ipynb"]
    text = "; ".join(problems)
    assert "b.ipynb: not a notebook" in text and "c.ipynb: not a notebook" in text
    assert "d.ipynb: a symbolic link, not a file: not read" in text and "e.ipynb: not a regular file" in text
    assert "f.ipynb: not submitted" in text and "other" not in text
    with pytest.raises(Exception):                               # defence off: reading it as the old grader did
        nbformat.read(s / "b.ipynb", as_version=4)
    assert nbformat.read(s / "d.ipynb", as_version=4) is not None  # ... and a link is followed to the solutions
    (tmp_path / "link").symlink_to(s)
    assert submissions.read_submission(tmp_path / "link", names)[1] == ["link: a symbolic link, not a folder: not read"]


def test_feedback_shows_no_markup_and_a_capped_output(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("<script>alert('md')</script> **hi** [x](javascript:alert(1))"),
                nbformat.v4.new_code_cell("x", outputs=[
                    nbformat.v4.new_output("display_data", data={"text/html": "<script>alert('out')</script>",
                                                                 "text/plain": "ok"}),
                    nbformat.v4.new_output("stream", name="stdout", text="y" * (8 << 20))])]
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    before = path.stat().st_size
    submissions.sanitize(path)
    text = path.read_text()
    assert "text/html" not in text and path.stat().st_size < before / 100
    md = nbformat.read(path, as_version=4).cells[0].source
    assert md.startswith("~~~~text\n") and md.endswith("\n~~~~")                 # shown as text, never as markup
    assert "[cut:" in text


def test_a_grading_that_fails_for_one_student_is_that_students_row(monkeypatch, tmp_path):
    plan = grading.Plan(10, ["01.E1"], sb.Limits(), 0)

    def broken(*a):
        raise RuntimeError("a disk vanished")
    monkeypatch.setattr(grading, "_grade_one", broken)
    assert grading._row(tmp_path, tmp_path / "x", "x", plan) == \
        ["x", 0.0, 0.0, 1.0, "not graded: the grader failed (RuntimeError: a disk vanished)"]


# ------------------------------------------------------------------ memory, counted for the whole sandbox

MAP = ("import mmap\nm = mmap.mmap(-1, 600 << 20, flags=mmap.MAP_SHARED)\n"
       "for i in range(0, 600 << 20, 4096):\n    m[i] = 1\nprint('held', flush=True)")
MEMFD = ("import os\nfds = []\nfor i in range(8):\n    fd = os.memfd_create(f'm{i}')\n"
         "    os.write(fd, b'x' * (100 << 20))\n    fds.append(fd)\nprint('held', flush=True)")
LIM = sb.Limits(memory_mib=256, processes=16, file_mib=128, disk_mib=8, cpu_s=60, wall_s=120)


def _held(code, cgroup=None, seccomp=True):
    prefix = sb.wrap(sb.view(), sb.run_limits(LIM), cgroup=cgroup, stdout=True, seccomp=seccomp)
    r = subprocess.run(prefix + [sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=300)
    return "held" in r.stdout


@needs_bwrap
@pytest.mark.parametrize("code", [MAP, MEMFD], ids=["MAP_SHARED", "memfd"])
def test_shared_memory_is_counted_or_refused(code):
    assert _held(code, seccomp=False)                          # defence off: RLIMIT_DATA alone lets it hold 600+ MiB
    assert not _held(code)                                     # the fallback: refused by the seccomp filter
    group = MemoryCgroup.make(LIM.memory_mib)
    if group is None:
        pytest.skip("no memory cgroup can be made here (not root, no delegated cgroup v2)")
    try:
        assert not _held(code, cgroup=group, seccomp=False)    # a cgroup of its own: counted, and stopped
        assert group.oom_kills() or True
    finally:
        group.close()


def test_the_seccomp_filter_is_classic_bpf_ending_in_returns():
    prog = seccomp_program()
    if prog is None:
        pytest.skip("an architecture without a filter")
    assert len(prog) % 8 == 0 and prog[-8:-6] == (6).to_bytes(2, sys.byteorder)   # ret


# ------------------------------------------------------------------ the class, end to end

@pytest.fixture(scope="module")
def released(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("released")
    (tmp / "99_small.py").write_text(SOURCE)
    student_nb, = grading.release(tmp / "course", [tmp / "99_small.py"])
    return tmp / "course", student_nb


@needs_bwrap
@pytest.mark.slow
@pytest.mark.notebook
def test_a_hostile_class_is_graded_to_the_end(released, tmp_path):
    course, subs = tmp_path / "course", tmp_path / "submissions"
    shutil.copytree(released[0], course)
    name = released[1].name
    nb = nbformat.read(released[1], as_version=4)
    students = {"ada": _submission(nb, RIGHT)}
    for attack, cell in FORGED.items():
        students[attack.replace(" ", "-")] = _submission(nb, {**RIGHT, "my_hinge_d_loss": cell})
    students["memorised"] = _submission(nb, {**RIGHT, "my_hinge_d_loss": _visible_answers()})
    students["markup"] = _submission(nb, RIGHT)
    students["markup"].cells.insert(1, nbformat.v4.new_markdown_cell("<script>alert('feedback')</script>"))
    students["flood"] = _submission(nb, RIGHT, extra_first="print('x' * (40 << 20))")
    for student, sub in students.items():
        (subs / student).mkdir(parents=True)
        nbformat.write(sub, subs / student / name)
    _write(subs / "empty", name, b"")
    (subs / "linked").mkdir()
    (subs / "linked" / name).symlink_to(course / "source" / "gancourse" / name)      # the instructor's notebook
    grades = grading.collect(course, subs, timeout=60, jobs=2,
                             limits=sb.Limits(memory_mib=2048, processes=48, file_mib=64, disk_mib=64, cpu_s=300, wall_s=900))
    rows = {r["student"]: r for r in csv.DictReader(grades.open())}
    assert sorted(rows) == sorted([*students, "empty", "linked"])                  # everyone has a row
    assert (rows["ada"]["total"], rows["ada"]["status"]) == ("2.0", "ok")
    for student in [a.replace(" ", "-") for a in FORGED] + ["memorised"]:
        assert (rows[student]["01.E1"], rows[student]["01.E2"]) == ("0.0", "1.0"), (student, rows[student]["status"])
    assert "not a notebook" in rows["empty"]["status"] and rows["empty"]["total"] == "0.0"
    assert "symbolic link" in rows["linked"]["status"] and rows["linked"]["total"] == "0.0"
    html = "".join(p.read_text() for p in (course / "feedback" / "markup").rglob("*.html"))
    assert html and "<script>alert(" not in html                                  # shown as text, never run
    assert rows["flood"]["total"] == "2.0"
    sizes = [p.stat().st_size for p in (course / "feedback" / "flood").rglob("*.html")]
    assert sizes and max(sizes) < 8 << 20                                          # capped, not 40 MB


@needs_bwrap
def test_collect_stops_before_grading_anyone_when_a_kernel_cannot_start(released, tmp_path, monkeypatch):
    course, subs = tmp_path / "course", tmp_path / "submissions"
    shutil.copytree(released[0], course)
    (subs / "ada").mkdir(parents=True)
    real = sb.view

    def broken(threads=None, course=True):     # the kernel's Python cannot start (the sandbox itself can)
        spec = real(threads, course)
        return dict(spec, env={**spec["env"], "PYTHONHOME": "/no/such/python"}) if course else spec
    monkeypatch.setattr(sb, "view", broken)
    with pytest.raises(CourseError, match="a sandboxed kernel cannot start here.*no one was graded"):
        grading.collect(course, subs, timeout=30)
    assert not (course / "grades.csv").exists()
