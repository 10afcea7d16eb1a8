import json
import math

import pytest

from gancourse import CourseError
from gancourse.course.results import Claims, at_least, at_most, between, claims_table, format_value, summary


def test_criteria():
    assert at_least(2)(2) and not at_least(2)(1.9)
    assert at_most(2)(2) and not at_most(2)(2.1)
    assert between(1, 3)(2) and not between(1, 3)(4)
    assert not at_least(0)(math.nan) and not at_most(1)(None)
    assert str(at_least(10)) == "x ≥ 10"


def test_margin_and_every_say_how_the_spread_counts():
    assert at_least(1)(1.2, sd=0.5) and not at_least(1, margin=True)(1.2, sd=0.5)
    assert at_least(1, margin=True)(1.6, sd=0.5) and str(at_least(1, margin=True)) == "x − sd ≥ 1"
    assert at_most(0, margin=True)(-1.0, sd=0.5) and not at_most(0, margin=True)(-0.2, sd=0.5)
    assert str(at_most(0, margin=True)) == "x + sd ≤ 0"
    assert not at_most(500, every=True)(400, values=[300, 600]) and at_most(500)(400, values=[300, 600])
    assert str(at_most(500, every=True)) == "each x ≤ 500"


def test_summary_and_formatting():
    s = summary([1.0, 2.0, 3.0])
    assert s["mean"] == 2.0 and s["sd"] == pytest.approx(1.0) and s["n"] == 3
    one = summary(5.0)
    assert one["sd"] == 0.0 and one["n"] == 1
    assert format_value(5.0, 0.0, 1) == "5" and "nan" not in format_value(5.0, float("nan"), 1)
    assert format_value(2.0, 1.0, 3, "evaluation draws") == "2 ± 1 (3 evaluation draws)"


def test_claims_table_and_results_file(tmp_path):
    c = Claims("01_x", "survey", "course", "cpu", 3, tmp_path)
    c.declare("A", "a claim", "paper 1", at_least(10), unit="×")
    c.declare("B", "b claim", "paper 2", dict(laptop=at_most(5), course=at_most(1), paper=at_most(1)))
    c.declare("C", "never measured", "paper 3", at_most(1))
    assert c.measure("A", [12.0, 13.0]) is True
    assert c.measure("B", 2.0, detail="too big") is False
    md = c.markdown()
    assert "| A | a claim | paper 1 | 12.5 ± 0.71 (2 evaluation draws) | x ≥ 10 × | **x ≥ 10** × | x ≥ 10 × | reproduced |" in md
    assert "| B | b claim | paper 2 | 2 (too big) | x ≤ 5 | **x ≤ 1** | x ≤ 1 | not reproduced |" in md
    assert "not measured" in md
    doc = json.loads(c.save(extractor="E").read_text())
    assert doc["profile"] == "course" and doc["seed"] == 3 and doc["extra"]["extractor"] == "E"
    assert {"device", "device_name", "date", "wall_time_s", "commit", "versions", "cpu_kind", "threads"} <= set(doc)
    assert doc["threads"]["cores"] >= 1 and "runs" in doc["threads"]
    assert [r["passed"] for r in doc["claims"]] == [True, False, None]
    a = doc["claims"][0]
    assert a["values"] == [12.0, 13.0] and a["n"] == 2 and a["over"] == "evaluation draws"
    assert doc["claims"][1]["criteria"] == {"laptop": "x ≤ 5", "course": "x ≤ 1", "paper": "x ≤ 1"}
    assert claims_table(doc["claims"]) == md          # one renderer for notebooks and scorecards


def test_laptop_uses_its_own_criterion_and_smoke_borrows_it_marked():
    for profile, passed in (("laptop", True), ("smoke", True), ("course", False)):
        c = Claims("01_x", "survey", profile, "cpu", 0, ".")
        c.declare("A", "s", "p", dict(laptop=at_least(1), course=at_least(5), paper=at_least(5)))
        assert c.measure("A", 2) is passed
        assert ("not a claim" in c.rows()[0]["verdict"]) == (profile == "smoke")


def test_training_seeds_are_named_as_such():
    c = Claims("01_x", "survey", "laptop", "cpu", 0, ".")
    c.declare("K", "s", "p", at_most(500, every=True))
    c.measure("K", [300, 450, 520], over="training seeds")
    r = c.rows()[0]
    assert r["passed"] is False and "3 training seeds" in c.markdown()


def test_criteria_cannot_be_redeclared_skipped_or_partial():
    c = Claims("01_x", "survey", "course", "cpu", 0, ".")
    c.declare("A", "s", "p", at_least(1))
    with pytest.raises(CourseError, match="fixed before"):
        c.declare("A", "s", "p", at_least(0))
    with pytest.raises(CourseError, match="never declared"):
        c.measure("Z", 1.0)
    with pytest.raises(CourseError, match="one for each of laptop, course, paper"):
        c.declare("B", "s", "p", dict(laptop=at_least(1)))


def test_a_results_file_that_cannot_be_written_leaves_nothing(tmp_path, monkeypatch):
    c = Claims("01_x", "survey", "laptop", "cpu", 0, tmp_path)
    c.declare("A", "s", "p", at_least(1))
    c.measure("A", 2)
    real_write = type(tmp_path).write_text

    def full(self, text, *a, **k):
        real_write(self, text[:10])
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(type(tmp_path), "write_text", full)
    with pytest.raises(CourseError, match="No space left on device.*nothing was written"):
        c.save()
    assert not list(tmp_path.iterdir())


def test_a_criterion_reads_back_from_its_text():
    from gancourse.course.results import Criterion, at_least, at_most, between
    for c in (at_least(3, every=True), at_most(0.05, margin=True), at_least(-1.5), between(0.2, 0.8),
              between(0.2, 0.8, margin=True), at_most(1e-9), at_least(10, margin=True)):
        assert Criterion.parse(str(c)) == c
    with pytest.raises(CourseError, match="cannot read the criterion"):
        Criterion.parse("x is large")
