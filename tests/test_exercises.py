"""Every exercise check passes on the reference solution, says "not answered" on the stub, and fails
on wrong answers (a check that cannot fail is no check)."""
import math

import numpy as np
from types import SimpleNamespace

import pytest
import torch

from gancourse.course import build, exercises

WRONG = {
    "01.E1": [lambda r, f: torch.relu(1 + r).mean() + torch.relu(1 - f).mean(),          # signs swapped
              lambda r, f: (1 - r).mean() + (1 + f).mean(),                                # no max(0, ·)
              lambda r, f: torch.nn.functional.softplus(-r).mean() + torch.nn.functional.softplus(f).mean()],
    "01.E2": [lambda: math.log(0.99), lambda: 0.01, lambda: -math.log(0.01)],
    "02.E1": [lambda M: torch.exp(-(M.unsqueeze(0) - M.unsqueeze(1)).abs().sum(-1)).sum(1),          # keeps j = i
              lambda M: torch.exp(-(M.unsqueeze(0) - M.unsqueeze(1)).pow(2).sum(-1)).sum(1) - 1],    # L2, not L1
    "02.E2": [lambda r, f, alpha=0.9: torch.nn.functional.binary_cross_entropy_with_logits(r, torch.ones_like(r))
              + torch.nn.functional.binary_cross_entropy_with_logits(f, torch.zeros_like(f)),        # no smoothing
              lambda r, f, alpha=0.9: torch.nn.functional.binary_cross_entropy_with_logits(r, torch.full_like(r, alpha))
              + torch.nn.functional.binary_cross_entropy_with_logits(f, torch.full_like(f, 1 - alpha))],  # two-sided
    "03.E1": [lambda lr, lf: torch.nn.functional.softplus(torch.logsumexp(lf, 1)).mean(),                  # fakes only
              lambda lr, lf: -torch.logsumexp(lr, 1).mean() + torch.logsumexp(lf, 1).mean()],
    "03.E2": [lambda l: l[:, :-1], lambda l: l[:, 1:] - l[:, :1]],
    "04.E1": [lambda x, g=4: x.std(0, keepdim=True).mean((1, 2, 3), keepdim=True).expand(len(x), 1, *x.shape[2:]),  # one group
              lambda x, g=4: (x.view(-1, g, *x.shape[1:]).var(1, unbiased=False) + 1e-8).sqrt().mean((1, 2, 3))
              .repeat_interleave(g).view(-1, 1, 1, 1).expand(len(x), 1, *x.shape[2:])],                   # consecutive groups
    "04.E2": [lambda a, b: (a - b).abs().mean(),                                                          # no sorting
              lambda a, b: (a.sort(-1).values - b.sort(-1).values).pow(2).mean(),                          # W2², not W1
              lambda a, b: (a.sort(-1).values - b.sort(-1).values).abs().sum(-1).mean()],                 # sum, not mean
    "05.E1": [lambda W, u: (lambda v: ((W @ v).norm(), W @ v / (W @ v).norm(), v))(W.t() @ u),      # v not normalised
              lambda W, u: (W.norm(), u, W.t() @ u / (W.t() @ u).norm())],                              # Frobenius norm
    "05.E2": [lambda D, x, g: g * torch.autograd.grad(D(x.requires_grad_(True)).sum(), x, create_graph=True)[0]
              .flatten(1).pow(2).sum(1).mean(),                                                         # γ, not γ/2
              lambda D, x, g: 0.5 * g * torch.autograd.grad(D(x.requires_grad_(True)).sum(), x)[0]
              .flatten(1).pow(2).sum(1).mean(),                                                         # no graph: D can't learn
              lambda D, x, g: 0.5 * g * torch.autograd.grad(D(x.requires_grad_(True)).sum(), x, create_graph=True)[0]
              .flatten(1).norm(dim=1).mean()],                                                          # ‖∇‖, not ‖∇‖²
    "07.E1": [lambda a, b, c, d, lambda_real=10.0, lambda_fake=10.0: lambda_real * (a - b).abs().mean()
              + lambda_fake * (c - d).abs().mean(),                                                      # L1, not squared
              lambda a, b, c, d, lambda_real=10.0, lambda_fake=10.0: lambda_real * ((a - b).pow(2).mean()
              + (c - d).pow(2).mean())],                                                                 # one λ for both
    "07.E2": [lambda z1, z2, temperature=0.1: torch.nn.functional.cross_entropy(
                  torch.nn.functional.normalize(z1, dim=1) @ torch.nn.functional.normalize(z2, dim=1).t() / temperature,
                  torch.arange(len(z1))),                                                                # only cross-view negatives
              lambda z1, z2, temperature=0.1: torch.nn.functional.cross_entropy(
                  torch.cat([z1, z2]) @ torch.cat([z1, z2]).t() / temperature,
                  torch.cat([torch.arange(len(z1), 2 * len(z1)), torch.arange(len(z1))]))],             # not normalised, self kept
    "06.E1": [lambda lp, r, b, decay=0.9: (-(lp * (r - b)).mean(), decay * b + (1 - decay) * r.mean().item()),  # old b used
              lambda lp, r, b, decay=0.9: ((lp * (r - (decay * b + (1 - decay) * r.mean().item()))).mean(),
                                           decay * b + (1 - decay) * r.mean().item()),                   # ascent, not descent
              lambda lp, r, b, decay=0.9: (-(lp * r).mean(), decay * b + (1 - decay) * r.mean().item())],  # no baseline
    "06.E2": [lambda g, d, w, t: len(g) >= w and float(np.var(g[-w:])) < t,                               # ignores D
              lambda g, d, w, t: float(np.var(g)) < t or float(np.var(d)) < t,                            # whole history, no window
              lambda g, d, w, t: len(g) >= w and (float(np.std(g[-w:])) < t or float(np.std(d[-w:])) < t)],  # std vs t
}


