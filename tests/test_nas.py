"""AutoGAN: the search space and its encoding, the shared and published generators, the controller,
REINFORCE, dynamic reset, and a tiny multi-level search (controller and random) end to end."""
import os
import random

import pytest
import torch
from torch import nn

from gancourse import CourseError
from gancourse.instruments import extractors
from gancourse.nn import models
from gancourse.papers import nas
from gancourse.nn.models import autogan as A


class StubLogits(nn.Module):
    """A fixed random classifier of 3×3-pooled grey pixels: logits for the Inception Score."""

    num_features = 10

    def __init__(self):
        super().__init__()
        self.w = torch.randn(9, 10, generator=torch.Generator().manual_seed(0))

    def forward(self, x):
        f = nn.functional.adaptive_avg_pool2d(x.float().mean(1, keepdim=True) / 255, 3).flatten(1)
        return (f - 0.5) @ self.w * 5


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These networks are tiny: on one thread they skip hand-offs between threads that cost more than
    the work (on a loaded 2-core machine, 20 controller steps took 0.05 s on one thread, 15 s on two).
    Pinned for the search too (gancourse.threads would otherwise follow the load)."""
    before, pin = torch.get_num_threads(), os.environ.get("GANCOURSE_THREADS")
    torch.set_num_threads(1)
    os.environ["GANCOURSE_THREADS"] = "1"
    yield
    torch.set_num_threads(before)
    if pin is None:
        os.environ.pop("GANCOURSE_THREADS")
    else:
        os.environ["GANCOURSE_THREADS"] = pin


STUB = extractors.Extractor("stub logits", StubLogits(), StubLogits())
TINY = nas.SearchConfig(iterations=(1, 1), shared_steps=2, ctrl_steps=2, n_candidates=3, beam=2, n_reward=16,
                        width=4, d_width=4, z_dim=8, batch_size=4, g_batch_size=4, n_critic=1, reset_window=3)


def _random_vector(cells, rng):
    return [rng.randrange(k) for i in range(cells) for k in A.decisions(i)]


def test_search_space_counts_and_encoding_round_trip():
    assert [A.decisions(i) for i in range(3)] == [(2, 3, 3, 2), (2, 3, 3, 2, 2), (2, 3, 3, 2, 4)]
    assert A.space_size(1) == 36 and A.space_size(3) == 36 * 72 * 144
    rng = random.Random(0)
    for cells in (1, 2, 3):
        for _ in range(50):
            v = _random_vector(cells, rng)
            assert A.encode(A.decode(v)) == v
    a = A.decode([1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 2])
    assert a[2].skips == (True, False)                    # token 2 = binary 10: from cell 1 only
    with pytest.raises(CourseError, match="4, 9 or 14"):
        A.decode([1, 0, 1])
    with pytest.raises(CourseError, match="tokens within"):
        A.decode([1, 0, 3, 1])


def test_every_sampled_architecture_runs_at_each_stage():
    torch.manual_seed(0)
    G = A.xavier_init(A.SharedGenerator(3, z_dim=8, width=4, channels=1))
    rng = random.Random(1)
    for stage in range(3):
        for _ in range(8):
            x = G(torch.randn(2, 8), A.decode(_random_vector(stage + 1, rng)))
            assert x.shape == (2, 1, 8 * 2 ** stage, 8 * 2 ** stage) and x.abs().max() <= 1
        D = A.StageDiscriminator(4, 1, stage=stage)
        assert D(x).shape == (2,)


def test_fixed_cells_hold_only_their_layers_and_refuse_other_archs():
    arch = A.CellArch("post", "bn", "deconv", False, (False, True))
    cell = A.Cell.fixed(4, arch)
    assert set(cell.c1) == {"post"} and set(cell.skip) == {"1"} and cell.c_sc is None
    skip, out = cell(torch.randn(2, 4, 16, 16), [torch.randn(2, 4, 8, 8), torch.randn(2, 4, 16, 16)])
    assert skip.shape == out.shape == (2, 4, 32, 32)
    with pytest.raises(CourseError, match="cannot run"):
        cell(torch.randn(2, 4, 16, 16), [], A.CellArch())


def test_published_architecture_structure_and_parameter_count():
    G = A.autogan_cifar10_a()
    assert A.encode(G.archs) == [1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 3]
    c1, c2, c3 = G.archs
    assert all(c.conv == "pre" and c.norm is None for c in G.archs)
    assert (c1.up, c1.shortcut, c2.up, c2.shortcut, c2.skips) == ("nearest", True, "bilinear", True, (True,))
    assert (c3.up, c3.shortcut, c3.skips) == ("nearest", False, (True, True))
    # The official models/autogan_cifar10_a.py at gf_dim 256 / df_dim 128 counts the same.
    assert models.n_params(G) == 4_405_251
    assert models.n_params(A.StageDiscriminator(128)) == 1_053_824
    assert G(torch.randn(2, 128)).shape == (2, 3, 32, 32) and G(torch.randn(2, 128), stages=2).shape[-1] == 16


def test_controller_samples_valid_architectures_with_log_probs_and_entropy():
    torch.manual_seed(0)
    first = nas.Controller(0)
    s = first.sample(16)
    assert s.vectors.shape == (16, 4) and s.log_prob.shape == s.entropy.shape == (16,)
    assert (s.log_prob < 0).all() and (s.entropy > 0).all() and s.log_prob.requires_grad
    assert all(len(a) == 1 for a in s.archs)
    beam = nas.Beam(s.vectors[:2], (s.hidden[0][:2].detach(), s.hidden[1][:2].detach()), [1.0, 0.5])
    s2 = nas.Controller(1).sample(8, beam)
    assert s2.vectors.shape == (8, 9) and all(len(a) == 2 for a in s2.archs)
    assert all(v[:4] in beam.vectors.tolist() for v in s2.vectors.tolist())   # extends a beam entry
    again = first.sample(16, tokens=s.vectors)                                 # teacher-forced: same log-probs
    assert torch.allclose(again.log_prob, s.log_prob)


def test_reinforce_raises_the_rewarded_architecture_and_baseline_is_a_moving_average():
    torch.manual_seed(0)
    c = nas.Controller(0)
    opt = torch.optim.Adam(c.parameters(), 1e-2, betas=(0.0, 0.9))
    target = torch.tensor([[1, 0, 1, 1]])
    before = c.sample(1, tokens=target).log_prob.item()
    baseline = 0.0
    for _ in range(20):
        s = c.sample(8)
        rewards = [1.0 if v == target[0].tolist() else 0.0 for v in s.vectors.tolist()]
        s = c.sample(9, tokens=torch.cat([s.vectors, target]))                 # the target always among them
        rewards = torch.tensor(rewards + [1.0])
        new = nas.reinforce_step(c, opt, s, rewards, baseline, decay=0.9, entropy_weight=0.0)
        assert new == pytest.approx(0.9 * baseline + 0.1 * rewards.mean().item())
        baseline = new
    assert c.sample(1, tokens=target).log_prob.item() > before + 0.05
    s = c.sample(4)
    first = nas.reinforce_step(c, opt, s, [2.0, 2.0, 2.0, 2.0], None, entropy_weight=1e-4)
    assert first == pytest.approx(2.0 + 1e-4 * s.entropy.mean().item())      # first step: the mean reward


def test_dynamic_reset_fires_on_a_flat_window_not_on_a_noisy_one():
    g = torch.Generator().manual_seed(0)
    noisy = nas.DynamicReset(window=50, threshold=1e-3)
    assert not any(noisy.update(1 + torch.randn(1, generator=g).item(), 1 + torch.randn(1, generator=g).item())
                   for _ in range(200))
    flat = nas.DynamicReset(window=50, threshold=1e-3)
    fired = [flat.update(-1.0 + 1e-4 * (i % 2), 0.0) for i in range(120)]
    assert fired.index(True) == 49 and flat.resets == 2 and len(flat.g) == 20   # fires when full, then starts again
    copy = nas.DynamicReset(window=50, threshold=1e-3)
    copy.load_state_dict(flat.state_dict())
    assert copy.state_dict() == flat.state_dict()
    std = nas.DynamicReset(window=10, threshold=1e-3, statistic="std")          # the paper's wording: std
    assert not any(std.update(0.01 * (i % 2), 1.0 * (i % 2)) for i in range(30))   # std 0.005 > 1e-3 > var


def test_tiny_search_runs_end_to_end_and_is_deterministic(tmp_path):
    images = torch.randint(0, 256, (32, 3, 32, 32), dtype=torch.uint8)
    seen = []
    result = nas.search(images, STUB, TINY, seed=3, progress_bar=False, on_record=seen.append)
    assert len(result.beam) == 2 and result.beam.vectors.shape == (2, 9) and len(result.best) == 2
    assert result.beam.rewards == sorted(result.beam.rewards, reverse=True)
    assert result.G(torch.randn(2, 8), result.best).shape == (2, 3, 16, 16)
    ctrl = result.log.of("controller")
    assert [r["stage"] for r in ctrl] == [0, 0, 1, 1] and all(r["baseline"] is not None for r in ctrl)
    assert {"reward", "baseline", "entropy", "resets", "iteration"} <= set(ctrl[0]) and seen == result.log.records
    assert len(result.log.of("child")) == sum(TINY.children_per_stage())
    again = nas.search(images, STUB, TINY, seed=3, progress_bar=False)
    assert again.beam.vectors.tolist() == result.beam.vectors.tolist() and again.beam.rewards == result.beam.rewards


class Killed(Exception):
    pass


def _kill_in_stage_1(record):
    if record["kind"] == "shared" and record["stage"] == 1:
        raise Killed


def test_a_search_killed_mid_way_resumes_to_the_same_result(tmp_path):
    images = torch.randint(0, 256, (32, 3, 32, 32), dtype=torch.uint8)
    whole = nas.search(images, STUB, TINY, seed=4, progress_bar=False)
    with pytest.raises(Killed):
        nas.search(images, STUB, TINY, seed=4, progress_bar=False, out_dir=tmp_path, on_record=_kill_in_stage_1)
    resumed = nas.search(images, STUB, TINY, seed=4, progress_bar=False, out_dir=tmp_path)   # from iteration 1
    assert resumed.beam.vectors.tolist() == whole.beam.vectors.tolist() and resumed.beam.rewards == whole.beam.rewards
    assert [r["kind"] for r in resumed.log.records] == [r["kind"] for r in whole.log.records]
    with pytest.raises(CourseError, match="another search"):
        nas.search(images, STUB, TINY, seed=5, progress_bar=False, out_dir=tmp_path)


def test_random_search_runs_at_the_same_budget():
    images = torch.randint(0, 256, (32, 1, 16, 16), dtype=torch.uint8)
    ctrl = nas.search(images, STUB, TINY, seed=0, progress_bar=False)
    rand = nas.random_search(images, STUB, TINY, seed=0, progress_bar=False)
    assert isinstance(rand.policy, nas.UniformPolicy) and len(rand.beam) == 2
    assert len(rand.log.of("child")) == len(ctrl.log.of("child")) == sum(TINY.children_per_stage())
    assert sum(r["steps"] for r in rand.log.of("shared")) == sum(r["steps"] for r in ctrl.log.of("shared"))
