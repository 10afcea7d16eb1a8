"""Threads under load: one representative step of each laptop workload, timed with one thread and with
every core, on an idle machine and with a busy loop beside it, as ratios measured in one run.

    python benchmarks/bench_threads.py --json benchmarks/results/threads-cpu.json
    python benchmarks/bench_threads.py --workloads mlp2d,sndcgan --rounds 3      # a few, quickly

A learner's laptop is rarely idle (JupyterLab, a browser, a second notebook). With torch's default
(one thread per core) a small model's step is a chain of tiny parallel regions; when another process
takes a core, each region waits for the thread that lost its core, and the step slows several-fold.
This measures, per workload: ms a step with 1 thread, with all cores, and as the course runs it, idle and
loaded (a busy-loop process, in its own session so the scheduler treats it as another program), rounds
interleaved with the order rotating, and reports min / median / max over rounds of

- ``loaded_all_vs_1``: all cores / 1 thread under load (> 1: all cores lose when the machine is busy);
- ``idle_all_vs_1``: all cores / 1 thread idle (< 1: all cores win on an idle machine);
- ``course_loaded_vs_1``: the workload as the course runs it (``gancourse.threads`` choosing; a run started
  under that load) / 1 thread, under load (goal ≤ 1.25);
- ``course_idle_vs_all``: the course / all cores, idle (goal ≤ 1: nothing slower idle than torch's default,
  all cores, which is what the course used before it chose).

Run it on an otherwise idle machine: the only load is the one it starts.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from gancourse import data, threads, training  # noqa: E402
from gancourse.instruments import extractors, metrics as imetrics, swd as swd_  # noqa: E402
from gancourse.nn import models  # noqa: E402
from gancourse.nn.models import autogan, sngan  # noqa: E402
from gancourse.papers import improved, nas, progressive, ssl, stabilizers  # noqa: E402
from gancourse.training import losses  # noqa: E402
from _common import interleaved, provenance, ratio  # noqa: E402


_made = itertools.count()
CALL_S = 0.25      # a timed call trains about this long at torch's default, idle: one fit() each (a notebook's
                   # run makes one for thousands of steps, so per-call costs must not count as per-step ones)


def _trainer(G, D, **kw):
    """A Trainer as the notebooks make one; each its own run (its own thread decision)."""
    return training.Trainer(G, D, progress=False, log_every=10**9, desc=f"bench run {next(_made)}", **kw)


def _trainer_step(G, D, x, batch, **kw):
    """One training step of the course's Trainer (what every notebook but 06's search runs)."""
    tr = _trainer(G, D, **kw)
    b = data.batches(x, batch)

    def step(n=1):
        tr.fit(b, tr.step + n)
        return n
    return step


def _images(n, c, s):
    return torch.rand(n, c, s, s, generator=torch.Generator().manual_seed(0)) * 2 - 1


def mlp2d():
    """01, 05's T9: the 2D-mixture MLP GAN (hidden 128, batch 256), non-saturating."""
    torch.manual_seed(0)
    return _trainer_step(models.MLPGenerator(2, 128), models.MLPDiscriminator(2, 128), torch.randn(20000, 2), 256,
                         z_dim=2, betas=(0.5, 0.9), thread_free=True)


def mlp2d_wgangp():
    """01: the 2D MLP critic with WGAN-GP (5 critic steps, λ 0.1), batch 256."""
    torch.manual_seed(0)
    return _trainer_step(models.MLPGenerator(2, 128), models.MLPDiscriminator(2, 128), torch.randn(20000, 2), 256,
                         z_dim=2, betas=(0.5, 0.9), loss="wasserstein", n_critic=5, d_terms=[losses.WGANGP(0.1)],
                         thread_free=True)


def mlp2d_all():
    """02's toy rows: the MLP with all five techniques (FM, MBD with 100 kernels, HA, LS, VBN), batch 64."""
    torch.manual_seed(0)
    x = torch.randn(20000, 2)
    G, D, kw = improved.apply(improved.TECHNIQUES, models.MLPGenerator(2, 128, norm="vbn"), models.MLPDiscriminator(2, 128),
                              x[:64], torch.randn(64, 2))
    return _trainer_step(G, D, x, 64, z_dim=2, thread_free=True, **kw)


