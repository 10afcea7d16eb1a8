"""Grading in a sandbox (issue 29): what a sandboxed process sees and may take, and hostile submissions
graded beside honest ones. Each hostile kind gets a status naming what stopped it while the honest
students' points and files stay as they were; the same hostile submissions graded with
``--no-sandbox`` (on a throwaway copy) do the damage, so the tests bite."""
import csv
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT
from gancourse import CourseError
from gancourse.course import grading
from gancourse.course import sandbox as sb
from test_grading import RIGHT, SOURCE, _submission

SMALL = sb.Limits(memory_mib=256, processes=16, file_mib=4, disk_mib=8, cpu_s=2, wall_s=60)

needs_bwrap = pytest.mark.skipif(sb.bwrap() is None, reason=f"bubblewrap is not installed ({sb.INSTALL})")


def sandboxed(code: str, limits: sb.Limits = SMALL, timeout: int = 300) -> subprocess.CompletedProcess:
    """``python -S -c code`` in a sandbox; what it writes to stderr comes back (its last few kB)."""
    return subprocess.run(sb.wrap(sb.view(), sb.run_limits(limits)) + [sys.executable, "-S", "-c", code],
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def listener():
    """A TCP server on 127.0.0.1 recording what reaches it."""
    server = socket.create_server(("127.0.0.1", 0))
    got = []

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                got.append(conn.recv(100))

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1], got
    server.close()


@needs_bwrap
def test_a_sandboxed_process_sees_its_own_view_only(tmp_path, listener):
    port, got = listener
    secret = tmp_path / "secret.txt"
    secret.write_text("the instructor's")
    code = f"""
import json, os, socket, sys
def can(f):
    try:
        f(); return True
    except OSError:
        return False
out = dict(uid=os.getuid(), pid=os.getpid(), pids=sorted(p for p in os.listdir('/proc') if p.isdigit()),
           secret=os.path.exists({str(secret)!r}), solutions=os.path.exists({str(ROOT / 'notebooks' / 'source')!r}),
           package=os.path.exists({str(ROOT / 'gancourse' / 'course' / 'exercises.py')!r}),
           home=os.path.exists({str(Path.home())!r}) and os.listdir({str(Path.home())!r}),
           write_root=can(lambda: open('/x', 'w')), write_usr=can(lambda: open('/usr/x', 'w')),
           write_home=can(lambda: open(os.path.expanduser('~/x'), 'w')),
           net=can(lambda: socket.create_connection(('127.0.0.1', {port}), timeout=2)))
print(json.dumps(out), file=sys.stderr)
"""
    r = sandboxed(code)
    seen = json.loads(r.stderr.strip().splitlines()[-1])
    assert seen["uid"] != 0 and seen["pid"] == 2 and seen["pids"] == ["1", "2"]    # its own PID namespace
    assert not seen["secret"] and not seen["solutions"] and seen["package"]
    assert seen["home"] in (False, [".pyenv"]) or all(p.startswith(".") for p in seen["home"])   # at most the Python install
    assert not seen["write_root"] and not seen["write_usr"] and seen["write_home"]
    assert not seen["net"] and got == []


@needs_bwrap
@pytest.mark.parametrize("kind, code, named", [
    ("processes", "import os, time\nwhile True:\n    if os.fork() == 0:\n        time.sleep(30); os._exit(0)",
     "process limit (16 processes and threads) hit"),
    ("memory", "x = []\nwhile True:\n    x.append(bytearray(16 << 20))", "memory limit (256 MiB) hit"),
    ("file size", "open('big', 'wb').write(b'x' * (8 << 20))", "file-size limit (4 MiB) hit"),
    ("disk", "for i in range(100):\n    open(f'f{i}', 'wb').write(b'x' * (3 << 20))", "scratch-disk limit (8 MiB) hit"),
    ("cpu", "while True:\n    pass", "CPU-time limit (2 s a process) hit"),
])
def test_every_limit_holds_and_is_named(kind, code, named):
    r = sandboxed(code)
    assert r.returncode != 0
    assert sb.explain(r.stderr.strip().splitlines()[-1], SMALL, 10) == named


