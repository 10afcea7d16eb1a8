"""Claims judged over training seeds: the pooled rule on synthetic per-seed values, the scorecard that
gathers results/<profile>/seed*/, its forest plots, and its refusal to pool runs made at different commits."""
import json
import math
import re

import pytest

from gancourse import CourseError
from gancourse.course import pooling, scorecard


def _row(value, criterion="x − sd ≥ 1", unit="", sd=0.0, n=5, seed=0, passed=None, cid="A1"):
    return dict(id=cid, statement="a claim", unit=unit, measured=value, sd=sd, n=n, values=[value] * n,
                criteria={"laptop": criterion, "course": criterion, "paper": criterion}, seed=seed,
                passed=passed if passed is not None else value is not None and value - sd >= 1)


def test_a_clear_pass_a_clear_fail_and_a_straddle():
    held = pooling.pool_claim([_row(v, seed=i) for i, v in enumerate([3.0, 3.2, 2.9])])
    assert held["verdict"] == "holds" and held["low"] > 1 and held["seeds_needed"] is None
    failed = pooling.pool_claim([_row(v, seed=i) for i, v in enumerate([0.2, 0.25, 0.18])])
    assert failed["verdict"] == "fails" and failed["high"] < 1
    straddle = pooling.pool_claim([_row(v, seed=i) for i, v in enumerate([0.5, 1.6, 1.4])])
    assert straddle["verdict"] == "unresolved" and straddle["low"] < 1 < straddle["high"]
    assert isinstance(straddle["seeds_needed"], int) and straddle["seeds_needed"] > 3
    assert "seeds at this spread would show it holds" in pooling.what_would_resolve(straddle)


def test_the_interval_is_a_t_interval_with_n_minus_one_degrees_of_freedom():
    mean, sd, lo, hi = pooling.t_interval([1.0, 2.0, 3.0])
    assert (mean, sd) == (2.0, 1.0)
    assert hi - mean == pytest.approx(2.919986 / math.sqrt(3), rel=1e-5)     # t(0.95, 2) = 2.919986


def test_ratios_pool_on_a_log_scale():
    p = pooling.pool_claim([_row(0.5, "x ≥ 1", unit="×", seed=0), _row(2.0, "x ≥ 1", unit="×", seed=1)])
    assert p["scale"] == "log" and p["mean"] == pytest.approx(1.0)          # not 1.25
    assert p["low"] * p["high"] == pytest.approx(1.0)                       # symmetric in log
    lin = pooling.pool_claim([_row(0.5, "x ≥ 1", unit="modes", seed=0), _row(2.0, "x ≥ 1", unit="modes", seed=1)])
    assert lin["scale"] == "linear" and lin["mean"] == 1.25


def test_one_seed_is_not_pooled_and_a_missing_value_is_left_out():
    assert pooling.pool_claim([_row(3.0)])["verdict"] == "one seed: not pooled"
    p = pooling.pool_claim([_row(3.0, seed=0), _row(None, seed=1)])
    assert p["verdict"] == "one seed: not pooled" and p["n_seeds"] == 1
    assert pooling.pool_claim([_row(None)])["verdict"] == "not measured"


def test_every_value_claims_pool_by_counting_seeds():
    rows = lambda passed: [_row(3.0 if ok else 2.0, "each x ≥ 3", seed=i, passed=ok) for i, ok in enumerate(passed)]
    assert pooling.pool_claim(rows([True, True, True]))["verdict"] == "holds"
    assert pooling.pool_claim(rows([False, False, False]))["verdict"] == "fails"
    mixed = pooling.pool_claim(rows([True, False, True]))
    assert mixed["verdict"] == "unresolved" and "more seeds cannot" in pooling.what_would_resolve(mixed)


def test_at_most_and_between_criteria():
    assert pooling.pool_claim([_row(v, "x + sd ≤ 1", "×", seed=i) for i, v in enumerate([0.5, 0.55, 0.6])])["verdict"] == "holds"
    assert pooling.pool_claim([_row(v, "0.2 ≤ x ≤ 0.8", seed=i) for i, v in enumerate([0.5, 0.52, 0.49])])["verdict"] == "holds"
    assert pooling.pool_claim([_row(v, "0.2 ≤ x ≤ 0.8", seed=i) for i, v in enumerate([0.9, 0.95, 0.92])])["verdict"] == "fails"


