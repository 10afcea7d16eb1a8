import json
import subprocess
import sys

import nbformat
import pytest

from gancourse import CourseError
from gancourse.course import build, runner, scorecard
from conftest import ROOT


def gancourse(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "gancourse", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


def test_resolve_notebook_names():
    assert [p.stem for p in build.resolve(["00", "01_gan_foundations"])] == ["00_setup", "01_gan_foundations"]
    assert build.resolve(["notebooks/01_gan_foundations.ipynb"])[0].suffix == ".py"   # the source, not a learner's copy
    assert len(build.resolve([])) >= 2
    with pytest.raises(CourseError, match="valid: 00_setup"):
        build.resolve(["42_nothing"])


def test_coerce():
    assert runner._coerce("3") == 3 and runner._coerce("0.5") == 0.5 and runner._coerce("true") is True
    assert runner._coerce("none") is None and runner._coerce("cuda") == "cuda"


@pytest.mark.parametrize("args,needle", [
    (["run", "--profile", "huge"], "unknown profile 'huge': choose one of smoke, laptop, course, paper"),
    (["run", "99", "--profile", "smoke"], "unknown notebook '99'; valid: 00_setup"),
    (["run", "00", "-p", "sed", "1"], "has no parameter(s) ['sed']; its parameters: profile"),
    (["run", "01", "-p", "toy_stepz", "1"], "its settings (-p KEY VALUE overrides them): dcgan_batch"),
    (["run", "00", "-p", "profile", "course"], "with --profile"),
])
def test_errors_list_the_valid_choices(args, needle):
    r = gancourse(*args)
    assert r.returncode == 2 and needle in r.stderr, r.stderr


def _notebook(path, code):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("profile = 'smoke'\nout_dir = '.'\ndata_root = '.'")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params] + [nbformat.v4.new_code_cell(c) for c in code]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def test_failing_notebook_is_reported_and_the_others_still_run(tmp_path):
    _notebook(tmp_path / "10_fails.ipynb", ["x = 1", "raise ValueError('broken on purpose')"])
    ok_code = ("from gancourse.course.results import Claims, at_least\n"
               "c = Claims('11_ok', 'test', profile, 'cpu', 0, out_dir)\n"
               "c.declare('K', 'one is one', 'none', at_least(1))\nc.measure('K', 1)\nc.save()")
    _notebook(tmp_path / "11_ok.ipynb", [ok_code])
    r = gancourse("run", str(tmp_path / "10_fails.ipynb"), str(tmp_path / "11_ok.ipynb"),
                  "--out", str(tmp_path / "runs"))
    assert r.returncode == 1
    # [4]: the execution count shown beside the cell in the executed notebook (after the injected parameters)
    assert "10_fails: FAILED at cell [4]: ValueError: broken on purpose" in r.stdout
    assert "11_ok: ok" in r.stdout
    card = (tmp_path / "runs" / "smoke" / "scorecard.md").read_text()
    assert "FAILED at cell [4]" in card and "## 11_ok (test)" in card and "1/1 claims reproduced" in card
    js = json.loads((tmp_path / "runs" / "smoke" / "scorecard.json").read_text())
    assert [r["ok"] for r in js["runs"]] == [False, True]


def test_scorecard_command(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "results.json").write_text(json.dumps(dict(
        notebook="a", document="d", profile="course", device="cuda", device_name="H100", seed=0,
        commit="abc", date="2026-01-01", wall_time_s=1.0,
        claims=[dict(id="X", statement="s", paper="p", measured=1.5, criterion="x ≥ 1", passed=True,
                     verdict="reproduced")])))
    r = gancourse("scorecard", str(tmp_path))
    assert r.returncode == 0 and "| X | s | p | 1.5 | x ≥ 1 | — | — | reproduced |" in r.stdout   # an older file: one criterion


def test_minus_p_splits_parameters_from_settings():
    src = build.resolve(["01"])[0]
    declared = {"profile": 0, "seed": 0, "overrides": 0, "extractor": 0}
    direct, overrides = runner.split_parameters(src, declared, {"seed": 2, "toy_steps": 100, "eval_draws": 2})
    assert direct == {"seed": 2} and overrides == {"toy_steps": 100, "eval_draws": 2}


def test_shard_splits_the_course_for_array_jobs():
    nbs = build.course_notebooks()
    parts = [runner.shard(nbs, f"{i}/3") for i in (1, 2, 3)]
    assert sorted(p for part in parts for p in part) == sorted(nbs) and all(parts)
    assert runner.shard(nbs, None) == nbs
    for bad in ("0/3", "4/3", "x"):
        with pytest.raises(CourseError, match="I/N"):
            runner.shard(nbs, bad)


def test_job_environments_give_each_job_a_gpu_or_a_share_of_the_threads():
    assert runner.job_environments(3, n_gpus=2) == [{"CUDA_VISIBLE_DEVICES": v} for v in ("0", "1", "0")]
    env = runner.job_environments(2, n_gpus=0, cores=8)[1]
    assert env["OMP_NUM_THREADS"] == env["GANCOURSE_THREADS"] == "4"     # each job pinned to its share


