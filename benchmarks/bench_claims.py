"""Cost of one extra seed by `--claims` against the whole notebook (issue 36): for each notebook and the claims
an extra seed of it measures, `gancourse run NB --claims ...` and the whole notebook at the same seed and
profile, interleaved over rounds (which goes first alternates), each in a fresh process.

    python benchmarks/bench_claims.py                                   # 05 T6,T7, 07 A1,A3, 02 I5,I7; smoke profile
    python benchmarks/bench_claims.py --profile laptop --rounds 1 --notebooks 05,07 --out benchmarks/results/claims-laptop-cpu.json

Reports, per pair, the wall time of each run (the process's, and the notebook's own in its results.json)
and the ratio claims-run / whole notebook as min / median / max over rounds. Each round also checks that
the selected claims' numbers equal the whole run's and that no other claim was measured, so a run that
skipped too much cannot pass for a cheap one.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks._common import provenance, ratio  # noqa: E402

PAIRS = {"05": ["T6", "T7"], "07": ["A1", "A3"], "02": ["I5", "I7"]}


def one_run(notebook: str, profile: str, seed: int, claims: list[str] | None, out: Path) -> tuple[float, dict]:
    """Wall seconds of one `gancourse run` in a fresh process, and its results.json."""
    cmd = [sys.executable, "-m", "gancourse", "run", notebook, "--profile", profile, "-p", "seed", str(seed),
           "--out", str(out)] + (["--claims", ",".join(claims)] if claims else [])
    t = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if done.returncode:
        sys.exit(f"{' '.join(cmd[1:])} failed:\n{done.stderr[-2000:]}")
    return wall, json.loads(next((out / profile).glob(f"{notebook}_*/results.json")).read_text())


def same_claims(selective: dict, whole: dict, claims: list[str]) -> None:
    """The selective run measured exactly ``claims``, with the whole run's numbers."""
    got = {c["id"]: c for c in selective["claims"]}
    full = {c["id"]: c for c in whole["claims"]}
    if sorted(got) != sorted(claims):
        sys.exit(f"--claims {','.join(claims)} measured {sorted(got)}")
    moved = [k for k in claims if got[k]["values"] != full[k]["values"]]
    if moved:
        sys.exit(f"--claims run differs from the whole notebook on {moved}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="smoke")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--notebooks", default=",".join(PAIRS), help=f"which of {', '.join(PAIRS)} (comma-separated)")
    ap.add_argument("--out", type=Path, help="also write the JSON record here")
    args = ap.parse_args()
    record = dict(benchmark="claims", profile=args.profile, seed=args.seed, rounds=args.rounds,
                  **provenance("cpu"), pairs=[])
    with tempfile.TemporaryDirectory(prefix="bench-claims-") as tmp:
        for nb in args.notebooks.split(","):
            claims = PAIRS[nb]
            walls = {"claims": [], "whole": []}
            own = {"claims": [], "whole": []}
            for r in range(args.rounds):
                order = ["claims", "whole"] if r % 2 == 0 else ["whole", "claims"]
                res = {}
                for k in order:
                    out = Path(tmp) / f"{nb}-{k}-{r}"
                    wall, res[k] = one_run(nb, args.profile, args.seed, claims if k == "claims" else None, out)
                    walls[k].append(round(wall, 1))
                    own[k].append(res[k]["wall_time_s"])
                same_claims(res["claims"], res["whole"], claims)
            row = dict(notebook=nb, claims=claims, wall_s=walls, notebook_wall_s=own,
                       ratio_claims_over_whole=ratio(walls["claims"], walls["whole"]),
                       ratio_notebook_wall=ratio(own["claims"], own["whole"]))
            record["pairs"].append(row)
            print(f"{nb} --claims {','.join(claims)}: {walls['claims']} s against the whole notebook's "
                  f"{walls['whole']} s: ratio {row['ratio_claims_over_whole']}", file=sys.stderr)
    line = json.dumps(record)
    print(line)
    if args.out:
        args.out.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
