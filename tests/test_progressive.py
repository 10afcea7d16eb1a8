import json
import math
import subprocess
import sys

import pytest
import torch

from gancourse import CourseError
from gancourse.nn import models
from gancourse.papers import progressive as P
from conftest import ROOT


def test_schedule_follows_the_official_training_schedule():
    s = P.Schedule(32, train_kimg=1, fade_kimg=1)
    expect = {0: 3.0, 999: 3.0, 1500: 2.5, 2000: 2.0, 3000: 2.0, 3500: 1.5, 5999: 0.001, 6000: 0.0, 9000: 0.0}
    for nimg, lod in expect.items():
        assert s.lod(nimg) == pytest.approx(lod, abs=1e-9), nimg
    assert s.kimg_at_full_size() == 6.0
    assert s.describe(1500) == "fade in 8×8" and s.describe(2500) == "train 8×8" and s.describe(7000) == "train 32×32"
    fixed = P.Schedule(32, start=32)
    assert fixed.lod(0) == fixed.lod(10**6) == 0.0 and fixed.kimg_at_full_size() == 0.0


def test_fade_reals_is_box_filtered_blended_and_upscaled():
    x = torch.rand(2, 3, 32, 32)
    assert torch.equal(P.fade_reals(x, 0.0), x)
    at8 = P.fade_reals(x, 2.0)
    assert torch.allclose(at8, x.unfold(2, 4, 4).unfold(3, 4, 4).mean((-1, -2)).repeat_interleave(4, 2).repeat_interleave(4, 3), atol=1e-6)
    at4 = P.fade_reals(x, 3.0)
    half = P.fade_reals(x, 2.5)
    assert torch.allclose(half, 0.5 * at8 + 0.5 * at4, atol=1e-6)          # α = 1 − frac(lod)
    assert torch.allclose(half.mean(), x.mean(), atol=1e-6)                  # box filters keep the mean


def _nets(**kw):
    torch.manual_seed(0)
    return models.ProGenerator(8, 3, 32, 8, **kw), models.ProDiscriminator(3, 32, 8, **kw.get("d", {}))


def test_networks_compute_only_the_blocks_in_use_and_keep_full_size():
    G, D = _nets()
    z = torch.randn(8, 8)
    for lod, res in ((3.0, 4), (2.5, 8), (2.0, 8), (1.0, 16), (0.0, 32)):
        G.lod = D.lod = lod
        assert G.current_resolution == res
        x = G(z)
        assert x.shape == (8, 3, 32, 32)
        block = x.unfold(2, 32 // res, 32 // res).unfold(3, 32 // res, 32 // res)
        assert torch.allclose(block, block[..., :1, :1].expand_as(block))     # piecewise constant at res
        G.zero_grad(), D.zero_grad()
        D(x).sum().backward()
        used = set(range(1, 4 - math.floor(lod)))
        for level in range(1, 4):
            assert (G.blocks[level][1].weight.grad is not None) == (level in used), (lod, level)


@pytest.mark.parametrize("lod", [3.0, 2.0, 1.0])
def test_a_fade_in_starts_where_the_lower_resolution_left_off(lod):
    """At the first instant of a fade-in (α → 0) G and D give what they gave before the new block."""
    G, D = _nets()
    G.eval()
    z = torch.randn(4, 8)
    x = torch.randn(4, 3, 32, 32)
    G.lod = D.lod = lod
    before_g, before_d = G(z), D(x)
    G.lod = D.lod = lod - 1e-6
    assert torch.allclose(G(z), before_g, atol=1e-4)
    assert torch.allclose(D(x), before_d, atol=1e-4)


def test_generator_switches():
    with pytest.raises(CourseError, match="not both"):
        models.ProGenerator(8, 3, 32, 8, pixelnorm=True, batchnorm=True)
    with pytest.raises(CourseError, match="power-of-two"):
        models.ProGenerator(8, 3, 28, 8)
    G = models.ProGenerator(8, 3, 32, 8, pixelnorm=False, batchnorm=True, tanh=True, leaky=False)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in G.modules())
    assert G(torch.randn(4, 8)).abs().max() <= 1.0


