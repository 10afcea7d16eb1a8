"""gancourse.threads: the count read from the load or a pin; work that says its numbers do not depend on the
thread count really does not (bit for bit, also when the count changes mid-run); a run keeps the count it
started with across a resume. Speed is measured in benchmarks/bench_threads.py, not here."""
import os
import subprocess
import sys
import time

import pytest
import torch

from gancourse import CourseError, data, threads, training
from gancourse.instruments import extractors
from gancourse.nn import models
from gancourse.papers import improved, mixtures


@pytest.fixture
def unpinned(monkeypatch):
    """The course decides (conftest pins the count for every other test)."""
    monkeypatch.delenv(threads.ENV, raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)


def _bits(*modules) -> bytes:
    return b"".join(p.detach().numpy().tobytes() for m in modules for p in m.parameters())


def test_a_pin_is_read_and_a_bad_one_refused(monkeypatch, unpinned):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert threads.override() == 1 and threads.decide()[0] == 1
    monkeypatch.setenv(threads.ENV, "3")                       # the course's own variable wins
    assert threads.decide() == (3, f"pinned ({threads.ENV}=3)")
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv(threads.ENV, bad)
        with pytest.raises(CourseError, match=f"{threads.ENV}={bad!r}: a thread count is a positive integer"):
            threads.decide()


def test_the_count_is_the_cores_other_programs_leave(monkeypatch, unpinned):
    monkeypatch.setattr(threads, "ALL_CORES", 4)
    for others, n in ((0.0, 4), (0.4, 4), (0.6, 3), (1.0, 3), (1.6, 2), (3.0, 1), (7.5, 1)):
        monkeypatch.setattr(threads._load, "others", lambda window, v=others: v)
        assert threads.decide()[0] == n, others
    monkeypatch.setattr(threads._load, "others", lambda window: None)          # no /proc: torch's default
    assert threads.decide() == (4, "torch's default (no /proc to read the load from)")


@pytest.mark.skipif(not os.path.exists("/proc/stat") or (os.cpu_count() or 1) < 2, reason="needs /proc and 2 cores")
def test_a_busy_program_is_seen(unpinned):
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
    try:
        time.sleep(0.5)
        n, why = threads.decide()
    finally:
        busy.kill()
        busy.wait()
    assert n < threads.ALL_CORES and why.startswith("busy machine: other programs used")


def test_a_run_keeps_its_count_and_the_report_says_why(monkeypatch, unpinned):
    threads.reset()
    monkeypatch.setattr(threads._load, "others", lambda window: 0.0)
    assert threads.for_run("run A") == threads.ALL_CORES
    monkeypatch.setattr(threads._load, "others", lambda window: 64.0)      # the machine got busy: A keeps its count
    assert threads.for_run("run A") == threads.ALL_CORES and threads.for_run("run B") == 1
    assert threads.for_run("run C", saved=5) == 5
    rep = threads.report()
    assert [r["run"] for r in rep["runs"]] == ["run A", "run B", "run C"]
    assert rep["runs"][2]["why"] == "kept from its checkpoint" and rep["pinned"] is None
    assert sum(rep["runs_at"].values()) == 3


def _toy_rows(pin, monkeypatch):
    monkeypatch.setenv(threads.ENV, str(pin))
    mix = data.grid25()
    out = []
    for loss in ("non_saturating", "wasserstein"):
        tr = mixtures.train_gan(mix, loss, 12, 64, 32, seed=1)
        out.append(_bits(tr.G, tr.D))
    torch.manual_seed(0)
    x = mix.sample(2000)
    tr = improved.train_row("all", improved.TECHNIQUES, models.MLPGenerator(2, 32, norm="vbn"),
                            models.MLPDiscriminator(2, 32), x, 8, 32, seed=2, mbd_kernels=8, progress=False)
    out.append(_bits(tr.G, tr.D))
    return out