def _reference(ex_id):
    """The reference answer, executed from the notebook source's solution cell."""
    scope = {"torch": torch, "np": np, "exercises": SimpleNamespace(check=lambda *a: None)}   # the cell also calls the check
    exec(exercises.solution_source(ex_id), scope)
    return scope[exercises.get(ex_id).answer]


def test_every_exercise_is_covered_here():
    assert set(WRONG) == set(exercises.REGISTRY)


@pytest.mark.parametrize("ex_id", sorted(exercises.REGISTRY))
def test_reference_passes_stub_is_not_answered_wrong_fails(ex_id, capsys):
    assert exercises.check(ex_id, _reference(ex_id)) is True
    assert f"{ex_id} passed" in capsys.readouterr().out

    def stub(*a, **k):
        raise NotImplementedError
    assert exercises.check(ex_id, stub) is False
    assert "not answered yet" in capsys.readouterr().out
    for wrong in WRONG[ex_id]:
        with pytest.raises(exercises.WrongAnswer):
            exercises.check(ex_id, wrong)


def test_learner_notebooks_hold_stubs_not_solutions():
    for src in build.course_notebooks()[1:]:                   # every topic notebook (00 is the set-up)
        learner = build.build_notebook(src)
        instructor = build.build_notebook(src, solutions=True)
        text = "\n".join(c.source for c in learner.cells)
        assert exercises.BEGIN not in text
        n_solutions = sum(exercises.BEGIN in c.source for c in instructor.cells)
        assert text.count(exercises.STUB) == n_solutions >= 2, src.stem


def test_strip_solutions_keeps_indentation_and_the_rest():
    code = "def f(x):\n    y = 1\n    ### BEGIN SOLUTION\n    return x + y\n    ### END SOLUTION\n\nprint(f)"
    assert exercises.strip_solutions(code) == f"def f(x):\n    y = 1\n    {exercises.STUB}\n\nprint(f)"
