"""The power design: the t-test's power against a textbook table, one plan per unresolved claim, the runs it
plans, and a design that cannot be replaced once written."""
import json

import pytest

from gancourse import CourseError
from gancourse.course import pooling, power


def test_power_matches_cohens_table():
    """One-sample t-test, one-sided α = 0.05, 80 % power: d = 0.5 needs 27 values, d = 0.8 needs 12 (Cohen 1988;
    G*Power gives the same)."""
    assert power.power(0.5, 27) >= 0.80 > power.power(0.5, 26)
    assert power.seeds_for(0.5, cap=100) == 27 and power.seeds_for(0.8, cap=100) == 12
    assert power.power(0.0, 10) == pytest.approx(0.05, abs=1e-9)        # no effect: the test's level
    assert power.seeds_for(0.5) is None                                  # over the cap of 12


def _pooled(values, criterion="x − sd ≥ 1", unit="×"):
    rows = [dict(id="A3", statement="s", unit=unit, measured=v, sd=0.01, n=5, values=[v] * 5, seed=i,
                 criteria={p: criterion for p in ("laptop", "course", "paper")}, passed=v >= 1) for i, v in enumerate(values)]
    return pooling.pool_claim(rows)


def test_a_plan_per_unresolved_claim():
    p = _pooled([1.6, 0.9, 1.5])                                        # straddles 1: unresolved
    assert p["verdict"] == "unresolved"
    plan = power.plan_claim(p)
    import math
    d = abs(math.log(p["mean"])) / p["sd_between"]                     # on the log scale it pools on
    assert plan["effect_size"] == pytest.approx(d, abs=1e-4)
    assert plan["N"] == power.seeds_for(d, at_least=4) and plan["N"] > 3 and "power" in plan["why"]
    weak = power.plan_claim(_pooled([1.3, 0.5, 1.6]))
    assert weak["N"] is None and weak["plan"] == "larger budget" and "course profile" in weak["why"]
    every = [dict(id="P1", statement="s", unit="kinds", measured=v, sd=0, n=5, values=[v] * 5, seed=i, passed=v >= 3,
                  criteria={p: "each x ≥ 3" for p in ("laptop", "course", "paper")}) for i, v in enumerate([3, 2, 3])]
    plan = power.plan_claim(pooling.pool_claim(every))
    assert plan["N"] is None and "more seeds cannot resolve it" in plan["why"]


def test_the_design_plans_each_seed_with_only_the_claims_that_need_it(tmp_path):
    plans = [dict(notebook="07_augmentation", id="A1", N=5, pilot_seeds=[0, 1, 2]),
             dict(notebook="07_augmentation", id="A3", N=7, pilot_seeds=[0, 1, 2]),
             dict(notebook="07_augmentation", id="A4", N=None, pilot_seeds=[0, 1, 2]),
             dict(notebook="05_stabilizers", id="T6", N=4, pilot_seeds=[0, 1, 2])]
    runs = power.planned_runs(plans)
    assert [(r["notebook"][:2], r["seed"], r["claims"]) for r in runs] == [
        ("07", 3, ["A1", "A3"]), ("07", 4, ["A1", "A3"]), ("07", 5, ["A3"]), ("07", 6, ["A3"]), ("05", 3, ["T6"])]


def test_a_design_is_written_once(tmp_path):
    nb = dict(notebook="07_augmentation", commits=["abc1234"], claims=[_pooled([1.6, 0.9, 1.5]), _pooled([2.0, 2.1, 2.2])])
    (tmp_path / "scorecard.json").write_text(json.dumps(dict(notebooks=[nb])))
    js, md = power.write_design(tmp_path)
    design = json.loads(js.read_text())
    assert [c["id"] for c in design["claims"]] == ["A3"]                   # only the unresolved one
    assert "gancourse run 07 --profile laptop -p seed 3 --claims A3" in md.read_text()
    with pytest.raises(CourseError, match="fixed before the seeds it plans"):
        power.write_design(tmp_path)


def test_a_notebook_whose_pilot_comes_later_is_added_and_the_others_stay(tmp_path):
    a07 = dict(notebook="07_augmentation", commits=["abc1234"], claims=[_pooled([1.6, 0.9, 1.5])])
    t05 = dict(notebook="05_stabilizers", commits=["def5678"], claims=[_pooled([1.7, 0.8, 1.4])])
    (tmp_path / "scorecard.json").write_text(json.dumps(dict(notebooks=[a07])))
    js, md = power.write_design(tmp_path)
    first = json.loads(js.read_text())
    (tmp_path / "scorecard.json").write_text(json.dumps(dict(notebooks=[dict(a07, commits=["0000000"]), t05])))
    power.write_design(tmp_path)                                  # 05 is new: added; 07 is fixed: kept
    both = json.loads(js.read_text())
    assert [n["notebook"] for n in both["notebooks"]] == ["07_augmentation", "05_stabilizers"]
    assert both["claims"][0] == first["claims"][0] and both["claims"][1]["notebook"] == "05_stabilizers"
    assert [r["notebook"][:2] for r in both["runs"]] == ["07"] * len(first["runs"]) + ["05"] * (len(both["runs"]) - len(first["runs"]))
    with pytest.raises(CourseError, match="already designs 07_augmentation"):
        power.write_design(tmp_path, ["07_augmentation"])
    with pytest.raises(CourseError, match="fixed before the seeds it plans"):
        power.write_design(tmp_path)
    assert "07_augmentation at abc1234" in md.read_text()


def test_the_scorecard_says_what_the_design_plans_for_an_unresolved_claim():
    from gancourse.course import scorecard
    p = dict(_pooled([1.6, 0.9, 1.5]), resolve="about 5 seeds at this spread")
    assert scorecard.resolve_cell(p, None) == p["resolve"]                # no design yet: the rough estimate
    planned = dict(N=7, plan="seeds 3–6", why="power 80% at N = 7")
    assert "runs it to N = 7 seeds (seeds 3–6" in scorecard.resolve_cell(p, planned)
    assert "still unresolved after the design's N = 3" in scorecard.resolve_cell(p, dict(planned, N=3))
    capped = dict(N=None, plan="larger budget", why="12 seeds would give 17% power; the course profile")
    assert scorecard.resolve_cell(p, capped) == "over the design's cap: 12 seeds would give 17% power; the course profile"
    held = dict(_pooled([2.0, 2.1, 2.2]), resolve="")
    assert held["verdict"] == "holds" and scorecard.resolve_cell(held, planned) == held["resolve"]