def test_rows_are_cumulative_and_end_at_pggan():
    a, g = P.row_config("(a) WGAN-GP baseline"), P.row_config(P.PGGAN)
    assert a == {**P.BASELINE}
    assert g["growing"] and g["n_critic"] == 1 and g["lr"] == 1e-3 and g["drift"] == 0.001
    assert g["G"] == dict(equalized=True, pixelnorm=True, batchnorm=False, leaky=True, normalize_latent=True, tanh=False)
    assert g["D"] == dict(equalized=True, mbstd=True, layernorm=False)
    assert P.row_config("(b) + progressive growing")["n_critic"] == 5
    assert P.BASELINE["G"]["batchnorm"] is True            # building the rows leaves the baseline alone
    with pytest.raises(CourseError, match="rows:"):
        P.row_config("(z) nothing")


def _images(n=64):
    torch.manual_seed(1)
    return torch.rand(n, 1, 32, 32) * 2 - 1


def test_training_grows_resets_adam_and_keeps_snapshots():
    sched = P.Schedule(32, train_kimg=0.016, fade_kimg=0.016)     # two steps of batch 8 per phase
    run = P.train("t", P.row_config(P.PGGAN), _images(), kimg=0.112, schedule=sched, width=4, z_dim=8,
                  batch_size=8, progress=False)
    assert run.stopped_by == "steps" and run.kimg == pytest.approx(0.112)
    assert run.growth.resets == 6                                 # each fade's start and end, 4→8→16→32
    assert sorted(run.growth.snapshots) == [4, 8, 16, 32]
    assert run.growth.snapshots[8].shape == (16, 1, 8, 8)
    assert run.trainer.G.lod == run.trainer.G_ema.module.lod == run.trainer.D.lod == 0.0
    assert [h["lod"] for h in run.trainer.history][:4] == [3.0, 3.0, 2.5, 2.0]


def test_fixed_size_rows_never_grow_and_rows_stop_on_images_shown():
    ref = ((_images(16) + 1) * 127.5).to(torch.uint8)
    run = P.train("t", P.row_config("(a) WGAN-GP baseline"), _images(), kimg=0.08, schedule=P.Schedule(32), width=4,
                  z_dim=8, batch_size=8, progress=False, curve_reference=ref, every_kimg=0.04)
    assert run.growth.resets == 0 and list(run.growth.snapshots) == [32]
    assert run.kimg == pytest.approx(0.08) and len(run.curve.records) == 2       # n_critic 5: 40 images a step
    assert {"time", "kimg", "lod", "32", "16", "avg"} <= set(run.curve.records[0])
    assert run.stopped_by == "steps"


def test_count_flops_agrees_with_a_hand_count():
    """One convolution, by hand: 2·N·C_out·H·W·C_in·k² FLOPs forward; its backward (input and weight
    gradients) twice that; a linear layer 2·N·in·out."""
    conv = torch.nn.Conv2d(3, 8, 3, padding=1, bias=False)
    x = torch.randn(2, 3, 8, 8, requires_grad=True)
    forward = 2 * 2 * 8 * 8 * 8 * 3 * 9
    assert P.count_flops(lambda: conv(x)) == forward
    assert P.count_flops(lambda: conv(x).sum().backward()) == 3 * forward
    lin = torch.nn.Linear(16, 4)
    assert P.count_flops(lambda: lin(torch.randn(5, 16))) == 2 * 5 * 16 * 4


def test_the_cost_model_counts_each_stage_and_sums_a_run():
    full = P.row_config(P.PGGAN)
    prog = P.step_costs(full, 1, 32, 4, 8, 8)
    fixed = P.step_costs({**full, "growing": False}, 1, 32, 4, 8, 8)
    assert sorted(prog.costs) == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0] and list(fixed.costs) == [0.0]
    whole = [prog.costs[l] for l in (3.0, 2.0, 1.0, 0.0)]
    assert whole == sorted(whole) and whole[0] < whole[-1] / 8          # a step at 4 px is far cheaper than at 32
    assert prog.costs[0.0] == fixed.costs[0.0]                         # the same network at full size
    assert prog.costs[2.0] < prog.costs[1.0] < prog.costs[1.5]         # a fade (8→16) runs the new layers and the skip
    assert prog.step(1.3) == prog.costs[1.5] and prog.step(2.0) == prog.costs[2.0]
    sched = P.Schedule(32, train_kimg=0.016, fade_kimg=0.016)
    by_hand = sum(prog.step(sched.lod(s * 8)) for s in range(10))
    assert prog.run_flops(sched, 10) == by_hand
    assert fixed.run_flops(sched, 10) == 10 * fixed.costs[0.0]
    state = torch.get_rng_state()
    P.step_costs(full, 1, 32, 4, 8, 8)
    assert torch.equal(state, torch.get_rng_state())                   # counting leaves the run's RNG alone
    assert "4 px" in prog.describe(32) and "16→32 px" in prog.describe(32)


