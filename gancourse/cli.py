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
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

from . import CourseError
from .profiles import PROFILES, check_profile, setting_names
from .results import RESULTS_FILE, atomic_write_text, claims_table, passed_rows

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
SOURCE_DIR = NOTEBOOK_DIR / "source"


def course_notebooks(src_dir: Path = SOURCE_DIR) -> list[Path]:
    """The course's notebook sources, notebooks/source/NN_topic.py, in order."""
    return sorted(p for p in src_dir.glob("[0-9][0-9]_*.py"))


def resolve(names: list[str], src_dir: Path = SOURCE_DIR) -> list[Path]:
    """'01', '01_gan_foundations', '01_gan_foundations.ipynb' → its source; a path to an .ipynb as it is."""
    known = course_notebooks(src_dir)
    if not names:
        return known
    out = []
    for name in names:
        p = Path(name)
        if p.suffix == ".ipynb" and p.exists() and p.parent.resolve() != NOTEBOOK_DIR.resolve():
            out.append(p)
            continue
        match = [k for k in known if k.stem == p.stem or k.stem.split("_")[0] == name]
        if len(match) != 1:
            raise CourseError(f"unknown notebook {name!r}; valid: {', '.join(k.stem for k in known)}")
        out.append(match[0])
    return out


def build_notebook(src: Path, solutions: bool = False):
    """The notebook of a source (jupytext percent format): no outputs, stable cell ids; with
    ``solutions=False`` (the learner's and student's version) every solution region is a stub."""
    import jupytext
    from .exercises import strip_solutions
    nb = jupytext.read(src)
    nb.metadata.pop("jupytext", None)
    nb.metadata["language_info"] = {"name": "python"}
    for i, cell in enumerate(nb.cells):
        cell.id = f"c{i:02d}"
        if cell.cell_type == "code" and not solutions:
            cell.source = strip_solutions(cell.source)
    return nb


def build_notebooks(sources: list[Path], dest: Path, solutions: bool = False) -> list[Path]:
    """Write the notebooks of ``sources`` into ``dest`` (instructor copies with ``solutions``)."""
    import nbformat
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for src in sources:
        if src.suffix == ".ipynb":
            out.append(src)
            continue
        path = dest / f"{src.stem}.ipynb"
        nbformat.write(build_notebook(src, solutions), path)
        out.append(path)
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


def split_parameters(nb: Path, declared: dict, params: dict) -> tuple[dict, dict]:
    """``-p`` values → (notebook parameters, profile-setting overrides) for one notebook."""
    settings = set(setting_names(nb.stem))
    direct = {k: v for k, v in params.items() if k in declared}
    overrides = {k: v for k, v in params.items() if k not in declared and k in settings}
    return direct, overrides