def dcgan():
    """01, 02's images: DCGAN width 32 on 28×28 MNIST, batch 64."""
    torch.manual_seed(0)
    return _trainer_step(models.DCGANGenerator(100, 32, 1, 28), models.DCGANDiscriminator(32, 1, 28),
                         _images(2000, 1, 28), 64)


def dcgan_mbd():
    """02's image rows with minibatch discrimination (100 kernels), batch 64."""
    torch.manual_seed(0)
    x = _images(2000, 1, 28)
    G, D, kw = improved.apply(("MBD", "LS"), models.DCGANGenerator(100, 32, 1, 28), models.DCGANDiscriminator(32, 1, 28),
                              x[:64], torch.randn(64, 100))
    return _trainer_step(G, D, x, 64, **kw)


def kplus1():
    """03: the official MNIST K+1 classifier and generator, feature matching, batch 100."""
    torch.manual_seed(0)
    x = _images(10000, 1, 28)
    y = torch.arange(10000) % 10
    D, G = ssl.MNISTClassifier(), ssl.MNISTGenerator()
    ssl.init_weightnorm(D, x[:500])
    return _trainer_step(G, D, x, 100, d_loss_fn=ssl.KPlusOneLoss(x[:100], y[:100], 100), g_loss_fn=losses.FeatureMatching(),
                         lr=3e-3, eps=ssl.OFFICIAL_EPS, ema_d=0.9999, z_dist="uniform01")


def pggan():
    """04: the PGGAN row (g) at its full 32×32 resolution, width 32, batch 32, WGAN-GP + drift."""
    cfg = progressive.row_config(progressive.PGGAN)
    x = _images(2000, 1, 32)
    sched = progressive.Schedule(32, train_kimg=1e6, fade_kimg=1e6, start=32)
    torch.manual_seed(0)
    G = models.ProGenerator(64, 1, 32, 32, **cfg["G"])
    D = models.ProDiscriminator(1, 32, 32, **cfg["D"])
    growth = progressive.Growth(sched, 32, cfg["n_critic"])
    tr = _trainer(G, D, loss="wasserstein", lr=cfg["lr"], betas=cfg["betas"], n_critic=cfg["n_critic"],
                  d_terms=[losses.WGANGP(10.0), losses.Drift(cfg["drift"])], callbacks=[growth])
    growth.apply(tr)
    b = data.batches(x, 32)

    def step(n=1):
        tr.fit(b, tr.step + n)
        return n
    return step


def sndcgan():
    """05, 07: the SNDCGAN width 16 on 32×32 CIFAR-sized images, batch 32."""
    G, D, kw = stabilizers.sndcgan("sn", 16, 3, 32)
    return _trainer_step(G, D, _images(2000, 3, 32), 32, **kw)


def resnet_cond():
    """05: the class-conditional ResNet (conditional BN, projection D), width 16, batch 32, hinge."""
    torch.manual_seed(0)
    G = sngan.ResNetGenerator(128, 16, 3, 32, n_classes=10)
    D = sngan.ResNetDiscriminator(16, 3, 32, n_classes=10, sn=True)
    tr = _trainer(G, D, loss="hinge", n_classes=10)
    b = data.batches(_images(2000, 3, 32), 32, labels=torch.arange(2000) % 10)

    def step(n=1):
        tr.fit(b, tr.step + n)
        return n
    return step


def autogan_shared():
    """06: one step of the search's shared G (width 16, three cells) and D, batch 32, hinge (its own loop)."""
    cfg = nas.SearchConfig(width=16, d_width=16, n_critic=1, batch_size=32)
    torch.manual_seed(0)
    G = autogan.xavier_init(autogan.SharedGenerator(cfg.stages, cfg.z_dim, 16, 3))
    D = autogan.xavier_init(autogan.StageDiscriminator(16, 3, stage=2))
    opt_g, opt_d = torch.optim.Adam(G.parameters(), 2e-4), torch.optim.Adam(D.parameters(), 2e-4)
    beam = None
    for stage in range(3):                    # the last stage: all three cells, prefixes from a beam
        policy = nas.UniformPolicy(stage, cfg.hidden)
        s = policy.sample(4, beam)
        beam = nas.Beam(s.vectors, s.hidden, [0.0] * 4) if stage < 2 else beam
    reals = data.batches(_images(2000, 3, 32), 32)

    key = f"bench search {next(_made)}"

    def step(n=1):                              # as nas.search runs it: at the count the search started with
        with threads.fixed(threads.for_run(key)):
            nas.train_shared(G, D, opt_g, opt_d, policy, beam, reals, n, n_critic=1, g_batch_size=64)
        return n
    return step


