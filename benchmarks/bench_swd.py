"""SWD speed: gancourse.instruments.swd (torch, batched, GPU when present) against a straightforward NumPy
implementation of the same algorithm, measured in the same run and reported as a ratio.

    python benchmarks/bench_swd.py --n 10000          # the issue's size; seconds on one GPU
    python benchmarks/bench_swd.py --n 1000 --device cpu --rounds 3

Both compute SWD×10³ between two halves of CIFAR-10-sized random images with real structure
(smoothed noise); their values must agree within sampling noise, which is printed too. The two run
interleaved for ``--rounds`` rounds (the order rotates); the ratio NumPy time / torch time is given as
min / median / max over rounds. Goal (issue 19): ≥ 20× on a GPU at 10,000 images.

``--table R`` measures instead what notebook 04 does with SWD: one real set against R generated sets under
one seed (a table's rows, a curve's points, damaged copies), ``swd.swd`` each time against
``swd.Reference`` (the real side computed once); the values must be identical.

    python benchmarks/bench_swd.py --n 400 --device cpu --table 7 --rounds 5   # 04's laptop size and rows
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import scipy.ndimage
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from gancourse.instruments import swd  # noqa: E402
from _common import interleaved, provenance, ratio  # noqa: E402

KERNEL = swd.KERNEL.numpy()


def np_pyramid(x, levels):
    pyr = [x.astype(np.float32)]
    for _ in range(1, levels):
        down = scipy.ndimage.convolve(pyr[-1], KERNEL[None, None], mode="mirror")[:, :, ::2, ::2]
        up = np.zeros(pyr[-1].shape, np.float32)
        up[:, :, ::2, ::2] = down
        pyr[-1] = pyr[-1] - scipy.ndimage.convolve(up, KERNEL[None, None] * 4, mode="mirror")
        pyr.append(down)
    return pyr


def np_descriptors(level, per_image, rng, k=7):
    n, c, h, w = level.shape
    half = k // 2
    out = np.empty((n * per_image, c, k, k), np.float32)
    for i in range(n * per_image):
        y, x = rng.integers(half, h - half), rng.integers(half, w - half)
        out[i] = level[i // per_image, :, y - half:y + half + 1, x - half:x + half + 1]
    return out


def np_swd(a_u8, b_u8, per_image=128, seed=0):
    rng = np.random.default_rng(seed)
    res = swd.resolutions(a_u8.shape[-1])
    sets = []
    for imgs in (a_u8, b_u8):
        levels = np_pyramid(imgs, len(res))
        descs = []
        for lvl in levels:
            d = np_descriptors(lvl, per_image, rng)
            d -= d.mean((0, 2, 3), keepdims=True)
            d /= d.std((0, 2, 3), keepdims=True)
            descs.append(d.reshape(len(d), -1))
        sets.append(descs)
    dist = []
    for a, b in zip(*sets):
        reps = []
        for _ in range(4):
            dirs = rng.standard_normal((a.shape[1], 128)).astype(np.float32)
            dirs /= np.linalg.norm(dirs, axis=0, keepdims=True)
            reps.append(np.abs(np.sort(a @ dirs, 0) - np.sort(b @ dirs, 0)).mean())
        dist.append(1e3 * float(np.mean(reps)))
    return dict(zip(res, dist)) | {"avg": float(np.mean(dist))}


def images(n, seed):
    g = torch.Generator().manual_seed(seed)
    base = torch.nn.functional.interpolate(torch.rand(n, 3, 8, 8, generator=g), size=32, mode="bilinear")
    return (base * 255 + torch.randn(n, 3, 32, 32, generator=g) * 10).clamp(0, 255).to(torch.uint8)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10000, help="images per set")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", help="write the measurements here")
    ap.add_argument("--table", type=int, default=0,
                    help="compare one real set with this many sets: swd each time vs one swd.Reference")
    args = ap.parse_args()
    if args.table:
        return table(args)
    a, b = images(args.n, 1), images(args.n, 2)
    swd.swd(a[:100], b[:100], device=args.device)          # warm-up (CUDA context, kernels)
    values = {}
    runs = {"torch": lambda: values.__setitem__("torch", swd.swd(a, b, device=args.device)),
            "numpy": lambda: values.__setitem__("numpy", np_swd(a.numpy(), b.numpy()))}
    times = interleaved(runs, args.rounds, args.device)
    ours, ref = values["torch"], values["numpy"]
    rec = dict(**provenance(args.device), n=args.n, rounds=args.rounds,
               seconds={k: [round(v, 3) for v in t] for k, t in times.items()},
               ratio=ratio(times["numpy"], times["torch"]), swd_torch=ours, swd_numpy=ref)
    r = rec["ratio"]
    report(args, rec, f"SWD of {args.n:,} 32x32 images: torch ({args.device}) {min(times['torch']):.2f} s, NumPy "
           f"{min(times['numpy']):.2f} s (fastest rounds) -> NumPy / torch {r['median']:.1f}x (min {r['min']:.1f}, "
           f"max {r['max']:.1f}); avg SWDx1e3 {ours['avg']:.2f} (torch) vs {ref['avg']:.2f} (NumPy)")


def report(args, rec: dict, line: str) -> None:
    """The record as JSON, one line for people, and the record into ``--json`` when given."""
    print(json.dumps(rec, indent=1, default=str))
    print(line)
    if args.json:
        Path(args.json).write_text(json.dumps(rec, indent=1, default=str) + "\n")


def table(args) -> None:
    real, fakes = images(args.n, 1), [images(args.n, 2 + i) for i in range(args.table)]
    values = {}

    def each():
        values["each"] = [swd.swd(real, f, device=args.device, seed=3) for f in fakes]

    def reference():
        ref = swd.Reference(real, device=args.device, seed=3)
        values["reference"] = [ref.compare(f) for f in fakes]

    swd.swd(real[:100], fakes[0][:100], device=args.device)          # warm-up
    times = interleaved({"each": each, "reference": reference}, args.rounds, args.device)
    same = values["each"] == values["reference"]
    rec = dict(**provenance(args.device), n=args.n, table=args.table, rounds=args.rounds,
               seconds={k: [round(v, 3) for v in t] for k, t in times.items()},
               ratio=ratio(times["each"], times["reference"]), identical=same)
    r = rec["ratio"]
    report(args, rec, f"SWD of {args.n:,} 32x32 images against {args.table} sets: swd each time "
           f"{min(times['each']):.2f} s, one Reference {min(times['reference']):.2f} s (fastest rounds) -> "
           f"{r['median']:.2f}x (min {r['min']:.2f}, max {r['max']:.2f}); values {'identical' if same else 'DIFFER'}")
    if not same:
        raise SystemExit("swd.Reference gave other values than swd: a bug")


if __name__ == "__main__":
    main()