def test_work_that_says_it_is_thread_free_is_bit_for_bit(monkeypatch):
    """The 2D-mixture GANs (notebooks 01, 02, 05) and feature extraction follow the load: their numbers must
    not depend on the count, at 1 or 2 threads or switching between them every step."""
    one, two = _toy_rows(1, monkeypatch), _toy_rows(2, monkeypatch)
    assert one == two
    monkeypatch.delenv(threads.ENV)
    counts = iter([1, 2] * 1000)
    monkeypatch.setattr(threads, "decide", lambda window=1.0: (next(counts), "alternating"))
    monkeypatch.setattr(threads, "RECHECK_S", 0.0)
    switching = []
    mix = data.grid25()
    for loss in ("non_saturating", "wasserstein"):
        tr = mixtures.train_gan(mix, loss, 12, 64, 32, seed=1)
        switching.append(_bits(tr.G, tr.D))
    assert switching == one[:2]

    net = extractors.CourseCNN(3, 32)
    ex = extractors.Extractor("untrained", extractors._View(net, "features"), None)
    x = (torch.rand(300, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 255).to(torch.uint8)
    feats = []
    for n in (1, 2):
        monkeypatch.setattr(threads, "decide", lambda window=1.0, n=n: (n, "fixed"))
        feats.append(ex.extract(x, batch_size=100))
    assert torch.equal(*feats)


def test_declared_thread_free_only_where_it_holds():
    """Image rows depend on the count, so they must not follow the load (02's image rows keep their count)."""
    torch.manual_seed(0)
    G, D = models.DCGANGenerator(16, 8, 1, 28), models.DCGANDiscriminator(8, 1, 28)
    tr = improved.train_row("baseline", (), G, D, torch.rand(64, 1, 28, 28) * 2 - 1, 1, 16, progress=False)
    assert tr.pace.thread_free is False
    tr = improved.train_row("baseline", (), models.MLPGenerator(2, 8), models.MLPDiscriminator(2, 8),
                            torch.randn(64, 2), 1, 16, progress=False)
    assert tr.pace.thread_free is True


def _dcgan(out, monkeypatch, pin, steps):
    monkeypatch.setenv(threads.ENV, str(pin))
    torch.manual_seed(0)
    G, D = models.DCGANGenerator(16, 8, 1, 28), models.DCGANDiscriminator(8, 1, 28)
    tr = training.Trainer(G, D, progress=False, out_dir=out, ckpt_every=3, log_every=1, seed=0)
    tr.fit(data.batches(torch.rand(256, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1, 16), steps)
    return tr


def test_a_resumed_run_keeps_the_count_it_started_with(tmp_path, monkeypatch):
    """A DCGAN's numbers depend on the count: a run started at 1 thread and resumed where 2 are free must go on
    at 1, and end where the uninterrupted run at 1 ends."""
    threads.reset()
    whole = _dcgan(tmp_path / "whole", monkeypatch, 1, 6)
    _dcgan(tmp_path / "split", monkeypatch, 1, 3)
    monkeypatch.setattr(threads, "_decided", {})                     # as a new process: only the checkpoint knows
    resumed = _dcgan(tmp_path / "split", monkeypatch, 2, 6)
    assert resumed.pace.count == 1 and _bits(resumed.G, resumed.D) == _bits(whole.G, whole.D)
    assert torch.load(tmp_path / "split" / "checkpoint.pt", weights_only=False)["threads"] == 1
    kept = [r for r in threads.report()["runs"] if r["run"] == str(tmp_path / "split")]
    assert kept[0]["why"].startswith("kept from its checkpoint")


def test_evaluation_declared_thread_free_is_bit_for_bit(monkeypatch, unpinned):
    """FID, KID, IS and MS-SSIM follow the load (1 thread beside a busy program): their numbers must not
    depend on the count."""
    from gancourse.instruments import metrics
    g = torch.Generator().manual_seed(0)
    real, fake = ((torch.rand(2, 400, 1, 28, 28, generator=g) * 255).to(torch.uint8))
    net = extractors.CourseCNN(1, 28)
    ex = extractors.Extractor("untrained", extractors._View(net, "features"), extractors._View(net, "logits"),
                              extractors._View(net, "joint"))
    out = []
    for n in (1, 2):
        monkeypatch.setattr(threads, "decide", lambda window=1.0, n=n: (n, "fixed"))
        out.append((metrics.image_metrics(real, fake, ex, kid_subset=100, seed=3),
                    metrics.ms_ssim_pairs(fake, 200, seed=1)))
    assert out[0] == out[1]


def test_other_evaluation_keeps_one_count_per_process_and_a_runs_count_inside_it(monkeypatch, unpinned):
    """Evaluation whose numbers depend on the count (SWD, sampling) takes the count this process chose for
    'evaluation' on its first use, whatever the load does later; inside a training run's loop it keeps the run's."""
    seen = []

    @threads.evaluation()
    def probe():
        seen.append(torch.get_num_threads())

    threads.reset()
    monkeypatch.setattr(threads, "_decided", {})
    monkeypatch.setattr(threads, "decide", lambda window=1.0: (1, "busy machine"))
    probe()
    monkeypatch.setattr(threads, "decide", lambda window=1.0: (2, "idle machine"))
    probe()
    with threads.fixed(2):
        probe()
    assert seen == [1, 1, 2]
    assert [r for r in threads.report()["runs"] if r["run"] == threads.EVALUATION] == \
        [dict(run=threads.EVALUATION, threads=1, why="busy machine")]


def test_nested_work_that_follows_the_load_is_counted_once(monkeypatch, unpinned):
    """Feature extraction inside FID: results.json's adaptive seconds add up to no more than the wall time."""
    monkeypatch.setattr(threads, "decide", lambda window=1.0: (1, "busy machine"))
    threads.reset()
    t0 = time.monotonic()
    with threads.adaptive("outer"):
        with threads.adaptive("inner") as pace:
            time.sleep(0.2)
            pace.tick()
        time.sleep(0.1)
    wall = time.monotonic() - t0
    assert 0.3 <= sum(threads.report()["adaptive_seconds_at"].values()) <= wall + 0.05


def test_the_blas_pools_follow_the_count(monkeypatch, unpinned):
    """scikit-learn's probe runs in OpenBLAS: its pool takes the evaluation's count and gets its own back."""
    import sklearn.linear_model  # noqa: F401  (loads SciPy's OpenBLAS)
    from threadpoolctl import threadpool_info

    def blas():
        return {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}

    before = blas()
    seen = []
    monkeypatch.setattr(threads, "_decided", {})
    monkeypatch.setattr(threads, "decide", lambda window=1.0: (1, "busy machine"))
    threads.evaluation()(lambda: seen.append(blas()))()
    assert seen == [{1}] and blas() == before
