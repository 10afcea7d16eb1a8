"""``python -m gancourse``: run notebooks headless with papermill and gather a scorecard.

    python -m gancourse list
    python -m gancourse run [NOTEBOOK ...] --profile smoke|course|paper [-p KEY VALUE ...]
    python -m gancourse scorecard runs/smoke

``run`` executes each notebook into ``OUT/<profile>/<notebook>.ipynb`` with parameters
``profile``, ``out_dir`` (``OUT/<profile>/<notebook>/``), ``data_root`` and any ``-p``; a failing
notebook is reported with its cell and the rest still run; the exit status is non-zero if any
failed. Every ``results.json`` found is gathered into ``scorecard.md`` and ``scorecard.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

from . import CourseError
from .profiles import PROFILES, check_profile
from .results import RESULTS_FILE, passed_rows

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"


def course_notebooks(nb_dir: Path = NOTEBOOK_DIR) -> list[Path]:
    return sorted(p for p in nb_dir.glob("[0-9][0-9]_*.ipynb"))


def resolve(names: list[str], nb_dir: Path = NOTEBOOK_DIR) -> list[Path]:
    """'01', '01_gan_foundations', '01_gan_foundations.ipynb' or a path → notebook paths."""
    known = course_notebooks(nb_dir)
    if not names:
        return known
    out = []
    for name in names:
        p = Path(name)
        if p.suffix == ".ipynb" and p.exists():
            out.append(p)
            continue
        match = [k for k in known if k.stem == p.stem or k.stem.split("_")[0] == name]
        if len(match) != 1:
            raise CourseError(f"unknown notebook {name!r}; valid: {', '.join(k.stem for k in known)}")
        out.append(match[0])
    return out


def _coerce(value: str):
    """-p values: ints, floats, true/false/none, else strings (as papermill's CLI does)."""
    low = value.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def run_notebooks(notebooks: list[Path], profile: str, out_root: Path, data_root: str,
                  params: dict, fresh: bool = False, log_output: bool = False) -> list[dict]:
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    check_profile(profile)
    out_root = Path(out_root) / profile
    out_root.mkdir(parents=True, exist_ok=True)
    # Progress bars: one line a minute in batch logs, not a torrent of carriage returns.
    os.environ.setdefault("TQDM_MININTERVAL", "60")
    report = []
    for nb in notebooks:
        declared = pm.inspect_notebook(str(nb))
        unknown = sorted(set(params) - set(declared))
        if unknown:
            raise CourseError(f"{nb.stem} has no parameter(s) {unknown}; its parameters: {', '.join(declared)}")
    for nb in notebooks:
        out_dir = out_root / nb.stem
        if fresh and out_dir.exists():
            shutil.rmtree(out_dir)
        parameters = dict(profile=profile, out_dir=str(out_dir.resolve()),
                          data_root=str(Path(data_root).resolve()), **params)
        start = time.time()
        entry = dict(notebook=nb.stem, output=str(out_root / nb.name), ok=True)
        print(f"[{profile}] {nb.stem} ...", flush=True)
        try:
            pm.execute_notebook(str(nb), str(out_root / nb.name), parameters=parameters,
                                kernel_name="python3", cwd=str(nb.parent), progress_bar=False,
                                log_output=log_output, report_mode=False)
        except PapermillExecutionError as exc:
            entry.update(ok=False, cell=exc.exec_count, cell_index=exc.cell_index, error=f"{exc.ename}: {exc.evalue}".strip())
        except Exception as exc:  # kernel died, missing kernel, bad notebook
            entry.update(ok=False, cell=None, error=f"{exc.__class__.__name__}: {exc}")
        entry["wall_time_s"] = round(time.time() - start, 1)
        status = "ok" if entry["ok"] else f"FAILED at cell [{entry['cell']}]: {entry['error'].splitlines()[0]}"
        print(f"[{profile}] {nb.stem}: {status} ({entry['wall_time_s']} s) -> {entry['output']}", flush=True)
        report.append(entry)
    return report


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
                  "| id | claim | paper | measured | criterion | verdict |", "|---|---|---|---|---|---|"]
        for r in res["claims"]:
            m = "—" if r["measured"] is None else format(r["measured"], ".4g")
            lines.append(f"| {r['id']} | {r['statement']} | {r['paper']} | {m} | {r['criterion']} | {r['verdict']} |")
        lines.append("")
    md, js = run_dir / "scorecard.md", run_dir / "scorecard.json"
    md.write_text("\n".join(lines))
    js.write_text(json.dumps(dict(runs=report or [], results=results), indent=1))
    return md, js


