"""Claims judged over training seeds. A run's ± is the spread of evaluation draws of one trained model;
the spread between training seeds is usually far larger and decides whether a paper's effect is
visible at a scale (Lucic et al. 2018, "Are GANs Created Equal?"). The rule below is data, fixed
before the runs and the same for every claim; the per-seed verdicts stay as they are.

The rule (``RULE``):

- **Interval claims** (criteria on x, x − sd or x + sd): the seeds' values (each seed's mean over its
  evaluation draws) give a mean and a between-seed sd, and a two-sided 90 % t-interval for the mean
  (t with n − 1 degrees of freedom: a one-sided 95 % bound on whichever side the criterion looks at).
  Ratios (units with "×" or "ratio") are pooled on a log scale: the interval is the geometric mean's,
  so 0.5 and 2 pool to 1, not 1.25. **holds**: the whole interval passes the criterion's threshold;
  **fails**: the whole interval lies on the wrong side; **unresolved at this scale**: it straddles the
  threshold. The evaluation sd of each seed is shown, not added: the between-seed sd already holds it.
- **Every-value claims** ("each x ≥ a": counts and pass/fail, e.g. "3 of 3 damage kinds", or one
  number per training seed in notebook 03) cannot be averaged: **holds** when every seed holds, **fails**
  when none does, **unresolved** when the seeds disagree (more seeds cannot resolve that; a bigger
  budget might).
- One seed only: "one seed: not pooled". A value missing on a seed (not measured) is left out.

For an unresolved interval claim, ``seeds_needed`` is the smallest n for which the t-interval's
half-width, at the measured between-seed sd, would be smaller than the distance from the mean to the
threshold: whether more seeds would resolve it, or (beyond ``max_seeds``) only a bigger budget.
"""
from __future__ import annotations

import math

from scipy import stats

from .. import CourseError
from .results import Criterion

RULE = dict(
    interval="t",                     # Student t-interval of the mean over training seeds
    level=0.90,                       # two-sided: a one-sided 95 % bound on each side
    log_units=("×", "ratio"),         # units pooled on a log scale (geometric mean)
    every="all seeds hold → holds; none → fails; else unresolved",
    max_seeds=100,                    # beyond this, seeds_needed says "a bigger budget"
)
HOLDS, FAILS, UNRESOLVED, ONE_SEED, NOT_MEASURED = ("holds", "fails", "unresolved", "one seed: not pooled",
                                                    "not measured")
MACHINES_DIFFER = "not pooled: a machine-dependent claim measured on different kinds of CPU"


def rule_text() -> str:
    """The rule in one line, for tables and plots."""
    return (f"pooled over training seeds: {RULE['level']:.0%} t-interval of the mean (log scale for ratios); "
            "holds if it clears the threshold, fails if wholly on the wrong side, else unresolved; "
            "'each x' claims hold only if every seed holds")


def log_scale(unit: str, values: list[float]) -> bool:
    return any(u in (unit or "") for u in RULE["log_units"]) and all(v > 0 for v in values)


def t_interval(values: list[float], level: float = RULE["level"]) -> tuple[float, float, float, float]:
    """(mean, between-seed sd, low, high) of a t-interval for the mean of ``values`` (n ≥ 2)."""
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = stats.t.ppf(0.5 + level / 2, n - 1) * sd / math.sqrt(n)
    return mean, sd, mean - half, mean + half


def _side(crit: Criterion, lo: float, hi: float) -> str:
    """HOLDS when [lo, hi] passes entirely, FAILS when it lies entirely on the wrong side, else UNRESOLVED."""
    if crit.op == ">=":
        return HOLDS if lo >= crit.value else FAILS if hi < crit.value else UNRESOLVED
    if crit.op == "<=":
        return HOLDS if hi <= crit.value else FAILS if lo > crit.value else UNRESOLVED
    if crit.value <= lo and hi <= crit.high:
        return HOLDS
    return FAILS if (hi < crit.value or lo > crit.high) else UNRESOLVED


def seeds_needed(mean: float, sd: float, crit: Criterion, level: float = RULE["level"],
                 most: int = RULE["max_seeds"]) -> int | None:
    """Smallest n whose t-interval half-width t·sd/√n is below the mean's distance to the nearest
    threshold; None if even ``most`` seeds would not do."""
    edges = [crit.value] if crit.op != "between" else [crit.value, crit.high]
    gap = min(abs(mean - e) for e in edges)
    if sd == 0:
        return 2 if gap > 0 else None
    for n in range(2, most + 1):
        if stats.t.ppf(0.5 + level / 2, n - 1) * sd / math.sqrt(n) < gap:
            return n
    return None


SAME_ON_EVERY_SEED = ("statement", "unit", "kind", "machine_dependent")