@needs_bwrap
def test_a_fork_bomb_in_one_sandbox_leaves_another_its_processes():
    """The process limit counts in each sandbox's own user namespace, though every sandbox runs as
    the same user: one full sandbox does not stop another from starting processes."""
    bomb = subprocess.Popen(sb.wrap(sb.view(), sb.run_limits(SMALL)) + [
        sys.executable, "-S", "-c", "import os, time\nwhile True:\n    if os.fork() == 0:\n        time.sleep(30); os._exit(0)"])
    try:
        time.sleep(3)
        r = sandboxed("import os\nfor _ in range(10):\n    if os.fork() == 0:\n        os._exit(0)\n    os.wait()")
        assert r.returncode == 0, r.stderr
    finally:
        bomb.kill()
        bomb.wait()


def test_explain_names_what_stopped_a_submission(tmp_path):
    lim = sb.Limits()
    assert sb.explain("BlockingIOError: [Errno 11] Resource temporarily unavailable", lim, 5).startswith("process limit")
    assert sb.explain("OSError: [Errno 101] Network is unreachable", lim, 5) == "sandbox: no network"
    assert sb.explain("CellTimeoutError: ", lim, 5) == "time limit (5 s a cell) hit"
    inside = "a file not found inside the sandbox (it shows the Python environment, not the host's files)"
    for path in (tmp_path, "/etc/passwd", "/no/such/path", "data.csv"):        # the host is never asked: no oracle
        assert sb.explain(f"FileNotFoundError: [Errno 2] No such file or directory: '{path}'", lim, 5) == inside
    assert sb.explain("WrongAnswer: hinge loss: got 1, expected 2", lim, 5) is None


def test_collect_without_bwrap_names_the_command_that_installs_it(monkeypatch, tmp_path):
    monkeypatch.setattr(sb, "bwrap", lambda: None)
    with pytest.raises(CourseError, match="apt-get install bubblewrap.*--no-sandbox"):
        grading.collect(tmp_path, tmp_path)


def test_grade_collect_takes_jobs_and_no_sandbox(monkeypatch, tmp_path):
    from gancourse.course import cli
    seen = {}

    def fake(course_dir, submissions, timeout, jobs, sandbox):
        seen.update(timeout=timeout, jobs=jobs, sandbox=sandbox)
        (tmp_path / "grades.csv").write_text("student\n")
        return tmp_path / "grades.csv"
    monkeypatch.setattr(grading, "collect", fake)
    assert cli.main(["grade", "collect", str(tmp_path), str(tmp_path), "--jobs", "2", "--no-sandbox"]) == 0
    assert seen == dict(timeout=900, jobs=2, sandbox=False)


# ------------------------------------------------------------------ hostile submissions, graded

HOSTILE = {      # student -> the cell it adds (after the imports); {course}, {subs}, ... filled in per test
    "thief": "import os\nos.remove('{subs}/bea/{nb}')\nopen('{subs}/ada/{nb}', 'w').write('{{}}')",
    "reader": "text = open('{course}/source/gancourse/{nb}').read() + open('{repo}/notebooks/source/01_gan_foundations.py').read()\n"
              "open('{leak}', 'w').write(text)",
    "writer": "import os\nopen('{course}/gradebook.db', 'ab').write(b'pwned')\nopen('{course}/grades.csv', 'w').write('writer,99')\n"
              "os.makedirs('{course}/feedback/ada', exist_ok=True)\nopen('{course}/feedback/ada/summary.txt', 'w').write('pwned')",
    "net": "import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=5).sendall(b'hello from a submission')",
    "zz-killer": "import os, signal\nppid = os.getppid()\ntry:\n"                      # graded last: it kills the grader
                 "    gp = int(open(f'/proc/{{ppid}}/stat').read().rsplit(')', 1)[1].split()[1])\n"
                 "except OSError:\n    gp = 0\nos.kill(ppid, signal.SIGTERM)\nif gp > 1:\n    os.kill(gp, signal.SIGKILL)",
}
LIMITS = {       # graded in the sandbox only: without one they would take the machine
    "forker": "import os, time\nwhile True:\n    if os.fork() == 0:\n        time.sleep(300); os._exit(0)",
    "hog": "x = []\nwhile True:\n    x.append(bytearray(64 << 20))",
    "looper": "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass",
    "filler": "open('big', 'wb').write(b'x' * (16 << 20))",
}
NAMED = {"thief": "not found inside the sandbox", "reader": "not found inside the sandbox", "writer": "not found inside the sandbox",
         "net": "sandbox: no network", "zz-killer": "sent SIGTERM to its parent process", "forker": "process limit",
         "hog": "memory limit", "looper": "time limit (60 s a cell)", "filler": "file-size limit"}
