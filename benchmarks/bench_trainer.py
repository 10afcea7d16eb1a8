"""Trainer speed: gancourse's Trainer against a minimal hand-written loop of the same model (notebook
01's DCGAN on MNIST-sized images), measured in one run, interleaved, reported as a ratio.

    python benchmarks/bench_trainer.py --rounds 5 --steps 40            # CPU
    python benchmarks/bench_trainer.py --device cuda --batch 64 --fast  # GPU, with the fast path

Each round times ``steps`` training steps of the Trainer and of the minimal loop (the order rotates
every round); the ratio is loop time / Trainer time (≥ 1.0: the Trainer is as fast as the loop), with
min / median / max over rounds. ``--fast`` adds the Trainer on its fast path (``Trainer(fast=True)``:
compiled steps, CUDA graphs on a GPU), compiled before timing starts. The goals (issue 19): the
Trainer ≥ 1.0 on CPU and GPU; the fast path ≥ 4× the loop at batch 64 on an H100.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from gancourse import data, training
from gancourse.nn import models  # noqa: E402
from _common import interleaved, provenance, ratio  # noqa: E402


def build(width, device, seed=0):
    torch.manual_seed(seed)
    G, D = models.DCGANGenerator(100, width, 1, 28).to(device), models.DCGANDiscriminator(width, 1, 28).to(device)
    models.dcgan_init(G), models.dcgan_init(D)
    return G, D


def minimal_loop(G, D, x, batch, steps, device):
    """What a learner would write: the non-saturating GAN, Adam 2e-4 (0.5, 0.999), an EMA of G."""
    opt_g = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
    ema = torch.optim.swa_utils.AveragedModel(G, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(0.999))

    def run():
        for _ in range(steps):
            real = x[torch.randint(len(x), (batch,), device=device)]
            with torch.no_grad():
                fake = G(torch.randn(batch, 100, device=device))
            loss_d = F.softplus(-D(real)).mean() + F.softplus(D(fake)).mean()
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            loss_g = F.softplus(-D(G(torch.randn(batch, 100, device=device)))).mean()
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            ema.update_parameters(G)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
    return run


def trainer_loop(G, D, x, batch, steps, device, fast=False):
    tr = training.Trainer(G, D, loss="non_saturating", lr=2e-4, betas=(0.5, 0.999), device=device, progress=False,
                          log_every=50, fast=fast)
    b = data.batches(x, batch)

    def run():
        tr.fit(b, tr.step + steps)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
    return run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--fast", action="store_true", help="also time the Trainer's fast path (compiled steps)")
    ap.add_argument("--json", help="write the measurements here")
    args = ap.parse_args()
    x = data.packaged_mnist("train").float(args.device)
    runs = {"loop": minimal_loop(*build(args.width, args.device), x, args.batch, args.steps, args.device),
            "trainer": trainer_loop(*build(args.width, args.device), x, args.batch, args.steps, args.device)}
    if args.fast:
        runs["fast"] = trainer_loop(*build(args.width, args.device), x, args.batch, args.steps, args.device, fast=True)
    for run in runs.values():
        run()                                                  # warm-up (and, for the fast path, compilation)
    times = interleaved(runs, args.rounds, args.device, scale=1000 / args.steps)     # ms a step
    rec = dict(**provenance(args.device), batch=args.batch, width=args.width, steps=args.steps, rounds=args.rounds,
               ms_per_step={k: [round(v, 2) for v in t] for k, t in times.items()},
               ratio=ratio(times["loop"], times["trainer"]),
               **({"fast_ratio": ratio(times["loop"], times["fast"])} if args.fast else {}))
    print(json.dumps(rec, indent=1))
    print(f"Trainer vs minimal loop, DCGAN w{args.width} batch {args.batch} on {args.device}: "
          f"loop {statistics.median(times['loop']):.1f} ms, Trainer {statistics.median(times['trainer']):.1f} ms a step "
          f"-> ratio {rec['ratio']['median']:.3f} (min {rec['ratio']['min']:.3f}, max {rec['ratio']['max']:.3f}; goal >= 1.0)")
    if args.fast:
        print(f"fast path {statistics.median(times['fast']):.1f} ms a step -> loop / fast {rec['fast_ratio']['median']:.2f} "
              f"(min {rec['fast_ratio']['min']:.2f}, max {rec['fast_ratio']['max']:.2f}; goal >= 4 at batch 64 on an H100)")
    if args.json:
        Path(args.json).write_text(json.dumps(rec, indent=1) + "\n")


if __name__ == "__main__":
    main()
