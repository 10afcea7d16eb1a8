"""Data-parallel training on the CPU with gloo and 2 processes (torchrun): the same losses and
weights as one process with the same global batch, and a killed 2-process run resumes."""
import json
import subprocess
import sys

import pytest
import torch

from gancourse.course import launch
from gancourse.training import ranks
from conftest import ROOT

SCRIPT = str(ROOT / "tests" / "ddp_script.py")


def _torchrun(out, *extra, nproc=2):
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
                           SCRIPT, str(out), *extra], capture_output=True, text=True, cwd=ROOT, timeout=600)


def _last_json(r):
    return json.loads([l for l in r.stdout.splitlines() if l.startswith("{")][-1])


@pytest.fixture(scope="module")
def one_process(tmp_path_factory):
    r = subprocess.run([sys.executable, SCRIPT, str(tmp_path_factory.mktemp("one"))], capture_output=True,
                       text=True, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr
    return _last_json(r)


def _close(a, b, tol=1e-4):
    assert a["step"] == b["step"]
    assert a["d_loss"] == pytest.approx(b["d_loss"], rel=tol, abs=tol)
    for k in a["G_ema"]:
        assert torch.allclose(torch.tensor(a["G_ema"][k]), torch.tensor(b["G_ema"][k]), atol=tol, rtol=tol), k


def test_two_processes_follow_one_process_with_the_same_global_batch(tmp_path, one_process):
    r = _torchrun(tmp_path)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    two = _last_json(r)
    assert two["world"] == 2 and one_process["world"] == 1
    _close(two, one_process)


def test_a_killed_two_process_run_resumes_to_the_same_numbers(tmp_path, one_process):
    killed = _torchrun(tmp_path, "--die-at", "23")
    assert killed.returncode != 0
    resumed = _torchrun(tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    _close(_last_json(resumed), one_process)


def test_share_and_outside_distributed():
    assert ranks.rank_world() == (0, 1) and ranks.is_main()
    t = torch.arange(8)
    assert torch.equal(ranks.share(t), t)


def test_a_notebook_can_launch_a_data_parallel_run_and_read_it(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCOURSE_DATA", str(tmp_path / "data"))          # smoke: the packaged digits
    r = launch.launch(["--out", str(tmp_path / "ddp"), "--steps", "4", "--batch", "8"], nproc=2, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert "trained 4 steps on 2 processes" in r.stdout
    tr = launch.load_dcgan(tmp_path / "ddp")
    assert tr.step == 4 and tr.sample(3).shape == (3, 1, 28, 28)