TEST_LIMITS = dict(memory_mib=2048, processes=48, file_mib=8, disk_mib=32, cpu_s=300, wall_s=900)
RUNNER = ("import json, sys\nfrom gancourse.course import grading, sandbox\n"
          "grading.collect(sys.argv[1], sys.argv[2], timeout=60, jobs=int(sys.argv[3]), sandbox=sys.argv[4] == 'on', "
          "limits=sandbox.Limits(**json.loads(sys.argv[5])))")


def _digest(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("released")
    (tmp / "99_small.py").write_text(SOURCE)
    student_nb, = grading.release(tmp / "course", [tmp / "99_small.py"])
    return tmp / "course", student_nb


@needs_bwrap
@pytest.mark.slow
@pytest.mark.notebook
@pytest.mark.parametrize("sandbox", ["on", "off"])
def test_hostile_submissions_graded_beside_honest_ones(released, tmp_path, listener, sandbox):
    port, got = listener
    course, subs, leak = tmp_path / "course", tmp_path / "submissions", tmp_path / "leak.txt"
    shutil.copytree(released[0], course)                   # a throwaway copy: without the sandbox it gets damaged
    name = released[1].name
    nb = nbformat.read(released[1], as_version=4)
    fill = dict(course=course, subs=subs, nb=name, repo=ROOT, leak=leak, port=port)
    students = {"ada": _submission(nb, RIGHT), "bea": _submission(nb, RIGHT)}
    students |= {s: _submission(nb, RIGHT, extra_first=code.format(**fill))
                 for s, code in (HOSTILE | (LIMITS if sandbox == "on" else {})).items()}
    if sandbox == "on":                                    # the filler's second cell: fill the disk, file by file
        students["filler"].cells.insert(4, nbformat.v4.new_code_cell(
            "for i in range(1000):\n    open(f'f{i}', 'wb').write(b'x' * (4 << 20))"))
    for student, sub in students.items():
        (subs / student).mkdir(parents=True)
        nbformat.write(sub, subs / student / name)
    before, gradebook = _digest(subs), hashlib.sha256((course / "gradebook.db").read_bytes()).hexdigest()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    if sandbox == "off":                                   # the killer kills the grader: its scratch stays in tmp_path
        (tmp_path / "tmp").mkdir()
        env["TMPDIR"] = str(tmp_path / "tmp")
    run = subprocess.run([sys.executable, "-c", RUNNER, str(course), str(subs), "2" if sandbox == "on" else "1",
                          sandbox, json.dumps(TEST_LIMITS)], capture_output=True, text=True, timeout=1800, env=env)
    damage = {"thief": _digest(subs) != before,
              "reader": leak.exists() and "relu(1 - d_real)" in leak.read_text(),
              "writer": hashlib.sha256((course / "gradebook.db").read_bytes()).hexdigest() != gradebook,
              "net": got != [],
              "zz-killer": run.returncode != 0}
    if sandbox == "off":                                   # the tests bite: each isolation case does its damage
        assert damage == dict.fromkeys(HOSTILE, True)
        bea = (course / "feedback" / "bea" / "summary.txt").read_text()
        assert f"status: {grading.UNSAFE}" in bea
        return
    assert run.returncode == 0, run.stderr[-3000:]
    assert damage == dict.fromkeys(HOSTILE, False)
    rows = {r["student"]: r for r in csv.DictReader((course / "grades.csv").open())}
    for honest in ("ada", "bea"):                          # the honest students: full marks, their files as they were
        assert (rows[honest]["total"], rows[honest]["status"]) == ("2.0", "ok")
        assert (course / "feedback" / honest / "summary.txt").read_text().startswith(f"{honest}: 2 / 2 points")
        assert (course / "autograded" / honest / "gancourse" / name).exists()
    for student, what in NAMED.items():                    # each hostile one: what stopped it, by name
        assert what in rows[student]["status"], (student, rows[student]["status"])
    assert "scratch-disk limit" in rows["filler"]["status"]
    assert rows["zz-killer"]["total"] == "2.0"             # its signal was ignored, its answers graded