def _results(root, seed, commit, claims, notebook="07_augmentation"):
    d = root / f"seed{seed}" / notebook
    d.mkdir(parents=True)
    res = dict(notebook=notebook, document="augment", profile="laptop", seed=seed, commit=commit, date="2026-12-06",
               machine="AMD EPYC, 2 cores", wall_time_s=100.0,
               timing=dict(training=60.0, evaluation=30.0, plotting=2.0, other=8.0),
               claims=[{k: v for k, v in _row(value, cid=cid, seed=seed).items() if k != "seed"} for cid, value in claims.items()])
    (d / "results.json").write_text(json.dumps(res))


def test_the_scorecard_pools_seeds_writes_forest_plots_and_survives_a_missing_seed(tmp_path):
    _results(tmp_path, 0, "abc1234", {"A1": 3.0, "A2": 0.5})
    _results(tmp_path, 1, "abc1234", {"A1": 3.3, "A2": 1.6})
    _results(tmp_path, 0, "abc1234", {"K1": 5.0}, notebook="03_semi_supervised")   # one seed only
    md, js = scorecard.pooled_scorecard(tmp_path)
    text = md.read_text()
    assert "| 07_augmentation | 0, 1 | abc1234 | 1 · 0 · 1 | — |" in text
    assert "one seed: not pooled" in text and "forest/07_augmentation.png" in text
    pooled = json.loads(js.read_text())
    assert [nb["notebook"] for nb in pooled["notebooks"]] == ["03_semi_supervised", "07_augmentation"]
    for nb in ("03_semi_supervised", "07_augmentation"):
        png = tmp_path / "forest" / f"{nb}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_seeds_that_measured_different_claims_are_refused():
    """Criteria are fixed before the runs: seeds whose criterion, statement, unit or kind differ do not pool."""
    a, b = _row(3.0, seed=0), _row(3.1, seed=1)
    pooling.pool_claim([a, b])
    for key, value in (("criteria", {"laptop": "x − sd ≥ 2", "course": "x ≥ 1", "paper": "x ≥ 1"}),
                       ("statement", "another claim"), ("unit", "×"), ("kind", "check")):
        with pytest.raises(CourseError, match="claim A1: seed 1"):
            pooling.pool_claim([a, {**b, key: value}])


def test_the_pooled_criterion_is_the_one_tested_and_the_paper_travels_with_it():
    p = pooling.pool_claim([_row(v, "x − sd ≥ 1", unit="×", seed=i) for i, v in enumerate([2.0, 2.2, 1.9])])
    assert p["criterion"] == "x − sd ≥ 1" and p["tested"] == "the mean's 90% interval ≥ 1 (geometric)"
    every = pooling.pool_claim([_row(3.0, "each x ≥ 3", seed=i, passed=True) for i in range(2)])
    assert every["tested"] == "every seed: each x ≥ 3"
    rows = [{**_row(v, seed=i), "paper": "Table 3: 6.86 / 4.36 = 1.57", "paper_value": 1.57} for i, v in enumerate([2, 3])]
    p = pooling.pool_claim(rows)
    assert p["paper"] == "Table 3: 6.86 / 4.36 = 1.57" and p["paper_value"] == 1.57


def test_a_machine_dependent_claim_pools_only_within_one_kind_of_cpu():
    rows = [{**_row(v, seed=i), "machine_dependent": True, "cpu_kind": kind}
            for i, (v, kind) in enumerate([(2.0, "avx512"), (2.1, "avx512"), (1.9, "avx2")])]
    assert pooling.pool_claim(rows)["verdict"] == pooling.MACHINES_DIFFER
    assert pooling.pool_claim(rows[:2])["verdict"] == "holds"
    plain = [{**r, "machine_dependent": False} for r in rows]
    assert pooling.pool_claim(plain)["verdict"] == "holds"                     # a claim that does not depend on it


