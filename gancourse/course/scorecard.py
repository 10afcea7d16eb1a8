"""The scorecard: every ``results.json`` of a run folder gathered into ``scorecard.md`` and
``scorecard.json``; a profile's seeds (``results/laptop/seed*/``) pooled claim by claim into verdicts
over training seeds (``pooling``), with a forest plot per notebook."""
from __future__ import annotations

import json
from pathlib import Path

from .. import CourseError
from . import pooling
from .results import RESULTS_FILE, atomic_write_text, claims_table, format_value, passed_rows


def scorecard(run_dir: Path, report: list[dict] | None = None) -> tuple[Path, Path]:
    """Gather every results.json under ``run_dir`` into scorecard.md / scorecard.json."""
    run_dir = Path(run_dir)
    results = [json.loads(p.read_text()) for p in sorted(run_dir.glob(f"*/{RESULTS_FILE}"))]
    lines = [f"# gancourse scorecard — {run_dir}", ""]
    if report:
        lines += ["| notebook | status | wall time (s) |", "|---|---|---|"]
        lines += [f"| {r['notebook']} | {'ok' if r['ok'] else 'FAILED at cell [' + str(r['cell']) + ']: ' + r['error'].splitlines()[0].replace('|', '/')} "
                  f"| {r['wall_time_s']} |" for r in report]
        lines.append("")
    for res in results:
        ok, n = passed_rows(res["claims"])
        lines += [f"## {res['notebook']} ({res['document']})",
                  f"profile {res['profile']}, device {res['device']} ({res['device_name']}), seed {res['seed']}, "
                  f"commit {res['commit']}, {res['date']}, {res['wall_time_s']} s — {ok}/{n} claims reproduced", "",
                  claims_table(res["claims"])]
    md, js = run_dir / "scorecard.md", run_dir / "scorecard.json"
    atomic_write_text(md, "\n".join(lines))
    atomic_write_text(js, json.dumps(dict(runs=report or [], results=results), indent=1))
    return md, js


def seeds_table(run_dirs: list[Path]) -> str:
    """One markdown table of every claim over several runs (e.g. seeds 0 and 1 of a profile): per run
    the measured value and verdict, then how many runs reproduced it."""
    runs = [(Path(d), {r["notebook"]: r for r in (json.loads(p.read_text()) for p in sorted(Path(d).glob(f"*/{RESULTS_FILE}")))})
            for d in run_dirs]
    notebooks = sorted({nb for _, res in runs for nb in res})
    head = "| notebook | claim | " + " | ".join(f"{d.name}" for d, _ in runs) + " | reproduced |"
    lines = [head, "|---" * (3 + len(runs)) + "|"]
    for nb in notebooks:
        ids = next(res[nb]["claims"] for _, res in runs if nb in res)
        for claim in ids:
            cells, held = [], 0
            for _, res in runs:
                row = next((c for c in res.get(nb, {}).get("claims", []) if c["id"] == claim["id"]), None)
                if row is None:
                    cells.append("—")
                    continue
                held += bool(row["passed"])
                cells.append(f"{format_value(row['measured'], row.get('sd', 0.0), row.get('n', 1))} "
                             f"({'yes' if row['passed'] else 'no'})")
            lines.append(f"| {nb} | {claim['id']}: {claim['statement']} | " + " | ".join(cells)
                         + f" | {held}/{sum(nb in res for _, res in runs)} |")
    return "\n".join(lines) + "\n"


# -- claims over training seeds ------------------------------------------------------------------------

def seed_runs(root: Path) -> dict[str, list[dict]]:
    """{notebook: [results of seed 0, 1, ...]} from ``root/seed*/NN_topic/results.json``."""
    runs: dict[str, list[dict]] = {}
    for path in sorted(Path(root).glob(f"seed*/*/{RESULTS_FILE}")):
        res = json.loads(path.read_text())
        runs.setdefault(res["notebook"], []).append(res)
    for results in runs.values():
        results.sort(key=lambda r: r["seed"])
    return runs


