import random

import numpy as np
import torch

from gancourse import seeding


def test_derive_is_stable_and_separates_names():
    assert seeding.derive(0, "fid", 1) == seeding.derive(0, "fid", 1)
    assert len({seeding.derive(0, "fid", d) for d in range(5)} | {seeding.derive(1, "fid", 0)}) == 6
    assert isinstance(seeding.derive(3, "x"), int) and 0 <= seeding.derive(3, "x") < 2**63


def test_evaluation_draws_ignore_and_keep_the_global_rng():
    torch.manual_seed(0)
    random.seed(0)
    np.random.seed(0)
    before = (torch.get_rng_state(), random.getstate(), np.random.get_state()[1].copy())
    with seeding.evaluation(7, "kid"):
        a = (torch.rand(3), random.random(), np.random.rand())
    after = (torch.get_rng_state(), random.getstate(), np.random.get_state()[1])
    assert torch.equal(before[0], after[0]) and before[1] == after[1] and (before[2] == after[2]).all()
    torch.rand(100)                              # whatever ran before...
    with seeding.evaluation(7, "kid"):
        b = (torch.rand(3), random.random(), np.random.rand())
    assert torch.equal(a[0], b[0]) and a[1:] == b[1:]  # ...the evaluation draws the same


def test_generators_per_draw():
    g0 = torch.randn(4, generator=seeding.generator(0, "samples", 0))
    g0b = torch.randn(4, generator=seeding.generator(0, "samples", 0))
    g1 = torch.randn(4, generator=seeding.generator(0, "samples", 1))
    assert torch.equal(g0, g0b) and not torch.equal(g0, g1)
