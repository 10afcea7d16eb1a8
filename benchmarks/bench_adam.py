"""Adam's step on notebook 01's DCGAN parameters (G and D): torch's single-tensor loop (its default on a
CPU), the foreach implementation and the fused kernel (``training.adam`` fuses on CUDA only), measured in
one run, interleaved, reported as ratios against the single-tensor loop. ``--contended`` runs a busy
process beside it on every core, as a learner's browser or a second job would.

    python benchmarks/bench_adam.py                      # CPU
    python benchmarks/bench_adam.py --device cuda
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from gancourse.nn import models
from gancourse import training  # noqa: E402
from _common import provenance  # noqa: E402

KINDS = {"single": dict(foreach=False), "foreach": dict(foreach=True), "fused": dict(fused=True)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--widths", default="32,64")
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--contended", action="store_true", help="keep every core busy with another process meanwhile")
    ap.add_argument("--json", help="write the measurements here")
    args = ap.parse_args()
    busy = []
    if args.contended:
        import os
        import subprocess
        busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 1)]
    out = dict(**provenance(args.device), repeats=args.repeats, contended=args.contended,
               widths={})
    for width in map(int, args.widths.split(",")):
        G, D = models.DCGANGenerator(100, width, 1, 28).to(args.device), models.DCGANDiscriminator(width, 1, 28).to(args.device)
        params = [*G.parameters(), *D.parameters()]
        for p in params:
            p.grad = torch.randn_like(p)
        opts = {k: torch.optim.Adam(params, lr=1e-12, **kw) for k, kw in KINDS.items()}
        trainer_kind = "fused" if training.adam(params, 1e-12, (0.5, 0.999)).defaults["fused"] else "single"
        for o in opts.values():
            o.step()                                              # state allocated, kernels warm
        ms = {k: [] for k in opts}
        for _ in range(args.repeats):
            for k, o in opts.items():
                t0 = time.perf_counter()
                o.step()
                if args.device.startswith("cuda"):
                    torch.cuda.synchronize()
                ms[k].append((time.perf_counter() - t0) * 1e3)
        med = {k: statistics.median(v) for k, v in ms.items()}
        out["widths"][width] = dict(params=sum(p.numel() for p in params),
                                    ms_median={k: round(v, 3) for k, v in med.items()},
                                    ms_min={k: round(min(v), 3) for k, v in ms.items()},
                                    speedup_vs_single={k: round(med["single"] / v, 2) for k, v in med.items()},
                                    trainer_uses=trainer_kind)
        print(f"{'contended ' if args.contended else ''}DCGAN w{width} ({out['widths'][width]['params']:,} parameters) on {args.device}: Adam step "
              + ", ".join(f"{k} {v:.2f} ms ({med['single'] / v:.1f}x)" for k, v in med.items()))
    for p in busy:
        p.kill()
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