def features():
    """FID/KID/IS: the course's CIFAR-10 feature extractor, a step = 100 images (one pass over n·100 a call)."""
    net = extractors.CourseCNN(3, 32)
    ex = extractors.Extractor("course CNN (untrained; speed only)", extractors._View(net, "features"), None)
    x = (torch.rand(5000, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 255).to(torch.uint8)

    def step(n=1):
        ex.extract(x[:100 * n])
        return n
    return step


def metrics():
    """FID, KID and IS as notebooks 00, 02, 05 compute them: extraction and the metrics' own sums, a step =
    100 images against 100 real (500 against 500 a call)."""
    net = extractors.CourseCNN(1, 28)
    ex = extractors.Extractor("course CNN (untrained; speed only)", extractors._View(net, "features"),
                              extractors._View(net, "logits"), extractors._View(net, "joint"))
    x = (torch.rand(2, 500, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 255).to(torch.uint8)

    def step(n=1):
        k = min(500, 100 * n)
        imetrics.image_metrics(x[0, :k], x[1, :k], ex, kid_subset=k // 2)
        return max(1, k // 100)
    return step


def swd():
    """Notebook 04's SWD (MNIST 32 px, 128 descriptors an image), a step = 100 images against 100; at the count
    the notebook's evaluation chose on its first use (here: when the workload is made, under its load)."""
    x = (torch.rand(2, 500, 1, 32, 32, generator=torch.Generator().manual_seed(0)) * 255).to(torch.uint8)
    count = threads.decide()[0]

    def step(n=1):
        k = min(500, 100 * n)
        with threads.fixed(count):
            swd_.swd(x[0, :k], x[1, :k], device="cpu")
        return max(1, k // 100)
    return step


WORKLOADS = {f.__name__: f for f in (mlp2d, mlp2d_wgangp, mlp2d_all, dcgan, dcgan_mbd, kplus1, pggan, sndcgan,
                                      resnet_cond, autogan_shared, features, metrics, swd)}


class BusyLoop:
    """A busy-loop process on one core, in its own session (another program, as the scheduler sees it)."""

    def __enter__(self):
        self.proc = subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()


@contextmanager
def pinned(n: int | None):
    """GANCOURSE_THREADS=n for the block (None: unset, the course decides)."""
    before = os.environ.pop(threads.ENV, None)
    if n is not None:
        os.environ[threads.ENV] = str(n)
    try:
        yield
    finally:
        os.environ.pop(threads.ENV, None)
        if before is not None:
            os.environ[threads.ENV] = before


def measure(name: str, seconds: float, rounds: int) -> dict:
    """ms a step of workload ``name`` with 1 thread, with all cores, and as the course runs it, idle and loaded.
    Each timed block runs whole steps until ``seconds`` have passed (a step that slows 70-fold under load must
    not stretch the run 70-fold). The course's run is made afresh under each load, so it decides there."""
    cores = threads.ALL_CORES
    counts = {"1": 1, "all": cores, "course": None}
    steps = {}
    for k in ("1", "all"):
        with pinned(counts[k]):
            steps[k] = WORKLOADS[name]()
            steps[k]()                                          # warm-up; a run decides its count here
    with pinned(cores):
        t0 = time.perf_counter()
        steps["all"](2)
        chunk = max(1, round(CALL_S / ((time.perf_counter() - t0) / 2)))
    def timed_with(k):
        def run():
            with pinned(counts[k]):
                torch.set_num_threads(cores)                    # what the course finds: torch's default
                t0, done = time.perf_counter(), 0
                while done == 0 or time.perf_counter() - t0 < seconds:
                    done += steps[k](chunk)
            return done
        return run

    runs = {k: timed_with(k) for k in counts}
    out = {}
    for load in ("idle", "loaded"):
        with BusyLoop() if load == "loaded" else nullcontext():
            time.sleep(1.5)                                     # the load (or its end) settles first
            steps["course"] = WORKLOADS[name]()                 # a run started under this load
            runs["course"]()
            out[load] = interleaved(runs, rounds, scale=1000)
    torch.set_num_threads(cores)
    med = {load: {k: round(statistics.median(t), 2) for k, t in times.items()} for load, times in out.items()}
    return dict(workload=name, about=WORKLOADS[name].__doc__.strip(), steps_a_call=chunk,
                ms_per_step={load: {k: [round(v, 2) for v in t] for k, t in times.items()} for load, times in out.items()},
                median_ms=med,
                loaded_all_vs_1=ratio(out["loaded"]["all"], out["loaded"]["1"]),
                idle_all_vs_1=ratio(out["idle"]["all"], out["idle"]["1"]),
                course_loaded_vs_1=ratio(out["loaded"]["course"], out["loaded"]["1"]),
                course_idle_vs_all=ratio(out["idle"]["course"], out["idle"]["all"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workloads", default=",".join(WORKLOADS), help=f"comma-separated, of {', '.join(WORKLOADS)}")
    ap.add_argument("--seconds", type=float, default=1.0, help="each timed block runs whole steps for this long")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", help="write the measurements here")
    args = ap.parse_args()
    names = args.workloads.split(",")
    unknown = set(names) - set(WORKLOADS)
    if unknown:
        ap.error(f"unknown workload(s) {sorted(unknown)}; known: {', '.join(WORKLOADS)}")
    if threads.override() is not None:
        ap.error("unset GANCOURSE_THREADS / OMP_NUM_THREADS: the benchmark sets the thread count itself")
    records = []
    for name in names:
        rec = measure(name, args.seconds, args.rounds)
        records.append(rec)
        m = rec["median_ms"]
        print(f"{name:15s} idle: 1 {m['idle']['1']:7.1f}, all {m['idle']['all']:7.1f}, course {m['idle']['course']:7.1f} ms"
              f" | loaded: 1 {m['loaded']['1']:7.1f}, all {m['loaded']['all']:8.1f}, course {m['loaded']['course']:7.1f} ms"
              f" | course/1 loaded {rec['course_loaded_vs_1']['median']:.2f}, course/all idle "
              f"{rec['course_idle_vs_all']['median']:.2f}", flush=True)
    out = dict(**provenance("cpu"), cores=os.cpu_count(), rounds=args.rounds,
               autogroup=Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip()
               if Path("/proc/sys/kernel/sched_autogroup_enabled").exists() else None,
               omp_wait_policy=os.environ.get("OMP_WAIT_POLICY"), workloads=records)
    print("\n" + table(records))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")


def table(records: list[dict]) -> str:
    """The README's table: ms a step (median over rounds) and the two ratios the goals are about."""
    rows = ["| workload | idle: 1 thread / all cores / the course (ms) | loaded: 1 / all / the course (ms) | "
            "all cores loaded ÷ 1 thread | the course loaded ÷ 1 thread (goal ≤ 1.25) | the course idle ÷ all cores "
            "(goal ≤ 1) |", "|---|---|---|---|---|---|"]
    for r in records:
        i, l = r["median_ms"]["idle"], r["median_ms"]["loaded"]
        rows.append(f"| `{r['workload']}` | {i['1']:.1f} / {i['all']:.1f} / {i['course']:.1f} | {l['1']:.1f} / "
                    f"{l['all']:.1f} / {l['course']:.1f} | {r['loaded_all_vs_1']['median']:.2f} | "
                    f"{r['course_loaded_vs_1']['median']:.2f} ({r['course_loaded_vs_1']['min']:.2f}–"
                    f"{r['course_loaded_vs_1']['max']:.2f}) | {r['course_idle_vs_all']['median']:.2f} "
                    f"({r['course_idle_vs_all']['min']:.2f}–{r['course_idle_vs_all']['max']:.2f}) |")
    return "\n".join(rows)


if __name__ == "__main__":
    main()