def pool_notebook(results: list[dict], profile: str, mixed_commits: bool = False) -> dict:
    """One notebook's claims pooled over its seeds; refuses runs made at different commits unless told."""
    commits = sorted({r["commit"] for r in results})
    if len(commits) > 1 and not mixed_commits:
        raise CourseError(f"{results[0]['notebook']}: its seeds ran at different commits ({', '.join(commits)}); "
                          "rerun them at one commit, or pool anyway with --mixed-commits (the table then says so)")
    profiles = sorted({r["profile"] for r in results})
    if profiles != [profile]:
        raise CourseError(f"{results[0]['notebook']}: its seeds ran under profiles {', '.join(profiles)}, not one "
                          f"({profile}): seeds pool only within a profile")
    ids = list(dict.fromkeys(c["id"] for r in results for c in r["claims"]))
    claims = []
    for cid in ids:
        rows = [{**c, "seed": r["seed"], "cpu_kind": r.get("cpu_kind")} for r in results for c in r["claims"] if c["id"] == cid]
        p = pooling.pool_claim(rows, profile)
        p["resolve"] = pooling.what_would_resolve(p)
        claims.append(p)
    counts = verdict_counts(claims)
    return dict(notebook=results[0]["notebook"], document=results[0]["document"], seeds=[r["seed"] for r in results],
                commits=commits, mixed_commits=len(commits) > 1, counts=counts, claims=claims,
                counts_by_kind={k: verdict_counts([c for c in claims if c["kind"] == k]) for k in ("claim", "check")},
                no_kind=sorted({c["id"] for r in results for c in r["claims"] if "kind" not in c}),
                groups=_groups(claims),
                runs=[dict(seed=r["seed"], commit=r["commit"], date=r["date"], machine=r.get("machine", r.get("device_name")),
                           cpu_kind=r.get("cpu_kind"), wall_time_s=r["wall_time_s"], timing=r.get("timing")) for r in results])


def verdict_counts(claims: list[dict]) -> dict:
    return {v: sum(c["verdict"] == v for c in claims) for v in (pooling.HOLDS, pooling.FAILS, pooling.UNRESOLVED)}


def _groups(claims: list[dict]) -> dict[str, list[str]]:
    """Claims measured on the same training runs, by the group name they declared."""
    out: dict[str, list[str]] = {}
    for c in claims:
        if c["shares_run"]:
            out.setdefault(c["shares_run"], []).append(c["id"])
    return out


def totals_line(pooled: list[dict]) -> str:
    """'x of y papers' claims hold (...); z of w checks hold (...)': the papers apart from the instruments."""
    parts = []
    for kind, word in (("claim", "papers' claims"), ("check", "checks of instruments and deterministic facts")):
        c = {v: sum(nb["counts_by_kind"][kind][v] for nb in pooled) for v in (pooling.HOLDS, pooling.FAILS, pooling.UNRESOLVED)}
        n = sum(sum(1 for p in nb["claims"] if p["kind"] == kind) for nb in pooled)
        parts.append(f"{c['holds']} of {n} {word} hold ({c['fails']} fail, {c['unresolved']} unresolved)")
    old = [f"{nb['notebook']} {', '.join(nb['no_kind'])}" for nb in pooled if nb.get("no_kind")]
    if old:   # seeds recorded before claims declared a kind: what they do not say is not guessed
        parts.append(f"counted as papers' claims because their seeds predate declared kinds: {'; '.join(old)}")
    return "; ".join(parts)


def _fmt(v) -> str:
    return "—" if v is None else f"{v:.4g}"


def _tags(p: dict) -> str:
    tags = [t for t, on in (("check", p["kind"] == "check"), ("machine-dependent", p["machine_dependent"])) if on]
    return f" *({', '.join(tags)})*" if tags else ""


def design_of(root: Path) -> dict[tuple[str, str], dict]:
    """(notebook, claim) → its plan in ``root/design.json`` (the power design), if there is one."""
    path = Path(root) / "design.json"
    if not path.exists():
        return {}
    return {(c["notebook"], c["id"]): c for c in json.loads(path.read_text())["claims"]}


def _seeds_cell(p: dict, plan: dict | None) -> str:
    if plan is None:
        return f"{p['n_seeds']}"
    return f"{p['n_seeds']} (design: N = {plan['N']})" if plan["N"] else f"{p['n_seeds']} (design: {plan['plan']})"


def resolve_cell(p: dict, plan: dict | None) -> str:
    """What would resolve an unresolved claim: the power design's plan once there is one (its N at 80 % power),
    else the scorecard's own rough estimate from the seeds at hand."""
    if plan is None or p["verdict"] != "unresolved":
        return p["resolve"]
    if not plan["N"]:
        return f"over the design's cap: {plan['why']}"
    if p["n_seeds"] < plan["N"]:
        return f"the design runs it to N = {plan['N']} seeds ({plan['plan']}; 80% power at the pilot's mean and spread)"
    return f"still unresolved after the design's N = {plan['N']} seeds: a bigger budget (course profile)"


