"""``python -m gancourse``: run notebooks headless with papermill and gather a scorecard.

    python -m gancourse list
    python -m gancourse run [NOTEBOOK ...] --profile smoke|laptop|course|paper [-p KEY VALUE ...]
    python -m gancourse scorecard runs/smoke

``run`` executes each notebook into ``OUT/<profile>/<notebook>.ipynb`` with parameters
``profile``, ``out_dir`` (``OUT/<profile>/<notebook>/``), ``data_root`` and any ``-p``: a ``-p KEY``
that names a notebook parameter sets it, one that names a setting of the notebook's profile goes
into its ``overrides`` (``-p toy_steps 100``); anything else is refused with both lists. A failing
notebook is reported with its cell and the rest still run; the exit status is non-zero if any
failed. Every ``results.json`` found is gathered into ``scorecard.md`` and ``scorecard.json``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .. import CourseError
from ..profiles import PROFILES, check_profile
from .build import build_notebooks, course_notebooks, resolve, sync_notebooks
from .lab import lab
from .notebook import default_data_root
from .runner import _coerce, run_notebooks, run_parallel, shard
from .scorecard import pooled_scorecard, scorecard, seeds_table


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m gancourse", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="list the course notebooks and profiles")
    run = sub.add_parser("run", help="execute notebooks with papermill and write a scorecard")
    run.add_argument("notebooks", nargs="*", help="e.g. 00 01_gan_foundations (default: all)")
    run.add_argument("--profile", default="smoke", help=f"one of {', '.join(PROFILES)} (default smoke)")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"))
    run.add_argument("--out", default="runs", help="where executed notebooks and results go (default runs/)")
    run.add_argument("--data-root", default=None, help="prepared data sets (default $GANCOURSE_DATA, else the "
                     "course's data/)")
    run.add_argument("--fresh", action="store_true", help="delete earlier checkpoints of these notebooks first")
    run.add_argument("--log-output", action="store_true", help="stream cell output to this terminal")
    run.add_argument("--solutions", action="store_true", help="run the instructor version (exercises solved)")
    run.add_argument("--jobs", type=int, default=1, help="notebooks run side by side (one GPU each when there "
                     "are several; CPU threads split when not)")
    run.add_argument("--shard", default=None, metavar="I/N", help="run only the I-th of N shares of the notebooks "
                     "(for a cluster's array jobs); gather with `gancourse scorecard OUT/PROFILE`")
    run.add_argument("--claims", default=None, metavar="ID,ID", help="measure only these claims of one notebook "
                     "(e.g. 07 --claims A1,A3): cells that feed none of them are skipped; results.json lists those")
    run.add_argument("--report", default=None, help=argparse.SUPPRESS)
    gr = sub.add_parser("grade", help="instructors: release student notebooks, autograde submissions (nbgrader)")
    gsub = gr.add_subparsers(dest="grade_cmd", required=True)
    rel = gsub.add_parser("release", help="write COURSE_DIR/release/gancourse/*.ipynb for students")
    rel.add_argument("course_dir")
    rel.add_argument("notebooks", nargs="*", help="e.g. 01 05 (default: every notebook with exercises)")
    col = gsub.add_parser("collect", help="autograde SUBMISSIONS/<student>/*.ipynb into COURSE_DIR/grades.csv")
    col.add_argument("course_dir")
    col.add_argument("submissions")
    col.add_argument("--timeout", type=int, default=900, help="seconds a cell may run (default 900)")
    col.add_argument("--jobs", type=int, default=1, help="students graded side by side (default 1)")
    col.add_argument("--no-sandbox", action="store_true", help="grade without the bubblewrap sandbox (unsafe: "
                     "a submission can read the solutions and touch other students' work; every status says so)")
    lb = sub.add_parser("lab", help="start JupyterLab on the course (what `make lab` runs)")
    lb.add_argument("--port", type=int, default=8888)
    sc = sub.add_parser("scorecard", help="gather results.json files under a run folder (several: one table of "
                        "seeds; --seeds ROOT: pool ROOT/seed*/ into verdicts over seeds, with forest plots)")
    sc.add_argument("run_dir", nargs="+")
    sc.add_argument("--seeds", action="store_true", help="RUN_DIR holds seed0/, seed1/, ...: pool each notebook's "
                    "claims over its training seeds into RUN_DIR/scorecard.md, .json and forest/")
    sc.add_argument("--mixed-commits", action="store_true", help="pool seeds of one notebook run at different "
                    "commits (refused otherwise; the table says so)")
    ds = sub.add_parser("design", help="the power design: from ROOT/scorecard.json (the pilot, pooled), the seeds each "
                        "unresolved claim needs, into ROOT/design.json and design.md before any extra seed: each notebook "
                        "designed once, never replaced")
    ds.add_argument("root")
    ds.add_argument("notebooks", nargs="*", help="only these notebooks' claims (default: all)")
    sy = sub.add_parser("sync", help="regenerate the learner notebooks notebooks/*.ipynb from notebooks/source/*.py")
    sy.add_argument("--check", action="store_true", help="only report committed notebooks that are out of date")
    bd = sub.add_parser("build", help="write notebooks built from their sources into a folder")
    bd.add_argument("dest")
    bd.add_argument("notebooks", nargs="*", help="e.g. 01 02 (default: all)")
    bd.add_argument("--solutions", action="store_true", help="the instructor version (solutions in)")
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
        if args.cmd == "grade":
            from . import grading
            if args.grade_cmd == "release":
                for p in grading.release(Path(args.course_dir), resolve(args.notebooks)):
                    print(f"student notebook: {p}")
            else:
                out = grading.collect(Path(args.course_dir), Path(args.submissions), args.timeout, jobs=args.jobs,
                                      sandbox=not args.no_sandbox)
                print(out.read_text())
                print(f"gradebook: {out}; feedback: {Path(args.course_dir) / 'feedback'}")
            return 0
        if args.cmd == "lab":
            return lab(args.port)
        if args.cmd == "design":
            from .power import write_design
            js, md = write_design(Path(args.root), [resolve([n])[0].stem for n in args.notebooks] or None)
            print(md.read_text())
            print(f"design: {js} and {md} (commit them before the first extra seed)")
            return 0
        if args.cmd == "build":
            for p in build_notebooks(resolve(args.notebooks), Path(args.dest), args.solutions):
                print(f"wrote {p}")
            return 0
        if args.cmd == "scorecard":
            if args.seeds:
                md, _ = pooled_scorecard(Path(args.run_dir[0]), mixed_commits=args.mixed_commits)
                print(md.read_text())
                return 0
            if len(args.run_dir) > 1:
                print(seeds_table([Path(d) for d in args.run_dir]))
                return 0
            md, _ = scorecard(Path(args.run_dir[0]))
            print(md.read_text())
            return 0
        check_profile(args.profile)
        args.data_root = args.data_root or str(default_data_root())
        notebooks = resolve(args.notebooks)
        params = {k: _coerce(v) for k, v in args.parameter}
        reserved = {"profile", "out_dir", "data_root"} & set(params)
        if reserved:
            raise CourseError(f"set {sorted(reserved)} with --profile / --out / --data-root, not -p")
        if args.claims:
            if len(notebooks) != 1:
                raise CourseError("--claims picks claims of one notebook: name it, e.g. gancourse run 07 --claims A1,A3")
            if "claim_ids" in params:
                raise CourseError("give the claims once: --claims A1,A3 (not also -p claim_ids)")
            params["claim_ids"] = args.claims
        notebooks = shard(notebooks, args.shard)
        if args.jobs > 1 and len(notebooks) > 1:
            report = run_parallel(notebooks, args, params)
        else:
            report = run_notebooks(notebooks, args.profile, Path(args.out), args.data_root, params,
                                   fresh=args.fresh, log_output=args.log_output, solutions=args.solutions)
        if args.report:
            Path(args.report).write_text(json.dumps(report))
            return 0 if all(r["ok"] for r in report) else 1
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
