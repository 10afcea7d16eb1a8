import json
import subprocess
import sys

import pytest
import torch

from gancourse import CourseError, data, training
from gancourse.training import clock, losses
from gancourse.papers import mixtures
from gancourse.nn import models
from conftest import ROOT


def _trainer(tmp_path=None, **kw):
    torch.manual_seed(0)
    G, D = models.MLPGenerator(2, 16), models.MLPDiscriminator(2, 16)
    return training.Trainer(G, D, progress=False, out_dir=tmp_path, log_every=1, **kw)


def test_hooks_are_called_and_logged(tmp_path):
    seen = []
    tr = _trainer(tmp_path, d_terms=[losses.R1(1.0)], callbacks=[lambda t, ctx: seen.append(ctx.step) or {"x": 1.0}])
    tr.fit(data.batches(data.ring8().sample(512), 32), 3)
    assert seen == [0, 1, 2]
    lines = [json.loads(l) for l in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [l["step"] for l in lines] == [1, 2, 3]
    assert {"d_loss", "g_loss", "r1", "x", "time"} <= set(lines[0])


def test_g_loss_override_and_augment_are_used():
    calls = {"aug": 0, "g": 0}

    def aug(x):
        calls["aug"] += 1
        return x

    def g_fn(ctx):
        calls["g"] += 1
        return losses.g_loss("hinge", ctx.d_fake)

    tr = _trainer(augment=aug, g_loss_fn=g_fn, n_critic=2)
    tr.fit(data.batches(data.ring8().sample(512), 32), 2)
    assert calls == {"aug": 2 * (2 * 2) + 2, "g": 2}  # D sees real+fake per critic step, G one batch


def test_training_moves_the_generator_towards_the_data():
    """The 2D recipe pulls samples onto the ring of radius 2 (mean |‖x‖ - 2| at least halves)."""
    mix = data.ring8()
    untrained = mixtures.train_gan(mix, "non_saturating", 0, 128, 64, progress=False)
    trained = mixtures.train_gan(mix, "non_saturating", 300, 128, 64, lr=2e-3, progress=False)
    off_ring = lambda tr: tr.sample(n=512, ema=False).norm(dim=1).sub(2).abs().mean()
    assert off_ring(trained) < 0.5 * off_ring(untrained)


def test_the_same_experiment_twice_gives_the_same_numbers(tmp_path):
    """Issue 17's reproduction: the second and third calls resume the finished first run; mode
    coverage on the same draws must not move, whatever the global RNG did in between."""
    mix = data.grid25()
    seen = []
    for i in range(3):
        tr = mixtures.train_gan(mix, "hinge", 150, batch_size=64, seed=0, out_dir=tmp_path, lr=2e-3, progress=False)
        torch.rand(i * 17 + 1)                                 # something else ran in the kernel
        seen.append([(c["modes"], c["hq"]) for c in mixtures.coverage(tr, mix, 2500, 3)])
    assert seen[0] == seen[1] == seen[2]
    assert len(set(seen[0])) > 1, "three draws of 2,500 samples should not all agree exactly"


def test_evaluation_noise_is_seeded_by_the_run_and_the_draw():
    tr = _trainer(seed=3)
    a = tr.sample(100, name="fid", draw=0)
    torch.rand(10)
    assert torch.equal(a, tr.sample(100, name="fid", draw=0))
    assert not torch.equal(a, tr.sample(100, name="fid", draw=1))
    assert not torch.equal(a, _trainer(seed=4).eval_noise(100, "fid", 0))


def test_ema_warms_up():
    avg = training.ema_with_warmup(0.999)
    assert avg(torch.zeros(1), torch.ones(1), torch.tensor(0)).item() == pytest.approx(0.9)
    assert avg(torch.zeros(1), torch.ones(1), torch.tensor(10**6)).item() == pytest.approx(0.001)


def test_checkpoint_of_another_run_is_refused(tmp_path):
    _trainer(tmp_path, loss="hinge").fit(data.batches(data.ring8().sample(64), 8), 2)
    with pytest.raises(CourseError, match="another run"):
        _trainer(tmp_path, loss="wasserstein")


def _built(tmp_path, hidden=16, **kw):
    torch.manual_seed(0)
    G, D = models.MLPGenerator(2, hidden), models.MLPDiscriminator(2, hidden)
    return training.Trainer(G, D, progress=False, out_dir=tmp_path, log_every=1, **kw)


@pytest.mark.parametrize("change", [
    dict(lr=1e-3), dict(lr_d=1e-3), dict(betas=(0.0, 0.9)), dict(n_critic=2), dict(ema_decay=0.99),
    dict(ema_d=0.999), dict(z_dist="uniform"), dict(seed=1), dict(hidden=8),
    dict(d_terms=[losses.R1(5.0)]), dict(d_terms=[losses.HistoricalAveraging(torch.nn.Linear(1, 1), 0.5, "ha")]),
    dict(augment=torch.flip), dict(data_id={"set": "other"}),
])
def test_any_changed_setting_refuses_the_old_checkpoint(tmp_path, change):
    """The trainer builds a run's identity from all of its settings, the networks and the hooks' own settings."""
    base = dict(d_terms=[losses.R1(1.0)], data_id={"set": "ring8"})
    _built(tmp_path, **base).fit(data.batches(data.ring8().sample(64), 8), 2)
    assert _built(tmp_path, **base).step == 2                                  # same settings: resumed
    with pytest.raises(CourseError, match="belongs to another run") as e:
        _built(tmp_path, **{**base, **change})
    assert "→" in str(e.value)                                                  # it names what differs


def test_another_batch_size_or_data_size_is_refused_even_when_finished(tmp_path):
    x = data.ring8().sample(64)
    _built(tmp_path).fit(data.batches(x, 8), 2)
    with pytest.raises(CourseError, match="batch_size: 8 → 16"):
        _built(tmp_path).fit(data.batches(x, 16), 2)
    with pytest.raises(CourseError, match="n: 64 → 32"):
        _built(tmp_path).fit(data.batches(x[:32], 8), 2)
    _built(tmp_path).fit(data.batches(x, 8), 2)                                # the same stream resumes


def test_a_network_hook_learns_with_d_and_is_checkpointed(tmp_path):
    class Head(torch.nn.Module):
        name = "head"

        def __init__(self):
            super().__init__()
            self.w = torch.nn.Linear(2, 1)

        def forward(self, ctx):
            return self.w(ctx.real).pow(2).mean()

    head = Head()
    before = head.w.weight.detach().clone()
    tr = _built(tmp_path, d_terms=[head])
    tr.fit(data.batches(data.ring8().sample(64), 8), 3)
    assert not torch.equal(before, head.w.weight) and any(p is head.w.weight for g in tr.opt_d.param_groups for p in g["params"])
    again = _built(tmp_path, d_terms=[Head()])
    assert torch.equal(again.d_terms[0].w.weight, head.w.weight)


def test_augmenting_reals_only():
    seen = []
    aug = lambda x: seen.append(x.shape[0]) or x
    _trainer(augment=aug, augment_fakes=False, n_critic=1).fit(data.batches(data.ring8().sample(64), 8), 2)
    assert len(seen) == 2                           # reals once per D step; fakes never (D's step nor G's)


def test_resume_extends_a_finished_run(tmp_path):
    x = data.ring8().sample(256)
    tr = _trainer(tmp_path)
    tr.fit(data.batches(x, 8), 3)
    tr2 = _trainer(tmp_path)
    assert tr2.step == 3 and len(tr2.history) == 3
    tr2.fit(data.batches(x, 8), 5)
    assert [h["step"] for h in tr2.history] == [1, 2, 3, 4, 5]


def _run(out, *extra):
    return subprocess.run([sys.executable, str(ROOT / "tests" / "resume_script.py"), str(out), *extra],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    ref = _run(tmp_path_factory.mktemp("ref"))
    assert ref.returncode == 0, ref.stderr
    return json.loads(ref.stdout.splitlines()[-1])


@pytest.mark.parametrize("kill,durable", [
    (["--die-at", "7"], 0),             # before the first checkpoint: starts over
    (["--die-at", "23"], 20),           # between checkpoints: loses at most one interval
    (["--die-at", "31"], 30),
    (["--die-in-save", "20"], 10),      # inside the checkpoint write of step 20: the one before is used
])
def test_killed_and_restarted_run_ends_with_the_same_numbers(tmp_path, uninterrupted, kill, durable):
    """A run SIGKILLed at several points, one of them inside a checkpoint write, and restarted equals one
    never interrupted (checkpoints every 10 steps; the log after a kill holds only durable steps)."""
    killed = _run(tmp_path, *kill)
    assert killed.returncode == -9, "the run was supposed to be killed"
    if durable:
        log = [json.loads(l) for l in (tmp_path / "log.jsonl").read_text().splitlines()]
        assert log[-1]["step"] >= durable
    resumed = _run(tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    if kill[0] == "--die-in-save":
        assert "resuming from the previous checkpoint" in resumed.stderr
    assert json.loads(resumed.stdout.splitlines()[-1]) == uninterrupted


def test_a_corrupt_checkpoint_falls_back_to_the_previous_one(tmp_path):
    x = data.ring8().sample(256)
    tr = _trainer(tmp_path, ckpt_every=2)
    tr.fit(data.batches(x, 8), 4)
    (tmp_path / training.CHECKPOINT).write_bytes(b"not a checkpoint")
    with pytest.warns(UserWarning, match=r"checkpoint.pt cannot be read.*previous checkpoint .*checkpoint.prev.pt"):
        again = _trainer(tmp_path, ckpt_every=2)
    assert again.step == 2                                           # the one before the last
    training.previous(tmp_path / training.CHECKPOINT).write_bytes(b"also broken")
    with pytest.raises(CourseError, match="cannot be read.*--fresh"):
        _trainer(tmp_path, ckpt_every=2)


def test_divergence_stops_the_run_names_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    x = data.ring8().sample(256)
    blow = lambda tr, ctx: {"x": float("nan")} if tr.step + 1 == 7 else None
    tr = _trainer(tmp_path, ckpt_every=5, callbacks=[blow])
    with pytest.raises(training.Diverged, match="diverged at step 7: x = nan.*last good checkpoint is kept"):
        tr.fit(data.batches(x, 8), 20)
    assert torch.load(tmp_path / training.CHECKPOINT, weights_only=False)["step"] == 5
    def poison(tr, ctx):                       # after step 3's losses were computed: only the weights show it
        if tr.step + 1 == 3:
            with torch.no_grad():
                next(tr.G.parameters()).fill_(float("inf"))
    with pytest.raises(training.Diverged, match="diverged at step 3: a weight of G"):
        _trainer(tmp_path / "w", callbacks=[poison]).fit(data.batches(x, 8), 5)


def test_a_full_disk_leaves_the_last_checkpoint_and_no_half_file(tmp_path, monkeypatch):
    x = data.ring8().sample(256)
    tr = _trainer(tmp_path, ckpt_every=2)
    tr.fit(data.batches(x, 8), 2)
    good = (tmp_path / training.CHECKPOINT).read_bytes()

    def full(obj, f):
        f.write(b"partial")
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(CourseError, match="No space left on device.*free some disk space"):
        tr.fit(data.batches(x, 8), 4)
    assert (tmp_path / training.CHECKPOINT).read_bytes() == good and not list(tmp_path.glob("*.tmp"))


def test_fit_discriminator_learns_to_separate():
    torch.manual_seed(0)
    G, D = models.MLPGenerator(2, 16), models.MLPDiscriminator(2, 16)
    curve = training.fit_discriminator(D, G, data.batches(data.ring8().sample(1024) + 5, 64), 100, lr=1e-2)
    assert curve[-1] < 0.5 * curve[0]


def test_stateful_hooks_are_checkpointed(tmp_path):
    """Historical averaging keeps a running mean of θ: a resumed run continues it, not restarts it."""
    x = data.ring8().sample(256)

    def make():
        torch.manual_seed(0)
        G, D = models.MLPGenerator(2, 8), models.MLPDiscriminator(2, 8)
        return training.Trainer(G, D, progress=False, out_dir=tmp_path, log_every=1,
                                d_terms=[losses.HistoricalAveraging(D, 1.0, "ha_d")])

    tr = make()
    tr.fit(data.batches(x, 8), 4)
    saved_t = tr.d_terms[0].t
    resumed = make()
    ha = resumed.d_terms[0]
    assert ha.t == saved_t and all(torch.equal(a, b) for a, b in zip(ha.mean, tr.d_terms[0].mean))


def test_time_budget_stops_and_says_so():
    tr = _trainer()
    x = torch.randn(256, 2)
    tr.fit(data.batches(x, 16), steps=5, time_budget=0.0)
    assert tr.step == 0 and tr.stopped_by == "time"
    tr.fit(data.batches(x, 16), steps=5)
    assert tr.step == 5 and tr.stopped_by == "steps"


def test_paused_time_is_not_training_time(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(clock.time, "perf_counter", lambda: now[0])
    tr = _trainer()
    tr.timer.start(0.0)                  # training starts at t = 100
    now[0] = 103.0                       # three seconds of training
    with tr.paused():
        now[0] = 110.0                   # seven seconds of evaluation
    assert tr.clock() == 3.0


def test_a_run_stopped_by_time_logs_its_last_step():
    torch.manual_seed(0)
    tr = training.Trainer(models.MLPGenerator(2, 16), models.MLPDiscriminator(2, 16), progress=False, log_every=10)
    tr.clock = lambda: float(tr.step)                 # one "second" per step: the budget of 3 stops at step 3
    tr.fit(data.batches(torch.randn(256, 2), 16), steps=50, time_budget=3.0)
    assert tr.stopped_by == "time" and tr.step == 3
    assert [h["step"] for h in tr.history] == [3]


def test_the_trainer_takes_the_same_steps_as_a_plain_loop():
    """Issue 19's cheap wins (fused Adam, D's score of G's fakes only when a loss asks for it, losses
    read back at log steps only) leave the numbers as a hand-written loop of the same GAN makes them."""
    torch.manual_seed(0)
    reals = [data.ring8().sample(32) for _ in range(20)]
    G, D = models.MLPGenerator(2, 16), models.MLPDiscriminator(2, 16)
    G0, D0 = [{k: v.clone() for k, v in m.state_dict().items()} for m in (G, D)]
    torch.manual_seed(1)
    tr = training.Trainer(G, D, loss="non_saturating", lr=1e-3, progress=False, log_every=7)
    tr.fit(iter(reals), 20)

    G.load_state_dict(G0), D.load_state_dict(D0)
    opt_g = torch.optim.Adam(G.parameters(), 1e-3, betas=(0.5, 0.999), foreach=False)
    opt_d = torch.optim.Adam(D.parameters(), 1e-3, betas=(0.5, 0.999), foreach=False)
    torch.manual_seed(1)
    losses_d = []
    for real in reals:
        with torch.no_grad():
            fake = G(torch.randn(32, G.z_dim))
        loss_d = losses.d_loss("non_saturating", D(real), D(fake))
        opt_d.zero_grad(), loss_d.backward(), opt_d.step()
        losses_d.append(loss_d.item())
        loss_g = losses.g_loss("non_saturating", D(G(torch.randn(32, G.z_dim))))
        opt_g.zero_grad(), loss_g.backward(), opt_g.step()
    for mine, plain in ((tr.G, G), (tr.D, D)):
        for a, b in zip(mine.parameters(), plain.parameters()):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    logged = {h["step"]: h["d_loss"] for h in tr.history}
    assert sorted(logged) == [7, 14, 20]
    assert all(abs(logged[s] - losses_d[s - 1]) < 1e-4 for s in logged)


def test_a_non_finite_loss_is_named_at_its_step_even_between_log_steps(tmp_path):
    blow = lambda ctx: torch.tensor(float("nan")) if ctx.step + 1 == 7 else torch.zeros(())
    blow.__name__ = "blow"
    torch.manual_seed(0)
    tr = training.Trainer(models.MLPGenerator(2, 16), models.MLPDiscriminator(2, 16), d_terms=[blow], progress=False,
                          out_dir=tmp_path, log_every=50, ckpt_every=5)
    with pytest.raises(training.Diverged, match="diverged at step 7: .*nan.*last good checkpoint is kept"):
        tr.fit(data.batches(data.ring8().sample(256), 8), 20)
    assert torch.load(tmp_path / training.CHECKPOINT, weights_only=False)["step"] == 5


def test_g_step_scores_fakes_only_when_its_loss_asks():
    calls = []
    tr = _trainer(g_loss_fn=lambda ctx: ctx.fake.pow(2).mean())
    tr.D.register_forward_hook(lambda *a: calls.append(1))
    tr.fit(data.batches(data.ring8().sample(256), 8), 3)
    assert len(calls) == 3 * 2                                   # D's step only: reals and fakes


def _dcgan_trainer(out=None, **kw):
    torch.manual_seed(0)
    G, D = models.DCGANGenerator(16, 8, 1, 28), models.DCGANDiscriminator(8, 1, 28)
    return training.Trainer(G, D, z_dim=16, progress=False, out_dir=out, log_every=1, **kw)


@pytest.mark.slow
def test_the_fast_path_gives_the_plain_paths_numbers_and_checkpoints(tmp_path):
    """The compiled steps (CPU inductor here; CUDA graphs on a GPU) take the plain path's steps within
    float tolerance, and a fast run's checkpoint resumes on the plain path."""
    x = torch.rand(256, 1, 28, 28) * 2 - 1
    plain = _dcgan_trainer(fast=False)
    plain.fit(data.batches(x, 16), 4)
    fast = _dcgan_trainer(tmp_path, fast=True)
    assert fast.compiled == ("G", "D")
    fast.fit(data.batches(x, 16), 4)
    for a, b in zip(plain.history, fast.history):
        assert a["d_loss"] == pytest.approx(b["d_loss"], rel=1e-3, abs=1e-4)
        assert a["g_loss"] == pytest.approx(b["g_loss"], rel=1e-3, abs=1e-4)
    for p, q in zip(plain.G.parameters(), fast.G.parameters()):
        assert torch.allclose(p, q, atol=1e-4)
    resumed = _dcgan_trainer(tmp_path, fast=False)           # the same identity: the fast path is not part of it
    assert resumed.step == 4 and resumed.compiled == ()
    assert all(torch.equal(p, q) for p, q in zip(fast.G.state_dict().values(), resumed.G.state_dict().values()))


def test_a_penalty_differentiated_twice_keeps_d_eager_on_the_fast_path(monkeypatch):
    compiled = []
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, **kw: compiled.append((type(self).__name__, kw)))
    tr = _trainer(d_terms=[losses.R1(1.0)], fast=True)
    assert tr.compiled == ("G",) and [c[0] for c in compiled] == ["MLPGenerator"]
    assert compiled[0][1] == dict(mode="default", dynamic=False)         # CPU: inductor's default mode
    assert _trainer(d_terms=[losses.WGANGP()], fast=True).compiled == ("G",)
    assert _trainer(fast=True).compiled == ("G", "D")


def test_the_fast_path_follows_the_profile_and_the_environment(monkeypatch):
    from gancourse import profiles
    assert profiles.fast_path("course", torch.device("cuda")) and profiles.fast_path("paper", torch.device("cuda"))
    assert not profiles.fast_path("course", torch.device("cpu"))
    assert not profiles.fast_path("laptop", torch.device("cuda")) and not profiles.fast_path("smoke", torch.device("cuda"))
    monkeypatch.delenv(training.FAST_ENV, raising=False)
    training.use_fast_path(True)
    try:
        assert training.fast_path_default()
        monkeypatch.setenv(training.FAST_ENV, "0")
        assert not training.fast_path_default()
        monkeypatch.setenv(training.FAST_ENV, "yes")
        with pytest.raises(CourseError, match="0 or 1"):
            training.fast_path_default()
    finally:
        training.use_fast_path(False)
    monkeypatch.setenv(training.FAST_ENV, "1")
    assert training.fast_path_default()


def test_uniform01_noise_is_in_the_unit_cube():
    tr = _trainer(z_dist="uniform01")
    z = tr.noise(2000)
    assert z.min() >= 0 and z.max() < 1 and abs(z.mean().item() - 0.5) < 0.02
    assert _trainer(z_dist="uniform").noise(2000).min() < 0
    with pytest.raises(CourseError, match="uniform01"):
        _trainer(z_dist="gauss")
