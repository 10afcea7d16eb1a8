"""tests/reference/same_numbers.py: the check that a refactor moved no number."""
import copy
import json
import sys

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tests" / "reference"))
import same_numbers  # noqa: E402


def _result(notebook, claims, extra, **top):
    return dict(notebook=notebook, date="2026-12-05", commit="abc", wall_time_s=10.0, seed=0,
                claims=[dict(id=i, measured=v, values=[v, v], passed=True) for i, v in claims.items()], extra=extra, **top)


def _write(root, res):
    (root / res["notebook"]).mkdir(parents=True)
    (root / res["notebook"] / "results.json").write_text(json.dumps(res))


def test_identical_runs_pass_and_a_moved_number_is_named(tmp_path):
    a = _result("01_x", {"F1": 1.5}, {"fid": [1.0, 2.0], "seconds": 3.0})
    b = copy.deepcopy(a)
    b.update(date="2026-12-06", commit="def", wall_time_s=99.0)
    b["extra"]["seconds"] = 7.0                                    # clocks may differ
    _write(tmp_path / "before", a)
    _write(tmp_path / "after", b)
    assert same_numbers.main([str(tmp_path / "before"), str(tmp_path / "after")]) == 0
    b["extra"]["fid"][1] = 2.0000001
    (tmp_path / "after" / "01_x" / "results.json").write_text(json.dumps(b))
    diffs, _ = same_numbers.compare(tmp_path / "before", tmp_path / "after")
    assert diffs == ["01_x/extra/fid[1]: 2.0 → 2.0000001"]


def test_notebook_04_excuses_only_what_its_time_budget_decides(tmp_path):
    rows = {"(a)": {"stopped_by": "steps", "swd": 5.0}}
    a = _result("04_pggan_swd", {"P3": 0.1, "P4": 1.4, "P6": 1.0}, {"curves": [1.0], "rows": rows})
    b = copy.deepcopy(a)
    b["claims"][1]["measured"] = 1.9                               # P4 on rows that stopped on images: compared
    b["extra"]["curves"] = [2.0]
    _write(tmp_path / "before", a)
    _write(tmp_path / "after", b)
    assert same_numbers.compare(tmp_path / "before", tmp_path / "after")[0] == [
        "04_pggan_swd/claims/P4/measured: 1.4 → 1.9", "04_pggan_swd/extra/curves[0]: 1.0 → 2.0"]
    b["claims"][2]["measured"] = 1.1                               # P6 on rows that stopped by steps: not excused
    b["extra"]["rows"]["(g) at fixed size"] = {"stopped_by": "time", "swd": 4.0}   # the equal-time row on the clock:
    a["extra"]["rows"]["(g) at fixed size"] = {"stopped_by": "time", "swd": 3.0}   # P3, P4, curves move, P6 does not
    b["claims"][0]["measured"] = 0.2
    for res, where in ((a, "before"), (b, "after")):
        (tmp_path / where / "04_pggan_swd" / "results.json").write_text(json.dumps(res))
    assert same_numbers.compare(tmp_path / "before", tmp_path / "after")[0] == ["04_pggan_swd/claims/P6/measured: 1.0 → 1.1"]
    b["extra"]["rows"]["(a)"]["stopped_by"] = "time"               # a Table-1 row on its budget: P6 excused too
    b["extra"]["rows"]["(a)"]["swd"] = 6.0
    (tmp_path / "after" / "04_pggan_swd" / "results.json").write_text(json.dumps(b))
    assert same_numbers.compare(tmp_path / "before", tmp_path / "after")[0] == []


def test_a_provenance_path_is_not_a_moved_number(tmp_path):
    a = _result("00_x", {"S1": 0.9}, {"data": "mnist_5k: first 4000 [/work/a/.venv/mnist_5k.csv.gz]"})
    b = copy.deepcopy(a)
    b["extra"]["data"] = "mnist_5k: first 4000 [/work/b/.venv/mnist_5k.csv.gz]"
    _write(tmp_path / "before", a)
    _write(tmp_path / "after", b)
    diffs, notes = same_numbers.compare(tmp_path / "before", tmp_path / "after")
    assert diffs == [] and "1 provenance strings differ" in notes[0]
    b["extra"]["data"] = "mnist_5k: first 3000 [/work/b/.venv/mnist_5k.csv.gz]"     # outside the brackets: moved
    (tmp_path / "after" / "00_x" / "results.json").write_text(json.dumps(b))
    assert len(same_numbers.compare(tmp_path / "before", tmp_path / "after")[0]) == 1
    a["extra"]["data"], b["extra"]["data"] = "accuracy [94.5]", "accuracy [94.6]"     # a number in brackets: moved
    for res, where in ((a, "before"), (b, "after")):
        (tmp_path / where / "00_x" / "results.json").write_text(json.dumps(res))
    assert len(same_numbers.compare(tmp_path / "before", tmp_path / "after")[0]) == 1