def sync_notebooks(nb_dir: Path = NOTEBOOK_DIR, check: bool = False) -> list[Path]:
    """Write each notebooks/NN_*.ipynb from its reviewed source NN_*.py (jupytext percent format),
    without outputs and with stable cell ids so that diffs stay readable. With ``check``, write
    nothing and return the notebooks that are out of date."""
    import jupytext
    import nbformat
    stale = []
    for src in sorted(nb_dir.glob("[0-9][0-9]_*.py")):
        nb = jupytext.read(src)
        nb.metadata.pop("jupytext", None)
        nb.metadata["language_info"] = {"name": "python"}
        for i, cell in enumerate(nb.cells):
            cell.id = f"c{i:02d}"
        text = nbformat.writes(nb) + "\n"
        dest = src.with_suffix(".ipynb")
        if not dest.exists() or dest.read_text() != text:
            stale.append(dest)
            if not check:
                dest.write_text(text)
    return stale


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m gancourse", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="list the course notebooks and profiles")
    run = sub.add_parser("run", help="execute notebooks with papermill and write a scorecard")
    run.add_argument("notebooks", nargs="*", help="e.g. 00 01_gan_foundations (default: all)")
    run.add_argument("--profile", default="smoke", help=f"one of {', '.join(PROFILES)} (default smoke)")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"))
    run.add_argument("--out", default="runs", help="where executed notebooks and results go (default runs/)")
    run.add_argument("--data-root", default="data", help="prepared data sets (default data/)")
    run.add_argument("--fresh", action="store_true", help="delete earlier checkpoints of these notebooks first")
    run.add_argument("--log-output", action="store_true", help="stream cell output to this terminal")
    sc = sub.add_parser("scorecard", help="gather results.json files under a run folder")
    sc.add_argument("run_dir")
    sy = sub.add_parser("sync", help="regenerate notebooks/*.ipynb from notebooks/*.py")
    sy.add_argument("--check", action="store_true", help="only report notebooks that are out of date")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "list":
            for nb in course_notebooks():
                print(nb.stem)
            print("\nprofiles:")
            for k, v in PROFILES.items():
                print(f"  {k:7s} {v}")
            return 0
        if args.cmd == "sync":
            stale = sync_notebooks(check=args.check)
            for p in stale:
                print(("out of date: " if args.check else "wrote ") + str(p))
            return 1 if (args.check and stale) else 0
        if args.cmd == "scorecard":
            md, _ = scorecard(Path(args.run_dir))
            print(md.read_text())
            return 0
        check_profile(args.profile)
        notebooks = resolve(args.notebooks)
        params = {k: _coerce(v) for k, v in args.parameter}
        reserved = {"profile", "out_dir", "data_root"} & set(params)
        if reserved:
            raise CourseError(f"set {sorted(reserved)} with --profile / --out / --data-root, not -p")
        report = run_notebooks(notebooks, args.profile, Path(args.out), args.data_root, params,
                               fresh=args.fresh, log_output=args.log_output)
        md, js = scorecard(Path(args.out) / args.profile, report)
        print(f"\nscorecard: {md} and {js}")
        failed = [r["notebook"] for r in report if not r["ok"]]
        if failed:
            print(f"{len(failed)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
            return 1
        return 0
    except CourseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
