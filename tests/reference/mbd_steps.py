"""Is minibatch discrimination's deficit on the 25-grid (notebook 02, claim I1, laptop profile) a matter of
training length? The baseline and +MBD rows of notebook 02's toy ablation, trained exactly as the laptop
profile trains them (grid25, batch 64, lr 1e-3, β = (0.5, 0.9), 100 kernels), then trained on to 2× and
4× the laptop's 1,500 steps (each row resumes its own checkpoint, so the first point is the notebook's own
row); modes covered and high-quality share on the laptop's 5,000 samples × 5 evaluation draws at each point.

    python tests/reference/mbd_steps.py --seeds 0 1 --out runs/mbd_steps \\
        --json results/reference/mbd_toy_steps.json

The criterion for "under-trained" was written before the run: the explanation holds if +MBD's deficit
(baseline modes − MBD modes, mean over draws) shrinks at every longer point and is ≤ 1 mode at 4×.
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from gancourse import data, profiles, seeding
from gancourse.papers import improved, mixtures
from gancourse.nn import models  # noqa: E402
from gancourse.course.results import summary  # noqa: E402

ROWS = {"baseline": (), "+MBD": ("MBD",)}


def run(seed: int, out: Path, multiples=(1, 2, 4)) -> dict:
    cfg = profiles.settings("02_improved_techniques", "laptop")
    mix = data.mixture("grid25")
    x = mix.sample(50_000, generator=seeding.generator(seed, "mixture data"))
    torch.manual_seed(seed)
    G0, D0 = models.MLPGenerator(2, cfg.toy_hidden, norm="bn"), models.MLPDiscriminator(2, cfg.toy_hidden)
    records = []
    for m in multiples:
        steps = m * cfg.toy_steps
        rec = dict(steps=steps)
        for row, techniques in ROWS.items():
            profiles.seed_everything(seed)
            tr = improved.train_row(row, techniques, G0, D0, x, steps, cfg.toy_batch, seed=seed,
                                    out_dir=out / f"seed{seed}" / row, ha_weight=0.01, mbd_kernels=cfg.mbd_kernels,
                                    data_id=dict(mixture="grid25"), lr=cfg.toy_lr, betas=(0.5, 0.9), z_dim=2,
                                    log_every=max(1, cfg.toy_steps // 50), progress=False)
            cov = mixtures.coverage(tr, mix, cfg.toy_eval, cfg.eval_draws)
            rec[row] = dict(modes=summary([c["modes"] for c in cov]), hq=summary([c["hq"] for c in cov]))
        rec["deficit"] = rec["baseline"]["modes"]["mean"] - rec["+MBD"]["modes"]["mean"]
        print(f"seed {seed}, {steps:,} steps: baseline {rec['baseline']['modes']['mean']:.1f} modes "
              f"({rec['baseline']['hq']['mean']:.0%} HQ), +MBD {rec['+MBD']['modes']['mean']:.1f} "
              f"({rec['+MBD']['hq']['mean']:.0%} HQ): deficit {rec['deficit']:.1f}", flush=True)
        records.append(rec)
    d = [r["deficit"] for r in records]
    holds = all(b < a for a, b in zip(d, d[1:])) and d[-1] <= 1
    return dict(seed=seed, records=records, under_trained=holds)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "mbd_steps")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    runs = [run(s, args.out) for s in args.seeds]
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    doc = dict(question=__doc__.split("\n\n")[0], criterion="deficit shrinks at every longer point and is <= 1 mode at 4x",
               runs=runs, commit=commit, date=time.strftime("%Y-%m-%d"), machine=platform.processor() or platform.machine(),
               threads=torch.get_num_threads(), seconds=round(time.perf_counter() - t0))
    for r in runs:
        print(f"seed {r['seed']}: under-trained explanation {'holds' if r['under_trained'] else 'does not hold'}")
    if args.json:
        args.json.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
