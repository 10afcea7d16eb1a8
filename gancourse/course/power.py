"""How many seeds a claim needs: a power design from the pilot, fixed before any extra seed.

The method is Colas, Sigaud & Oudeyer (2018), "How Many Random Seeds? Statistical Power Analysis in Deep RL
Experiments": a pilot of a few seeds estimates the spread between seeds; a power analysis fixes the number
of seeds N; exactly N are then run and tested by the rule fixed before (``pooling``), with no stopping early
because a verdict looks settled and no extra seeds because it does not.

The pooled verdict of an interval claim holds when the two-sided 90 % t-interval of the mean over seeds
clears the threshold, i.e. when a one-sided t-test at α = 5 % rejects "the mean is at the threshold" on
the side the pilot's mean lies. Its power with n seeds, if the true mean and between-seed sd are the
pilot's, is that of a one-sample t-test with effect size d = |mean − threshold| / sd: P(T > t_{1−α, n−1})
for T non-central t with n − 1 degrees of freedom and non-centrality d·√n (scipy's ``nct``; the test
checks it against Cohen's table: d = 0.5 needs 27 seeds for 80 % power one-sided at α = 5 %). N is the
smallest n with power ≥ 0.8, at least the pilot's seeds and at most ``CAP``; a claim needing more is not
run further: it needs a larger budget (the course profile). Ratios are designed on the log scale they
pool on. "Every seed" claims whose seeds disagree cannot be resolved by more seeds (one failing seed
fails them): a larger budget too.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from scipy import stats

from .. import CourseError
from . import pooling
from .results import Criterion, atomic_write_text

POWER, ALPHA, CAP = 0.80, 0.05, 12
DESIGN_FILE = "design.json"


def power(d: float, n: int, alpha: float = ALPHA) -> float:
    """Power of the one-sided one-sample t-test at level ``alpha`` with ``n`` values, effect size ``d``."""
    if n < 2:
        return 0.0
    df = n - 1
    return float(stats.nct.sf(stats.t.ppf(1 - alpha, df), df, abs(d) * math.sqrt(n)))


def seeds_for(d: float, at_least: int = 2, cap: int = CAP, target: float = POWER, alpha: float = ALPHA) -> int | None:
    """The smallest n (from ``at_least``) whose power reaches ``target``; None beyond ``cap``."""
    for n in range(max(2, at_least), cap + 1):
        if power(d, n, alpha) >= target:
            return n
    return None


def plan_claim(p: dict) -> dict:
    """One unresolved pooled claim (``pooling.pool_claim``) → its plan: N, or why no N."""
    crit = Criterion.parse(p["criterion"])
    n_pilot = p["n_seeds"]
    out = dict(id=p["id"], statement=p["statement"], criterion=p["criterion"], tested=p.get("tested", p["criterion"]),
               pilot_seeds=[s["seed"] for s in p["seeds"] if s["value"] is not None], pilot_verdict=p["verdict"],
               scale=p["scale"], mean=p["mean"], sd_between=p["sd_between"], effect_size=None, power_at_cap=None, N=None)
    if p["rule"] == "every seed":
        return {**out, "plan": "larger budget", "why": "the seeds disagree on an 'every seed' claim: one failing seed "
                "fails it whatever else runs, so more seeds cannot resolve it (course profile)"}
    log = p["scale"] == "log"
    edges = [crit.value] if crit.op != "between" else [crit.value, crit.high]
    if log:
        edges = [math.log(e) if e > 0 else -math.inf for e in edges]
    mean = math.log(p["mean"]) if log else p["mean"]
    gap = min(abs(mean - e) for e in edges)
    if not p["sd_between"]:
        return {**out, "plan": "larger budget", "why": "no spread between the pilot seeds to plan from"}
    d = gap / p["sd_between"]
    n = seeds_for(d, at_least=n_pilot + 1)
    out.update(effect_size=round(d, 4), power_at_cap=round(power(d, CAP), 4))
    if n is None:
        return {**out, "plan": "larger budget", "why": f"{CAP} seeds would give {power(d, CAP):.0%} power (d = {d:.2f}); "
                f"Cohen's d this small needs {_beyond_cap(d)} seeds: the course profile, not more laptop seeds"}
    side = "holds" if pooling._side(crit, p["mean"], p["mean"]) == pooling.HOLDS else "fails"
    return {**out, "N": n, "plan": f"seeds {n_pilot}–{n - 1}", "why": f"power {power(d, n):.0%} at N = {n} (d = {d:.2f}) "
            f"to show it {side}, if the true mean and spread are the pilot's"}


def _beyond_cap(d: float) -> str:
    n = seeds_for(d, cap=10_000)
    return f"about {n:,}" if n else "more than 10,000"


def make_design(scorecard_json: Path, notebooks: list[str] | None = None) -> dict:
    """The plan for every unresolved claim of a pooled scorecard (``gancourse scorecard --seeds``)."""
    pooled = json.loads(Path(scorecard_json).read_text())
    plans, designed = [], []
    for nb in pooled["notebooks"]:
        if notebooks and nb["notebook"] not in notebooks:
            continue
        designed.append(dict(notebook=nb["notebook"], commit=", ".join(nb["commits"]), source=str(scorecard_json)))
        for p in nb["claims"]:
            if p["verdict"] == pooling.UNRESOLVED:
                plans.append(dict(notebook=nb["notebook"], commit=", ".join(nb["commits"]), **plan_claim(p)))
    return dict(method=__doc__.split("\n\n")[0], power=POWER, alpha=ALPHA, cap=CAP, rule=pooling.RULE,
                source=str(scorecard_json), notebooks=designed, claims=plans, runs=planned_runs(plans))


def planned_runs(plans: list[dict]) -> list[dict]:
    """Each extra seed of each notebook, with the claims that need it (those whose N is above that seed)."""
    runs = []
    for nb in dict.fromkeys(p["notebook"] for p in plans):
        mine = [p for p in plans if p["notebook"] == nb and p["N"]]
        if not mine:
            continue
        first = min(len(p["pilot_seeds"]) for p in mine)
        for seed in range(first, max(p["N"] for p in mine)):
            runs.append(dict(notebook=nb, seed=seed, claims=[p["id"] for p in mine if p["N"] > seed]))
    return runs


def design_markdown(design: dict) -> str:
    lines = ["# Power design: the seeds each unresolved claim gets, fixed before any of them runs", "",
             "From each notebook's pilot, pooled (" + "; ".join(f"{n['notebook']} at {n['commit']}" for n in
                                                         design.get("notebooks", [])) + f"; `{design['source']}`). "
             "Each notebook is designed once, when its pilot is in; its plan is never edited. Method (`gancourse/course/power.py`): "
             f"N is the smallest number of seeds with {design['power']:.0%} power for the pooled 90 % interval to clear "
             f"the threshold (a one-sided t-test at α = {design['alpha']:.0%}), if the true mean and between-seed sd are "
             f"the pilot's; at most {design['cap']} seeds; ratios on the log scale they pool on. Committed before the "
             "first extra seed and not edited after; exactly these seeds run, each with only the claims that need it "
             "(`gancourse run NB --claims ...`), and the verdict over all N seeds is the pooling rule's.", "",
             "| notebook | claim | pilot seeds | pilot mean [scale] | between-seed sd | effect size d | N | plan | why; what would change the plan |",
             "|---|---|---|---|---|---|---|---|---|"]
    for c in design["claims"]:
        mean = "—" if c["mean"] is None else f"{c['mean']:.4g} [{c['scale']}]"
        sd = "—" if c["sd_between"] is None else f"{c['sd_between']:.3g}"
        d = "—" if c["effect_size"] is None else f"{c['effect_size']:.2f}"
        change = (" A different spread would: N follows d = |mean − threshold| / sd, and the pilot's three seeds "
                  "estimate the sd roughly." if c["N"] else "")
        lines.append(f"| {c['notebook']} | {c['id']}: {c['statement'].replace('|', '/')} | {', '.join(map(str, c['pilot_seeds']))} "
                     f"| {mean} | {sd} | {d} | {c['N'] or '—'} | {c['plan']} | {c['why']}.{change} |")
    lines += ["", "## The runs this plans", "",
              "Each seed in the pilot's commit, on the laptop profile, one at a time, with only the claims that need it:", ""]
    for r in design["runs"]:
        lines.append(f"- `gancourse run {r['notebook'][:2]} --profile laptop -p seed {r['seed']} --claims {','.join(r['claims'])} "
                     f"--out runs/seed{r['seed']}` (then into `results/laptop/seed{r['seed']}/`)")
    if not design["runs"]:
        lines.append("- none: no unresolved claim can be resolved within the cap")
    return "\n".join(lines) + "\n"


def write_design(root: Path, notebooks: list[str] | None = None) -> tuple[Path, Path]:
    """``root/design.json`` and ``design.md`` from ``root/scorecard.json``: the plan of each notebook not designed
    yet (default: every notebook of the scorecard). A notebook's plan is fixed before the extra seeds it plans and
    never replaced; a notebook whose pilot finishes later is added beside the others, which stay as they were."""
    root = Path(root)
    js, md = root / DESIGN_FILE, root / "design.md"
    old = json.loads(js.read_text()) if js.exists() else None
    done = {n["notebook"] for n in old["notebooks"]} if old else set()
    if old and "notebooks" not in old:
        raise CourseError(f"{js} predates per-notebook designs: it is fixed and never edited")
    design = make_design(root / "scorecard.json", notebooks)
    again = sorted(done & {n["notebook"] for n in design["notebooks"]})
    if again and (notebooks or not set(n["notebook"] for n in design["notebooks"]) - done):
        raise CourseError(f"{js} already designs {', '.join(again)}: a power design is fixed before the seeds it "
                          f"plans and never edited after")
    if old:
        keep = lambda rows: [r for r in rows if r["notebook"] not in done]
        design = dict(old, notebooks=old["notebooks"] + keep(design["notebooks"]), claims=old["claims"] + keep(design["claims"]),
                      runs=old["runs"] + keep(design["runs"]))
    atomic_write_text(js, json.dumps(design, indent=1))
    atomic_write_text(md, design_markdown(design))
    return js, md
