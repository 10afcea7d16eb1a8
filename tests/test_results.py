import json
import math

import pytest

from gancourse import CourseError
from gancourse.results import Claims, at_least, at_most, between


def test_criteria():
    assert at_least(2)(2) and not at_least(2)(1.9)
    assert at_most(2)(2) and not at_most(2)(2.1)
    assert between(1, 3)(2) and not between(1, 3)(4)
    assert not at_least(0)(math.nan) and not at_most(1)(None)
    assert str(at_least(10)) == "x ≥ 10"


def test_claims_table_and_results_file(tmp_path):
    c = Claims("01_x", "survey", "course", "cpu", 3, tmp_path)
    c.declare("A", "a claim", "paper 1", at_least(10), unit="×")
    c.declare("B", "b claim", "paper 2", at_most(1))
    c.declare("C", "never measured", "paper 3", at_most(1))
    assert c.measure("A", 12.5) is True
    assert c.measure("B", 2.0, detail="too big") is False
    md = c.markdown()
    assert "| A | a claim | paper 1 | 12.5 | x ≥ 10 × | reproduced |" in md
    assert "not reproduced" in md and "not measured" in md
    doc = json.loads(c.save(extractor="E").read_text())
    assert doc["profile"] == "course" and doc["seed"] == 3 and doc["extra"]["extractor"] == "E"
    assert {"device", "device_name", "date", "wall_time_s", "commit", "versions"} <= set(doc)
    assert [r["passed"] for r in doc["claims"]] == [True, False, None]


def test_smoke_verdicts_are_marked():
    c = Claims("01_x", "survey", "smoke", "cpu", 0, ".")
    c.declare("A", "s", "p", at_least(1))
    c.measure("A", 2)
    assert "smoke scale" in c.rows()[0]["verdict"]


def test_criteria_cannot_be_redeclared_or_skipped():
    c = Claims("01_x", "survey", "course", "cpu", 0, ".")
    c.declare("A", "s", "p", at_least(1))
    with pytest.raises(CourseError, match="fixed before"):
        c.declare("A", "s", "p", at_least(0))
    with pytest.raises(CourseError, match="never declared"):
        c.measure("Z", 1.0)