def pooled_markdown(pooled: list[dict], root: Path, profile: str) -> str:
    design = design_of(root)
    lines = [f"# {profile} profile: claims over training seeds", "",
             f"Made by `python -m gancourse scorecard --seeds {root}`. Rule, fixed before the runs "
             f"(`gancourse/course/pooling.py`): {pooling.rule_text()}. Per-seed values are each seed's mean "
             "± its evaluation sd; the verdict of each seed alone stays in its own results.json. The criterion "
             "column is the one the pooled verdict tests; the paper's number stands beside each claim.", "",
             f"**Over all notebooks: {totals_line(pooled)}.** Checks (of an instrument, or of a fact that does "
             "not depend on training) are counted apart from the papers' claims; a machine-dependent claim is "
             "pooled only over seeds run on one kind of CPU.", "",
             "| notebook | seeds | commit | papers' claims: holds · fails · unresolved | checks: holds · fails · unresolved |",
             "|---|---|---|---|---|"]
    for nb in pooled:
        commit = ", ".join(nb["commits"]) + (" (**mixed commits**)" if nb["mixed_commits"] else "")
        cells = [" · ".join(str(nb["counts_by_kind"][k][v]) for v in (pooling.HOLDS, pooling.FAILS, pooling.UNRESOLVED))
                 if any(p["kind"] == k for p in nb["claims"]) else "—" for k in ("claim", "check")]
        lines.append(f"| {nb['notebook']} | {', '.join(map(str, nb['seeds']))} | {commit} | {cells[0]} | {cells[1]} |")
    for nb in pooled:
        seeds = nb["seeds"]
        lines += ["", f"## {nb['notebook']} ({nb['document']})", "",
                  f"![forest plot of {nb['notebook']}](forest/{nb['notebook']}.png)", "",
                  "| seed | commit | machine | CPU kind | wall time (s) | training | evaluation | plotting | other |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in nb["runs"]:
            t = r["timing"] or {}
            lines.append(f"| {r['seed']} | {r['commit']} | {r['machine']} | {r.get('cpu_kind') or 'not recorded'} | "
                         f"{r['wall_time_s']:g} | " + " | ".join(_fmt(t.get(k)) for k in ("training", "evaluation", "plotting", "other")) + " |")
        if nb.get("no_kind"):
            lines += ["", f"Seeds here were recorded before claims declared a kind (paper's claim or check): "
                      f"{', '.join(nb['no_kind'])} count as papers' claims until the notebook's seeds are rerun."]
        if nb.get("groups"):
            lines += ["", "Claims measured on the same training runs (their verdicts are not independent): "
                      + "; ".join(f"{', '.join(ids)} ({name})" for name, ids in nb["groups"].items()) + "."]
        lines += ["", "| claim | paper | criterion, as tested over seeds | " + " | ".join(f"seed {s}" for s in seeds)
                  + " | seeds used | mean over seeds [90% interval] | verdict over seeds | what would resolve it |",
                  "|---|---|---|" + "---|" * len(seeds) + "---|---|---|---|"]
        for p in nb["claims"]:
            by_seed = {s["seed"]: s for s in p["seeds"]}
            cells = []
            for s in seeds:
                v = by_seed.get(s)
                if v is None or v["value"] is None:
                    cells.append("—")
                    continue
                mark = "✓" if v["passed"] else "✗"
                cells.append(f"{_fmt(v['value'])}" + (f" ± {v['sd']:.2g}" if v["n"] > 1 else "") + f" {mark}")
            if p["rule"] == "every seed" and p["n_seeds"] > 1:
                interval = pooling.seeds_held_text(p)
            else:
                interval = (f"{_fmt(p['mean'])} [{_fmt(p['low'])}, {_fmt(p['high'])}]" if p["low"] is not None
                            else _fmt(p["mean"])) + (" (geometric)" if p["scale"] == "log" else "")
            lines.append(f"| {p['id']}: {p['statement'].replace('|', '/')}{_tags(p)} | {(p.get('paper') or '—').replace('|', '/')} | "
                         f"{p.get('tested', p['criterion'])} | " + " | ".join(cells)
                         + f" | {_seeds_cell(p, design.get((nb['notebook'], p['id'])))} | {interval} | **{p['verdict']}** | "
                         f"{resolve_cell(p, design.get((nb['notebook'], p['id'])))} |")
    return "\n".join(lines) + "\n"


def pooled_scorecard(root: Path, mixed_commits: bool = False, plots: bool = True) -> tuple[Path, Path]:
    """``root/scorecard.md`` and ``.json`` pooled over ``root/seed*/``, forest plots in ``root/forest/``."""
    root = Path(root)
    runs = seed_runs(root)
    if not runs:
        raise CourseError(f"no results under {root}/seed*/NN_topic/results.json")
    profile = next(iter(runs.values()))[0]["profile"]
    pooled = [pool_notebook(results, profile, mixed_commits) for _, results in sorted(runs.items())]
    if plots:
        from .viz import forest_plot
        (root / "forest").mkdir(exist_ok=True)
        for nb in pooled:
            forest_plot(nb, root / "forest" / f"{nb['notebook']}.png")
    md, js = root / "scorecard.md", root / "scorecard.json"
    atomic_write_text(md, pooled_markdown(pooled, root, profile))
    atomic_write_text(js, json.dumps(dict(profile=profile, rule=pooling.RULE, notebooks=pooled), indent=1))
    return md, js