def test_papers_claims_are_counted_apart_from_checks_and_shared_runs_listed(tmp_path):
    _results(tmp_path, 0, "abc1234", {"A1": 3.0, "A2": 3.0, "A3": 0.2})
    _results(tmp_path, 1, "abc1234", {"A1": 3.1, "A2": 3.2, "A3": 0.3})
    for seed in (0, 1):                       # A2 is a check; A1 and A3 share a run
        path = tmp_path / f"seed{seed}" / "07_augmentation" / "results.json"
        res = json.loads(path.read_text())
        for c in res["claims"]:
            c["kind"] = "check" if c["id"] == "A2" else "claim"
            c["shares_run"] = "A1/A3: one run" if c["id"] in ("A1", "A3") else ""
        path.write_text(json.dumps(res))
    md, js = scorecard.pooled_scorecard(tmp_path, plots=False)
    text = md.read_text()
    assert ("1 of 2 papers' claims hold (1 fail, 0 unresolved); 1 of 1 checks of instruments and deterministic facts "
            "hold (0 fail, 0 unresolved)") in text
    assert "| 07_augmentation | 0, 1 | abc1234 | 1 · 1 · 0 | 1 · 0 · 0 |" in text
    assert "A1, A3 (A1/A3: one run)" in text and "*(check)*" in text
    assert "predate declared kinds" not in text


def test_claims_from_seeds_that_predate_declared_kinds_are_named_not_guessed(tmp_path):
    _results(tmp_path, 0, "abc1234", {"A1": 3.0, "A2": 3.0})     # results written before claims had a kind
    _results(tmp_path, 1, "abc1234", {"A1": 3.1, "A2": 3.2})
    md, _ = scorecard.pooled_scorecard(tmp_path, plots=False)
    text = md.read_text()
    assert "2 of 2 papers' claims hold" in text
    assert "counted as papers' claims because their seeds predate declared kinds: 07_augmentation A1, A2" in text
    assert "A1, A2 count as papers' claims until the notebook's seeds are rerun" in text


def test_seeds_of_different_profiles_are_refused(tmp_path):
    _results(tmp_path, 0, "abc1234", {"A1": 3.0})
    _results(tmp_path, 1, "abc1234", {"A1": 3.1})
    path = tmp_path / "seed1" / "07_augmentation" / "results.json"
    path.write_text(path.read_text().replace('"profile": "laptop"', '"profile": "course"'))
    with pytest.raises(CourseError, match="profiles"):
        scorecard.pooled_scorecard(tmp_path, plots=False)


def test_seeds_at_different_commits_are_refused_unless_told(tmp_path):
    _results(tmp_path, 0, "abc1234", {"A1": 3.0})
    _results(tmp_path, 1, "def5678", {"A1": 3.1})
    with pytest.raises(CourseError, match="different commits.*--mixed-commits"):
        scorecard.pooled_scorecard(tmp_path, plots=False)
    md, _ = scorecard.pooled_scorecard(tmp_path, mixed_commits=True, plots=False)
    assert "abc1234, def5678 (**mixed commits**)" in md.read_text()


def test_the_cli_pools_a_profile_folder(tmp_path, capsys):
    from gancourse.course import cli
    _results(tmp_path, 0, "abc1234", {"A1": 3.0})
    _results(tmp_path, 1, "def5678", {"A1": 3.1})
    assert cli.main(["scorecard", "--seeds", str(tmp_path)]) == 2                  # refused: mixed commits
    assert "different commits" in capsys.readouterr().err
    assert cli.main(["scorecard", "--seeds", str(tmp_path), "--mixed-commits"]) == 0
    assert "**mixed commits**" in capsys.readouterr().out


def test_the_readme_reports_the_committed_verdicts_over_seeds():
    """The README's course table says, per notebook, what results/laptop/scorecard.json pooled (and each
    seed's count from its results.json): a rerun of the scorecard that moves a verdict must move the README."""
    from gancourse.course import book
    from conftest import ROOT
    laptop = ROOT / "results" / "laptop"
    if not (laptop / "scorecard.json").exists():
        pytest.skip("no pooled laptop scorecard committed")
    expected = book.verdicts(laptop, book.runs(laptop))
    section = book.readme_sections((ROOT / "README.md").read_text())["The course"]
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in section
            if re.match(r"^\| `\d\d_\w+` \|", line)]
    found = {row[0].strip("`"): (row[3], row[4]) for row in rows}
    assert found == expected
