import pytest

from gancourse import CourseError
from gancourse.course import notebook


def test_start_returns_what_a_notebook_needs(tmp_path, capsys):
    run = notebook.start("01_gan_foundations", "smoke", "cpu", 3, tmp_path / "out", {"toy_steps": 10})
    assert run.cfg.toy_steps == 10 and run.device.type == "cpu" and run.seed == 3 and run.out.is_dir()
    assert run.claims.notebook == "01_gan_foundations" and run.claims.document == "survey"
    out = capsys.readouterr().out
    assert "01_gan_foundations · profile smoke" in out and "toy_steps=10" in out
    assert notebook.start("01_gan_foundations", "smoke", "cpu", 0, tmp_path, '{"toy_steps": 7}', quiet=True).cfg.toy_steps == 7


@pytest.mark.parametrize("kw,needle", [
    (dict(profile="fast"), "choose one of smoke, laptop, course, paper"),
    (dict(seed=-1), "seed must be a non-negative integer"),
    (dict(seed="0"), "seed must be a non-negative integer"),
    (dict(device="gpu"), "'auto', 'cpu' or 'cuda"),
    (dict(overrides={"toy_stepz": 1}), "unknown setting(s) ['toy_stepz']"),
    (dict(overrides="toy_steps=1"), "overrides must be a dict or JSON text"),
    (dict(overrides={"toy_steps": -3}), "must be positive"),
])
def test_bad_parameters_fail_before_any_work_with_the_fix(tmp_path, kw, needle):
    args = dict(notebook="01_gan_foundations", profile="smoke", device="cpu", seed=0, out_dir=tmp_path / "o", overrides={})
    args.update(kw)
    with pytest.raises(CourseError) as e:
        notebook.start(**args)
    assert needle in str(e.value)


def test_an_unwritable_out_dir_is_named(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(CourseError, match="not writable.*--out DIR"):
        notebook.start("00_setup", "smoke", "cpu", 0, blocker / "x", quiet=True)


def test_defaults_are_the_course_folders_whatever_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(notebook.DATA_ENV, raising=False)
    monkeypatch.delenv(notebook.OUT_ENV, raising=False)
    run = notebook.start("00_setup", "smoke", "cpu", 0, quiet=True)
    notebook.release_folder(run.out)          # the course's own folder: nbval's kernel runs 00 into it later
    assert run.out == notebook.course_root() / "runs" / "manual" / "00_setup"
    assert run.data_root == notebook.course_root() / "data" and not (tmp_path / "runs").exists()
    monkeypatch.setenv(notebook.DATA_ENV, str(tmp_path / "d"))
    assert notebook.start("00_setup", "smoke", "cpu", 0, tmp_path / "o", quiet=True).data_root == tmp_path / "d"
    monkeypatch.setenv(notebook.OUT_ENV, str(tmp_path / "graded"))          # the grader's scratch per student
    assert notebook.start("00_setup", "smoke", "cpu", 0, quiet=True).out == tmp_path / "graded" / "00_setup"


HOLDER = '''
import sys, time
from gancourse.course import notebook
notebook.start("00_setup", "smoke", "cpu", 0, sys.argv[1], quiet=True)
print("started", flush=True)
time.sleep(600)
'''


def test_two_runs_cannot_write_into_one_folder_and_a_killed_holder_frees_it(tmp_path):
    import signal
    import subprocess
    import sys
    out = tmp_path / "shared"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], stdout=subprocess.PIPE, text=True,
                              cwd=notebook.course_root())
    try:
        assert holder.stdout.readline().strip() == "started"
        (out / "results.json").write_text('{"the holder": "writing"}')
        with pytest.raises(CourseError, match=rf"in use by pid {holder.pid} .*another out_dir"):
            notebook.start("00_setup", "smoke", "cpu", 0, out, quiet=True)
        assert (out / "results.json").exists()                   # the refused run removed nothing of the holder's
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    notebook.start("00_setup", "smoke", "cpu", 0, out, quiet=True)        # the OS released the lock with the holder
    notebook.start("00_setup", "smoke", "cpu", 0, out, quiet=True)        # and a process may start twice (re-run in a kernel)
    assert not (out / "results.json").exists()
    notebook.release_folder(out)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], stdout=subprocess.PIPE, text=True,
                              cwd=notebook.course_root())
    try:                                                                   # released: another process may claim it
        assert holder.stdout.readline().strip() == "started"
    finally:
        holder.kill()
        holder.wait()


def test_a_stale_results_file_is_removed_when_a_run_starts(tmp_path):
    (tmp_path / "results.json").write_text("{}")
    notebook.start("00_setup", "smoke", "cpu", 0, tmp_path, quiet=True)
    assert not (tmp_path / "results.json").exists()


def test_a_feeds_cell_runs_as_a_notebook_cell_would(tmp_path, capsys):
    """%%feeds runs its cell like IPython: %magics work, the last expression is displayed (not after a ';'),
    a skipped cell says so in one line."""
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    try:
        from gancourse.course.results import at_least
        run = notebook.start("07_augmentation", "smoke", "cpu", 0, tmp_path / "out", claim_ids="A1")
        for cid in ("A1", "A4"):
            run.claims.declare(cid, "a claim", "§1", criterion=at_least(1.0))
        shell.run_cell("%%feeds A1\n%config InteractiveShell.ast_node_interactivity = 'last_expr'\nx = 20\nx + 22",
                       store_history=True)
        assert "42" in capsys.readouterr().out and shell.user_ns["x"] == 20
        shell.run_cell("%%feeds A1\nx + 1;")
        assert "21" not in capsys.readouterr().out
        shell.run_cell("%%feeds A4\nx = 0")
        assert "skipped: this cell feeds A4 only (this run measures A1)" in capsys.readouterr().out
        assert shell.user_ns["x"] == 20 and run.claims.selected == ("A1",)
    finally:
        InteractiveShell.clear_instance()