def test_swd_curve_needs_one_kind_of_timing():
    with pytest.raises(CourseError, match="not both"):
        P.SWDCurve(torch.zeros(4, 1, 32, 32, dtype=torch.uint8), 8)


def test_fade_frames_restore_the_generator():
    G, _ = _nets()
    G.lod = 1.0
    frames = P.fade_frames(G, torch.randn(2, 8), [1.0, 0.5, 0.0])
    assert frames.shape == (3, 2, 3, 32, 32) and G.lod == 1.0 and G.training
    assert not torch.allclose(frames[0], frames[2])


def test_pad_to_power_of_two():
    x = torch.full((2, 1, 28, 28), 255, dtype=torch.uint8)
    y = P.pad_to_power_of_two(x)
    assert y.shape == (2, 1, 32, 32) and y[:, :, 2:30, 2:30].eq(255).all() and y.sum() == x.sum()
    assert P.pad_to_power_of_two(y) is y


def _script(out, *extra):
    return subprocess.run([sys.executable, str(ROOT / "tests" / "resume_script.py"), str(out), "--kind", "progressive",
                           "--steps", "26", *extra], capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_a_progressive_run_killed_across_a_resolution_change_resumes_to_the_same_numbers(tmp_path):
    """Killed at step 15 (last checkpoint at 12, in the 8→16 fade-in), restarted: the same weights, Adam
    resets, snapshots and SWD curve as a run never interrupted."""
    ref = _script(tmp_path / "ref")
    assert ref.returncode == 0, ref.stderr
    killed = _script(tmp_path / "resumed", "--die-at", "15")
    assert killed.returncode == -9, killed.stderr
    resumed = _script(tmp_path / "resumed")
    assert resumed.returncode == 0, resumed.stderr
    a, b = json.loads(ref.stdout.splitlines()[-1]), json.loads(resumed.stdout.splitlines()[-1])
    assert a["resets"] == 4 and a["snapshots"] == [4, 8, 16] and a["lod"] == 0.0
    assert a == b


def test_equal_compute_trains_the_fixed_network_on_the_progressive_runs_flops(tmp_path):
    ref = ((_images(16) + 1) * 127.5).to(torch.uint8)
    sched = P.Schedule(32, train_kimg=0.016, fade_kimg=0.016)
    common = dict(kimg=0.4, schedule=sched, width=4, z_dim=8, batch_size=8, progress=False)
    full = P.row_config(P.PGGAN)
    costs = dict(cost_prog=P.step_costs(full, 1, 32, 4, 8, 8), cost_fixed=P.step_costs({**full, "growing": False}, 1, 32, 4, 8, 8))
    prog = P.train("(g)", full, _images(), curve_reference=ref, every_kimg=0.1, out_dir=tmp_path / "g", **common)
    fixed = P.equal_compute(prog, _images(), out_dir=tmp_path / "fixed", **costs, **common)
    spent = costs["cost_prog"].run_flops(sched, prog.trainer.step)
    assert not fixed.config["growing"] and fixed.kimg < prog.kimg                 # fewer, dearer images
    per_step = costs["cost_fixed"].step(0.0)
    assert abs(costs["cost_fixed"].run_flops(sched, fixed.trainer.step) - spent) <= per_step   # within one step
    assert len(fixed.curve.records) == len(prog.curve.records)                    # the same compute points, and a last one
    at = [costs["cost_prog"].run_flops(sched, r["step"]) for r in prog.curve.records[:-1]]
    got = [costs["cost_fixed"].run_flops(sched, r["step"]) for r in fixed.curve.records[:-1]]
    assert all(0 <= g - a <= per_step for g, a in zip(got, at))
    again = P.equal_compute(P.train("(g)", full, _images(), curve_reference=ref, every_kimg=0.1, out_dir=tmp_path / "g",
                                    **common), _images(), out_dir=tmp_path / "fixed", **costs, **common)
    assert again.trainer.step == fixed.trainer.step and again.curve.records == fixed.curve.records   # resumed