def run_notebooks(notebooks: list[Path], profile: str, out_root: Path, data_root: str,
                  params: dict, fresh: bool = False, log_output: bool = False, solutions: bool = False) -> list[dict]:
    """Execute notebooks with papermill. Course notebooks are built from their sources first (the
    learner's version, or the instructor's with ``solutions``), never taken from notebooks/*.ipynb,
    which a learner may have edited."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    check_profile(profile)
    out_root = Path(out_root) / profile
    out_root.mkdir(parents=True, exist_ok=True)
    notebooks = build_notebooks(notebooks, out_root / ".inputs", solutions)
    # Progress bars: plain text, one line a minute in batch logs (no widgets, no carriage-return torrent).
    os.environ.setdefault("TQDM_MININTERVAL", "60")
    os.environ.setdefault("GANCOURSE_PROGRESS", "text")
    plan = []
    for nb in notebooks:
        declared = pm.inspect_notebook(str(nb))
        direct, overrides = split_parameters(nb, declared, params)
        used = set(direct) | set(overrides)
        plan.append((nb, direct, overrides, declared, used))
    known_anywhere = set().union(*(u for *_, u in plan)) if plan else set()
    unknown = sorted(set(params) - known_anywhere)
    if unknown:
        nb, _, _, declared, _ = plan[0]
        settings = setting_names(nb.stem)
        raise CourseError(f"{nb.stem} has no parameter(s) {unknown}; its parameters: {', '.join(declared)}"
                          + (f"; its settings (-p KEY VALUE overrides them): {', '.join(settings)}" if settings else ""))
    report = []
    previous = signal.signal(signal.SIGTERM, _interrupt) if threading.current_thread() is threading.main_thread() else None
    try:
        for nb, direct, overrides, declared, _ in plan:
            entry = _run_one(pm, PapermillExecutionError, nb, direct, overrides, declared, out_root, profile, data_root,
                             fresh, log_output)
            report.append(entry)
            if entry.get("interrupted"):
                break
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return report


def _interrupt(signum, frame):
    """SIGTERM (a scheduler's or a user's kill) becomes KeyboardInterrupt, so papermill writes the output
    notebook as far as it ran; checkpoints are already on disk."""
    raise KeyboardInterrupt


def _run_one(pm, PapermillExecutionError, nb: Path, direct: dict, overrides: dict, declared: dict, out_root: Path,
             profile: str, data_root, fresh: bool, log_output: bool) -> dict:
    """Execute one notebook; the report entry says ok, or where it failed, or that it was interrupted."""
    out_dir = out_root / nb.stem
    if fresh and out_dir.exists():
        shutil.rmtree(out_dir)
    parameters = dict(profile=profile, out_dir=str(out_dir.resolve()),
                      data_root=str(Path(data_root).resolve()), **direct)
    if overrides:
        if "overrides" not in declared:
            raise CourseError(f"{nb.stem} takes no overrides parameter; cannot set {sorted(overrides)}")
        parameters["overrides"] = overrides
    start = time.time()
    entry = dict(notebook=nb.stem, output=str(out_root / nb.name), ok=True)
    print(f"[{profile}] {nb.stem} ...", flush=True)
    try:
        pm.execute_notebook(str(nb), str(out_root / nb.name), parameters=parameters,
                            kernel_name="python3", cwd=str(NOTEBOOK_DIR if nb.parent.name == ".inputs" else nb.parent),
                            progress_bar=False,
                            log_output=log_output, report_mode=False)
    except PapermillExecutionError as exc:
        entry.update(ok=False, cell=exc.exec_count, cell_index=exc.cell_index, error=f"{exc.ename}: {exc.evalue}".strip())
    except KeyboardInterrupt:
        entry.update(ok=False, cell=None, interrupted=True,
                     error="interrupted (SIGTERM or Ctrl-C); rerun the same command to resume from the last checkpoint")
    except Exception as exc:  # kernel died, missing kernel, bad notebook
        entry.update(ok=False, cell=None, error=f"{exc.__class__.__name__}: {exc}")
    entry["wall_time_s"] = round(time.time() - start, 1)
    status = "ok" if entry["ok"] else f"FAILED at cell [{entry['cell']}]: {entry['error'].splitlines()[0]}"
    print(f"[{profile}] {nb.stem}: {status} ({entry['wall_time_s']} s) -> {entry['output']}", flush=True)
    return entry


def shard(notebooks: list[Path], spec: str | None) -> list[Path]:
    """``I/N``: the notebooks at positions I−1, I−1+N, ... (1-based I), so N machines split the course."""
    if spec is None:
        return notebooks
    try:
        i, n = (int(v) for v in spec.split("/"))
    except ValueError:
        raise CourseError(f"--shard takes I/N with 1 ≤ I ≤ N, e.g. 2/4; not {spec!r}") from None
    if not 1 <= i <= n:
        raise CourseError(f"--shard takes I/N with 1 ≤ I ≤ N, e.g. 2/4; not {spec!r}")
    return notebooks[i - 1::n]


def job_environments(jobs: int, n_gpus: int | None = None, cores: int | None = None) -> list[dict]:
    """The environment of each of ``jobs`` side-by-side runs: one GPU each (round robin) when there
    are GPUs, else an equal share of the CPU's threads."""
    if n_gpus is None:
        import torch
        n_gpus = torch.cuda.device_count()
    cores = cores or os.cpu_count() or 1
    if n_gpus:
        return [{"CUDA_VISIBLE_DEVICES": str(j % n_gpus)} for j in range(jobs)]
    threads = str(max(1, cores // jobs))
    return [{"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads} for _ in range(jobs)]


def run_parallel(notebooks: list[Path], args, params: dict) -> list[dict]:
    """``--jobs N``: each notebook in its own ``gancourse run`` process, at most N at a time."""
    import subprocess
    import tempfile
    from concurrent.futures import ThreadPoolExecutor
    envs = job_environments(args.jobs)
    tmp = Path(tempfile.mkdtemp(prefix="gancourse-jobs-"))

    def one(i_nb):
        i, nb = i_nb
        env = {**os.environ, **envs[i % len(envs)]}
        report = tmp / f"{i}.json"
        cmd = [sys.executable, "-m", "gancourse", "run", str(nb if nb.suffix == ".ipynb" else nb.stem),
               "--profile", args.profile, "--out", str(args.out), "--data-root", str(args.data_root),
               "--report", str(report), *(["--fresh"] if args.fresh else []),
               *(["--solutions"] if args.solutions else []), *(["--log-output"] if args.log_output else [])]
        for k, v in params.items():
            cmd += ["-p", k, json.dumps(v) if not isinstance(v, str) else v]
        subprocess.run(cmd, env=env, cwd=Path.cwd())
        if report.exists():
            return json.loads(report.read_text())
        return [dict(notebook=nb.stem, output="", ok=False, cell=None, error="the job died", wall_time_s=0.0)]

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(one, enumerate(notebooks)))
    return [entry for part in results for entry in part]


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
    from .results import format_value
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


def sync_notebooks(src_dir: Path = SOURCE_DIR, dest_dir: Path = NOTEBOOK_DIR, check: bool = False) -> list[Path]:
    """Write each learner notebook notebooks/NN_*.ipynb from its source notebooks/source/NN_*.py
    (solutions stubbed, no outputs, stable cell ids). With ``check``, write nothing and return the
    notebooks whose committed version differs (``git show HEAD:...``, so a learner's saved copy
    never counts as drift; the working copy outside git)."""
    import nbformat
    stale = []
    for src in course_notebooks(src_dir):
        text = nbformat.writes(build_notebook(src)) + "\n"
        dest = dest_dir / f"{src.stem}.ipynb"
        current = committed_text(dest) if check else (dest.read_text() if dest.exists() else None)
        if current != text:
            stale.append(dest)
            if not check:
                dest.write_text(text)
    return stale


def committed_text(path: Path) -> str | None:
    """A file as committed at HEAD (None if it is not); outside a git checkout, as on disk."""
    import subprocess
    root = Path(__file__).resolve().parent.parent
    if subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True).returncode != 0:
        return path.read_text() if path.exists() else None
    rel = path.resolve().relative_to(root).as_posix()
    r = subprocess.run(["git", "show", f"HEAD:{rel}"], cwd=root, capture_output=True, text=True)
    return r.stdout if r.returncode == 0 else None


ROOT = NOTEBOOK_DIR.parent


LAB_SETTINGS = {   # JupyterLab defaults for the course: no news pop-up over the notebook, no update check
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
}


def lab_settings() -> Path:
    """Write the course's JupyterLab setting overrides into this environment (idempotent)."""
    path = Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    current = json.loads(path.read_text()) if path.exists() else {}
    if any(current.get(k) != v for k, v in LAB_SETTINGS.items()):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({**current, **LAB_SETTINGS}, indent=1))
    return path


def lab_command(port: int = 8888, token: str | None = None, open_browser: bool | None = None) -> list[str]:
    """How ``make lab`` starts JupyterLab: the course's root as the file browser's root, the first
    notebook open, widgets for progress; as root too (containers); no browser launch on a machine
    without a display (it prints the address instead). Writes the course's lab settings first."""
    lab_settings()
    if open_browser is None:
        open_browser = bool(os.environ.get("DISPLAY") or sys.platform in ("darwin", "win32"))
    cmd = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={ROOT}", f"--ServerApp.port={port}",
           "--ServerApp.port_retries=0"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    if not open_browser:
        cmd.append("--no-browser")
    if token is not None:
        cmd.append(f"--IdentityProvider.token={token}")
    return cmd + ["notebooks/00_setup.ipynb"]


def lab(port: int = 8888) -> int:
    import subprocess
    env = dict(os.environ)
    env.pop("GANCOURSE_PROGRESS", None)        # widgets in the browser
    print("JupyterLab on the course; open notebooks/00_setup.ipynb first. Stop with Ctrl-C.", flush=True)
    try:
        return subprocess.call(lab_command(port), cwd=ROOT, env=env)
    except KeyboardInterrupt:
        return 0


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
    run.add_argument("--solutions", action="store_true", help="run the instructor version (exercises solved)")
    run.add_argument("--jobs", type=int, default=1, help="notebooks run side by side (one GPU each when there "
                     "are several; CPU threads split when not)")
    run.add_argument("--shard", default=None, metavar="I/N", help="run only the I-th of N shares of the notebooks "
                     "(for a cluster's array jobs); gather with `gancourse scorecard OUT/PROFILE`")
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
    lb = sub.add_parser("lab", help="start JupyterLab on the course (what `make lab` runs)")
    lb.add_argument("--port", type=int, default=8888)
    sc = sub.add_parser("scorecard", help="gather results.json files under a run folder (several: one table of seeds)")
    sc.add_argument("run_dir", nargs="+")
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
                out = grading.collect(Path(args.course_dir), Path(args.submissions), args.timeout)
                print(out.read_text())
                print(f"gradebook: {out}; feedback: {Path(args.course_dir) / 'feedback'}")
            return 0
        if args.cmd == "lab":
            return lab(args.port)
        if args.cmd == "build":
            for p in build_notebooks(resolve(args.notebooks), Path(args.dest), args.solutions):
                print(f"wrote {p}")
            return 0
        if args.cmd == "scorecard":
            if len(args.run_dir) > 1:
                print(seeds_table([Path(d) for d in args.run_dir]))
                return 0
            md, _ = scorecard(Path(args.run_dir[0]))
            print(md.read_text())
            return 0
        check_profile(args.profile)
        notebooks = resolve(args.notebooks)
        params = {k: _coerce(v) for k, v in args.parameter}
        reserved = {"profile", "out_dir", "data_root"} & set(params)
        if reserved:
            raise CourseError(f"set {sorted(reserved)} with --profile / --out / --data-root, not -p")
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