def check_alike(rows: list[dict], profile: str) -> None:
    """Seeds pool only when they measured the same claim: the same statement, unit, kind and criterion."""
    first = rows[0]
    for r in rows[1:]:
        for key in SAME_ON_EVERY_SEED:
            if r.get(key) != first.get(key):
                raise CourseError(f"claim {first['id']}: seed {r.get('seed')} has {key} {r.get(key)!r}, seed "
                                  f"{first.get('seed')} {first.get(key)!r}: seeds pool only when they measured the "
                                  "same claim; rerun them at one commit")
        if r["criteria"].get(profile) != first["criteria"].get(profile):
            raise CourseError(f"claim {first['id']}: seed {r.get('seed')} was judged by {r['criteria'].get(profile)!r}, "
                              f"seed {first.get('seed')} by {first['criteria'].get(profile)!r}: criteria are fixed "
                              "before the runs, so seeds with different ones do not pool")


def as_tested(crit: Criterion, log: bool) -> str:
    """The criterion the pooled verdict tests (not the per-seed one): the mean's interval, or every seed."""
    if crit.every:
        return f"every seed: {crit}"
    plain = Criterion(crit.op, crit.value, crit.high)
    where = str(plain).replace("x", f"the mean's {RULE['level']:.0%} interval", 1)
    return where + (" (geometric)" if log else "")


def pool_claim(rows: list[dict], profile: str = "laptop") -> dict:
    """Pool one claim's rows (one per seed, as in results.json: measured, sd, n, values, criteria, passed,
    unit; plus ``seed``) into its verdict over seeds. Refuses rows that measured different claims, and pools a
    machine-dependent claim only over seeds of one kind of CPU (``cpu_kind``)."""
    check_alike(rows, profile)
    crit = Criterion.parse(rows[0]["criteria"][profile])
    seeds = [dict(seed=r.get("seed"), value=r["measured"], sd=r.get("sd", 0.0), n=r.get("n", 1),
                  passed=r.get("passed"), cpu_kind=r.get("cpu_kind")) for r in rows]
    measured = [s for s in seeds if s["value"] is not None and s["value"] == s["value"]]
    first = rows[0]
    out = dict(id=first["id"], statement=first["statement"], unit=first.get("unit", ""), paper=first.get("paper", ""),
               paper_value=first.get("paper_value"), kind=first.get("kind", "claim"),
               shares_run=first.get("shares_run", ""), machine_dependent=bool(first.get("machine_dependent")),
               criterion=str(crit), tested=as_tested(crit, False),
               threshold=[crit.value] if crit.op != "between" else [crit.value, crit.high],
               seeds=seeds, n_seeds=len(measured), rule="every seed" if crit.every else "interval",
               scale="linear", mean=None, sd_between=None, low=None, high=None, seeds_needed=None)
    kinds = {s["cpu_kind"] for s in measured}
    if out["machine_dependent"] and len(kinds) > 1:
        return {**out, "verdict": MACHINES_DIFFER}
    if not measured:
        return {**out, "verdict": NOT_MEASURED}
    values = [s["value"] for s in measured]
    if len(values) == 1:
        return {**out, "mean": values[0], "verdict": ONE_SEED}
    log = log_scale(out["unit"], values)
    out["tested"] = as_tested(crit, log)
    mean, sd, lo, hi = t_interval([math.log(v) for v in values] if log else values)
    back = math.exp if log else (lambda v: v)
    out.update(scale="log" if log else "linear", mean=back(mean), sd_between=sd, low=back(lo), high=back(hi))
    if crit.every:
        held = [bool(s["passed"]) for s in measured]
        out.update(verdict=HOLDS if all(held) else FAILS if not any(held) else UNRESOLVED, seeds_held=sum(held),
                   low=None, high=None)        # a count of seeds, not an interval
        return out
    out["verdict"] = _side(crit, out["low"], out["high"])
    if out["verdict"] == UNRESOLVED:
        if log:
            t_crit = Criterion(crit.op, math.log(crit.value) if crit.value > 0 else -math.inf,
                               math.log(crit.high) if crit.high else None)
            out["seeds_needed"] = seeds_needed(mean, sd, t_crit)
        else:
            out["seeds_needed"] = seeds_needed(mean, sd, crit)
    return out


def seeds_held_text(p: dict) -> str:
    """How an 'each x' claim pooled: a count of seeds that hold, not an interval."""
    return f"{p['seeds_held']} of {p['n_seeds']} seeds hold (every seed must)"


def what_would_resolve(p: dict) -> str:
    """One phrase for an unresolved claim: how many seeds, or a bigger budget."""
    if p["verdict"] != UNRESOLVED:
        return ""
    if p["rule"] == "every seed":
        return "the seeds disagree; more seeds cannot make every seed hold: a bigger budget (course profile)"
    n = p["seeds_needed"]
    side = "hold" if _side(Criterion.parse(p["criterion"]), p["mean"], p["mean"]) == HOLDS else "fail"
    if n is None:
        return f"more than {RULE['max_seeds']} seeds at this spread: a bigger budget (course profile)"
    return f"about {n} seeds at this spread would show it {side}s"