def test_jobs_run_notebooks_side_by_side_and_gather_one_scorecard(tmp_path):
    code = ("from gancourse.course.results import Claims, at_least\n"
            "import os\n"
            "c = Claims(os.path.basename(out_dir), 'test', profile, 'cpu', 0, out_dir)\n"
            "c.declare('K', 'one is one', 'none', at_least(1))\nc.measure('K', 1)\nc.save()")
    for name in ("21_a", "22_b"):
        _notebook(tmp_path / f"{name}.ipynb", [code])
    r = gancourse("run", str(tmp_path / "21_a.ipynb"), str(tmp_path / "22_b.ipynb"), "--jobs", "2",
                  "--out", str(tmp_path / "runs"))
    assert r.returncode == 0, r.stdout + r.stderr
    card = (tmp_path / "runs" / "smoke" / "scorecard.md").read_text()
    assert "| 21_a | ok |" in card and "| 22_b | ok |" in card and "## 21_a (test)" in card and "## 22_b (test)" in card


def test_seeds_table_puts_runs_side_by_side(tmp_path):
    for seed, (value, passed) in enumerate(((1.5, True), (0.5, False))):
        d = tmp_path / f"seed{seed}" / "a"
        d.mkdir(parents=True)
        (d / "results.json").write_text(json.dumps(dict(notebook="a", claims=[dict(
            id="X", statement="s", measured=value, sd=0.1, n=5, passed=passed)])))
    table = scorecard.seeds_table([tmp_path / "seed0", tmp_path / "seed1"])
    assert "| a | X: s | 1.5 ± 0.1 (yes) | 0.5 ± 0.1 (no) | 1/2 |" in table
    r = gancourse("scorecard", str(tmp_path / "seed0"), str(tmp_path / "seed1"))
    assert r.returncode == 0 and "| notebook | claim | seed0 | seed1 | reproduced |" in r.stdout


def test_a_run_killed_by_sigterm_keeps_its_output_notebook_and_checkpoints_and_resumes(tmp_path):
    import signal
    import time
    train = ("import time, torch\nfrom gancourse import data, training\nfrom gancourse.nn import models\n"
             "tr = training.Trainer(models.MLPGenerator(2, 8), models.MLPDiscriminator(2, 8), out_dir=out_dir, "
             "ckpt_every=1, log_every=1, progress=False, callbacks=[lambda t, c: time.sleep(0.3)])\n"
             "tr.fit(data.batches(torch.randn(64, 2), 8), steps)\nprint('trained to', tr.step)")
    _notebook(tmp_path / "31_long.ipynb", ["steps = 200", train])
    out = tmp_path / "runs" / "smoke"
    proc = subprocess.Popen([sys.executable, "-m", "gancourse", "run", str(tmp_path / "31_long.ipynb"), "--out",
                             str(tmp_path / "runs")], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ckpt = out / "31_long" / "checkpoint.pt"
    deadline = time.time() + 120
    while not ckpt.exists() and time.time() < deadline:
        time.sleep(0.5)
    time.sleep(2)
    proc.send_signal(signal.SIGTERM)
    stdout, _ = proc.communicate(timeout=120)
    assert proc.returncode != 0 and "interrupted (SIGTERM or Ctrl-C); rerun the same command" in stdout
    nb = nbformat.read(out / "31_long.ipynb", as_version=4)
    assert any("steps = 200" in c.source for c in nb.cells)                      # the output notebook was written
    import torch
    done = torch.load(ckpt, weights_only=False)["step"]
    assert 0 < done < 200
    _notebook(tmp_path / "31_long.ipynb", ["steps = " + str(done + 2), train])    # rerun: resumes, 2 more steps
    r = gancourse("run", str(tmp_path / "31_long.ipynb"), "--out", str(tmp_path / "runs"))
    assert r.returncode == 0, r.stdout + r.stderr
    text = nbformat.read(out / "31_long.ipynb", as_version=4)
    assert f"trained to {done + 2}" in json.dumps(text.cells[-1].outputs)


def test_run_finds_the_data_from_any_folder_and_honours_gancourse_data(tmp_path, monkeypatch):
    """`gancourse run` looks for data where the notebooks do: $GANCOURSE_DATA, else the course's data/ (not
    the folder it was started from); --data-root overrides both."""
    from gancourse.course import cli

    seen = []
    monkeypatch.setattr(cli, "run_notebooks", lambda nbs, profile, out, data_root, *a, **k: seen.append(data_root) or [])
    monkeypatch.setattr(cli, "scorecard", lambda *a, **k: (tmp_path / "s.md", tmp_path / "s.json"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GANCOURSE_DATA", raising=False)
    cli.main(["run", "00", "--out", str(tmp_path)])
    monkeypatch.setenv("GANCOURSE_DATA", str(tmp_path / "elsewhere"))
    cli.main(["run", "00", "--out", str(tmp_path)])
    cli.main(["run", "00", "--out", str(tmp_path), "--data-root", "mine"])
    assert seen == [str(ROOT / "data"), str(tmp_path / "elsewhere"), "mine"]
