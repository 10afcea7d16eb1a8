"""Exercises: the checks behind every notebook's exercises, and the reference solutions on request.

In a notebook a learner writes a function, then runs its check:

    def my_hinge_d_loss(d_real, d_fake):
        raise NotImplementedError   # your answer here
    exercises.check("01.E1", my_hinge_d_loss)     # "not answered yet" / "passed" / what is wrong

A stub (``raise NotImplementedError``) is reported as not answered, so Run All goes through; a
wrong answer raises :class:`WrongAnswer` saying what differs. ``exercises.solution("01.E1")`` shows
the reference solution, read from the notebook's source (``notebooks/source/NN_topic.py``, between
``### BEGIN SOLUTION`` / ``### END SOLUTION``). Every check fails on a wrong answer: the tests feed
each one wrong functions (``tests/test_exercises.py``).
"""
from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from .. import CourseError

SOURCE_DIR = Path(__file__).resolve().parents[2] / "notebooks" / "source"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = "raise NotImplementedError  # your answer here"


class WrongAnswer(AssertionError):
    """An exercise's answer is wrong: the message says how."""


@dataclass
class Exercise:
    id: str            # "01.E1"
    answer: str        # the name the learner defines ("my_hinge_d_loss")
    task: str          # one line
    run: Callable      # answer -> None, raises WrongAnswer
    points: int = 1


REGISTRY: dict[str, Exercise] = {}
_DRAW = [0]        # 0: the visible check's inputs; hidden checks (grading) run the same checks on other draws


def _seed(k: int) -> int:
    return 1000 * _DRAW[0] + k


def _gen(k: int) -> torch.Generator:
    """The generator of a check's random inputs: other inputs for each hidden draw."""
    return torch.Generator().manual_seed(_seed(k))


def _run(ex: "Exercise", answer, draw: int) -> None:
    """Run a check on ``draw``'s inputs, leaving the global RNG as it was."""
    _DRAW[0] = draw
    try:
        with torch.random.fork_rng(devices=[]):
            ex.run(answer)
    finally:
        _DRAW[0] = 0


def exercise(id: str, answer: str, task: str, points: int = 1):
    def register(fn):
        REGISTRY[id] = Exercise(id, answer, task, fn, points)
        return fn
    return register


def _close(got, want, what: str, atol: float = 1e-5):
    got = torch.as_tensor(got, dtype=torch.float64)
    want = torch.as_tensor(want, dtype=torch.float64)
    if got.shape != want.shape:
        raise WrongAnswer(f"{what}: shape {tuple(got.shape)}, expected {tuple(want.shape)}")
    if not torch.allclose(got, want, atol=atol, rtol=1e-4):
        i = (got - want).abs().argmax()
        raise WrongAnswer(f"{what}: got {got.flatten()[i].item():.6g}, expected {want.flatten()[i].item():.6g} "
                          f"(largest difference of {(got - want).abs().max().item():.3g})")


def get(id: str) -> Exercise:
    if id not in REGISTRY:
        raise CourseError(f"unknown exercise {id!r}; known: {', '.join(REGISTRY)}")
    return REGISTRY[id]


def check(id: str, answer) -> bool:
    """Run exercise ``id``'s check on ``answer``: True if it passes, False if not answered yet;
    raises WrongAnswer (with what differs) if it is wrong."""
    ex = get(id)
    try:
        _run(ex, answer, 0)
    except NotImplementedError:
        if os.environ.get("NBGRADER_EXECUTION"):          # being graded: an unanswered exercise scores 0
            raise WrongAnswer(f"{id}: not answered") from None
        print(f"{id}: not answered yet — {ex.task} Write it in the cell above and run this cell again; "
              f"to see a solution: exercises.solution({id!r})")
        return False
    print(f"{id} passed")
    return True


def hidden(id: str, answer, draws: int = 2, isolated: bool = True) -> None:
    """The grader's hidden checks: exercise ``id``'s check on ``draws`` other draws of its inputs.

    ``isolated`` (the grader's way): the answer's own source runs in a fresh Python process with the
    visible and the hidden checks, so nothing else a submission did in its kernel (a patched
    ``exercises`` module, a global the answer leans on) can change the verdict."""
    if not isolated:
        ex = get(id)
        for d in range(draws + 1):
            _run(ex, answer, d)
        return
    try:
        source = textwrap.dedent(inspect.getsource(answer))
    except (OSError, TypeError) as exc:
        raise WrongAnswer(f"{id}: the answer must be a function defined with def in its cell ({exc})") from None
    why = run_isolated(id, source, answer.__name__, draws)
    if why:
        raise WrongAnswer(f"{id}, hidden checks: {why}")


def run_isolated(id: str, source: str, name: str, draws: int = 2, timeout: int = 300,
                 prefix: list[str] = ()) -> str | None:
    """Exercise ``id``'s visible and hidden checks on the function ``name`` defined by ``source``, in a fresh
    Python process (nothing from the caller's kernel reaches it), started through ``prefix`` if given
    (the grader's sandbox). None if it passes, else why."""
    code = (f"import math\nimport numpy as np\nimport torch\nfrom gancourse.course import exercises\n{source}\n"
            f"exercises.hidden({id!r}, {name}, {draws}, isolated=False)\n")
    try:
        r = subprocess.run([*prefix, sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                           env={**os.environ, "OMP_NUM_THREADS": "1"}, cwd=tempfile.gettempdir())
    except subprocess.TimeoutExpired:
        return f"the answer did not finish in {timeout} s"
    return None if r.returncode == 0 else (r.stderr.strip().splitlines() or ["failed"])[-1][:300]


def solution_source(id: str, source_dir: Path = SOURCE_DIR) -> str:
    """The reference solution of ``id``: the solution cell of its notebook source that defines the answer."""
    ex = get(id)
    nb_prefix = id.split(".")[0]
    sources = sorted(source_dir.glob(f"{nb_prefix}_*.py"))
    if not sources:
        raise CourseError(f"no notebook source {nb_prefix}_*.py in {source_dir}")
    cells = re.split(r"^# %%.*$", sources[0].read_text(), flags=re.M)
    found = [c.strip("\n") for c in cells if BEGIN in c and re.search(rf"\b{re.escape(ex.answer)}\b", c)]
    if len(found) != 1:
        raise CourseError(f"{id}: expected one solution cell defining {ex.answer} in {sources[0].name}, found {len(found)}")
    return found[0]


def solution(id: str) -> None:
    """Show the reference solution of ``id`` (try first!)."""
    text = solution_source(id)
    try:
        from IPython.display import Code, display
        display(Code(text, language="python"))
    except ImportError:
        print(text)


def strip_solutions(code: str) -> str:
    """A cell's code with every solution region replaced by a stub (nbgrader's student version)."""
    out, inside, indent = [], False, ""
    for line in code.splitlines():
        if line.strip().startswith(BEGIN):
            inside, indent = True, line[: len(line) - len(line.lstrip())]
            out.append(indent + STUB)
        elif line.strip().startswith(END):
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise CourseError(f"unterminated {BEGIN} in:\n{code}")
    return "\n".join(out)


# ----------------------------------------------------------------------------------------------
# 01 · GAN foundations

@exercise("01.E1", "my_hinge_d_loss", "the hinge discriminator loss E max(0, 1 − D(x)) + E max(0, 1 + D(G(z))).")
def _hinge(fn):
    from ..training.losses import d_loss
    g = _gen(1)
    for scale in (0.3, 3.0):
        r, f = torch.randn(500, generator=g) * scale, torch.randn(500, generator=g) * scale
        _close(fn(r, f), d_loss("hinge", r, f), f"hinge loss on logits of scale {scale}")


@exercise("01.E2", "my_d_star", "the fake logit d at which the minimax generator gets 1% of the "
          "non-saturating gradient (σ(d) / (1 − σ(d)) = 0.01).")
def _d_star(fn):
    from ..training.losses import g_logit_gradient
    d = torch.tensor([float(fn())])
    ratio = (g_logit_gradient("minimax", d) / g_logit_gradient("non_saturating", d)).item()
    if abs(ratio - 0.01) > 1e-4:
        raise WrongAnswer(f"at d = {d.item():.4f} the minimax gradient is {ratio:.4%} of the non-saturating one, not 1%")


# ----------------------------------------------------------------------------------------------
# 02 · Improved techniques

@exercise("02.E1", "my_minibatch_features", "minibatch discrimination's o(x_i)_b = Σ_{j≠i} exp(−‖M_i,b − M_j,b‖_L1).")
def _mbd(fn):
    from ..nn.layers import MinibatchDiscrimination
    torch.manual_seed(_seed(0))
    layer = MinibatchDiscrimination(6, kernels=4, kernel_dim=3)
    f = torch.randn(10, 6, generator=_gen(2))
    with torch.no_grad():
        want = layer(f)[:, 6:] - layer.bias
        got = fn((f @ layer.T).view(10, 4, 3))
    _close(got, want, "o(x)")


@exercise("02.E2", "my_smoothed_d_loss", "the one-sided label-smoothed D loss on logits (real target 0.9, fake 0).")
def _ls(fn):
    from ..training.losses import d_loss
    g = _gen(3)
    r, f = torch.randn(200, generator=g) * 3, torch.randn(200, generator=g) * 3
    _close(fn(r, f), d_loss("non_saturating", r, f, real_target=0.9), "smoothed loss")
    # one-sided: a confident, correct D on fakes costs (almost) nothing
    far = torch.full((50,), -30.0)
    _close(fn(r, far), d_loss("non_saturating", r, far, real_target=0.9), "loss with fakes at logit −30 (fake target must stay 0)")


# ----------------------------------------------------------------------------------------------
# 03 · Semi-supervised

@exercise("03.E1", "my_unsupervised_loss", "the K+1 unsupervised loss with an explicit (K+1)-way softmax and a zero fake logit.")
def _kplus1(fn):
    from ..papers.ssl import unsupervised_loss
    g = _gen(4)
    lr, lf = torch.randn(64, 10, generator=g) * 3, torch.randn(64, 10, generator=g) * 3
    _close(fn(lr, lf), unsupervised_loss(lr, lf), "unsupervised loss", atol=1e-4)


@exercise("03.E2", "drop_fake_logit", "K logits with the same class probabilities as K+1 free logits and l_{K+1} = 0.")
def _drop(fn):
    logits = torch.randn(16, 11, generator=_gen(5)) * 4
    k = fn(logits)
    if tuple(k.shape) != (16, 10):
        raise WrongAnswer(f"shape {tuple(k.shape)}, expected (16, 10): drop the last logit")
    _close(torch.cat([k, torch.zeros(16, 1)], 1).softmax(1), logits.softmax(1), "softmax with l_K+1 = 0", atol=1e-6)


# ----------------------------------------------------------------------------------------------
# 04 · PGGAN and SWD

@exercise("04.E1", "my_mbstd_map", "the minibatch-stddev map (group 4, sample i in group i mod N/4) to append to x.")
def _mbstd(fn):
    from ..nn.layers import MinibatchStdDev
    x = torch.randn(12, 5, 4, 4, generator=_gen(6))
    x[::3] += 2.0                              # groups differ, so the grouping matters
    _close(fn(x, 4), MinibatchStdDev(4)(x)[:, -1:], "stddev map")


@exercise("04.E2", "my_wasserstein_1d", "the 1D Wasserstein-1 distance of two equal-size samples, one row per direction.")
def _w1(fn):
    # worked by hand: sort each row, pair them in order, average |a − b|
    a = torch.tensor([[0.0, 2.0, 1.0], [5.0, 5.0, 5.0]])
    b = torch.tensor([[1.0, 1.0, 4.0], [2.0, 8.0, 5.0]])
    # row 1: sorted (0,1,2) vs (1,1,4) → (1+0+2)/3 = 1; row 2: (5,5,5) vs (2,5,8) → (3+0+3)/3 = 2; mean 1.5
    _close(fn(a, b), torch.tensor(1.5), "W1 of the worked example")
    c = torch.randn(4, 300, generator=_gen(7))
    _close(fn(c, c[:, torch.randperm(300, generator=_gen(8))]), torch.tensor(0.0),
           "W1 between a sample and a permutation of it")
    _close(fn(c, c + 0.7), torch.tensor(0.7), "W1 between a sample and its shift by 0.7")


# ----------------------------------------------------------------------------------------------
# 05 · Stabilizers

@exercise("05.E1", "my_power_step", "one power-iteration step for σ(W): returns (σ, u, v).")
def _power(fn):
    W = torch.randn(12, 20, generator=_gen(9))
    u = torch.randn(12, generator=_gen(10))
    u = u / u.norm()
    for _ in range(60):
        sigma, u, v = fn(W, u)
    _close(sigma, torch.linalg.matrix_norm(W, 2), "σ after 60 steps", atol=1e-3)
    _close(u.norm(), torch.tensor(1.0), "‖u‖")
    _close(W @ v, sigma * u, "W v = σ u", atol=1e-3)


@exercise("05.E2", "my_r1", "the R1 penalty γ/2 · E‖∇ₓD(x)‖² on real images.")
def _r1(fn):
    from ..training.losses import r1_penalty
    torch.manual_seed(_seed(11))
    D = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    score = lambda t: D(t).squeeze(1)
    x = torch.randn(6, 3, 2, 2, generator=_gen(12))
    got = fn(score, x, 4.0)
    _close(got, 0.5 * 4.0 * r1_penalty(score, x), "R1 with γ = 4", atol=1e-6)
    if not got.requires_grad:
        raise WrongAnswer("the penalty must stay differentiable (create_graph=True) so that D can descend on it")


# ----------------------------------------------------------------------------------------------
# 07 · Augmentation

@exercise("07.E1", "my_bcr", "bCR: λ_r·mean((D(x) − D(T(x)))²) + λ_f·mean((D(G(z)) − D(T(G(z))))²).")
def _bcr(fn):
    g = _gen(13)
    a, b, c, d = (torch.randn(32, generator=g) for _ in range(4))
    want = 10 * (a - b).pow(2).mean() + 2 * (c - d).pow(2).mean()
    _close(fn(a, b, c, d, lambda_real=10.0, lambda_fake=2.0), want, "bCR with λ_real 10, λ_fake 2")


@exercise("07.E2", "my_nt_xent", "NT-Xent (SimCLR) between two batches of projections.")
def _ntxent(fn):
    from ..papers.augment import nt_xent
    g = _gen(14)
    z1, z2 = torch.randn(8, 5, generator=g), torch.randn(8, 5, generator=g)
    _close(fn(z1, z2, 0.5), nt_xent(z1, z2, 0.5), "NT-Xent of random views, τ = 0.5", atol=1e-4)
    _close(fn(z1, z1 + 0.01 * z2, 0.1), nt_xent(z1, z1 + 0.01 * z2, 0.1), "NT-Xent of near-identical views, τ = 0.1", atol=1e-4)


# ----------------------------------------------------------------------------------------------
# 06 · AutoGAN

@exercise("06.E1", "my_reinforce_loss", "REINFORCE with a moving-average baseline: (loss, new baseline).")
def _reinforce(fn):
    log_probs = torch.tensor([-1.0, -2.0, -0.5], requires_grad=True)
    rewards = torch.tensor([3.0, 1.0, 2.0])
    loss, b = fn(log_probs, rewards, 1.0, 0.9)
    want_b = 0.9 * 1.0 + 0.1 * 2.0                                   # updated before use: 1.1
    _close(float(b), want_b, "the new baseline (update it with this step's mean reward first)")
    _close(loss, -(log_probs.detach() * (rewards - want_b)).mean(), "the loss")
    loss.backward()
    _close(log_probs.grad, -(rewards - want_b) / 3, "∂loss/∂log π: minus the advantage over m")


@exercise("06.E2", "my_should_reset", "the dynamic-reset rule on windows of G and D losses.")
def _reset(fn):
    noisy = [1.0 + 0.3 * ((i * 37) % 11 - 5) / 5 for i in range(60)]
    flat = [0.7] * 60
    cases = [(noisy, noisy, False, "noisy losses"), (flat, noisy, True, "G's losses flat"),
             (noisy, flat, True, "D's losses flat"), (flat[:30], flat[:30], False, "windows not yet full"),
             (noisy[:10] + flat[:50], noisy, True, "G flat over its last 50"),
             (flat[:10] + noisy[:50], noisy, False, "G flat long ago, noisy now"),
             ([0.7 + 0.01 * (i % 2) for i in range(60)], noisy, True, "G's losses barely moving (variance 2.5e-5)")]
    for g, d, want, what in cases:
        if bool(fn(g, d, 50, 1e-3)) != want:
            raise WrongAnswer(f"{what}: should {'' if want else 'not '}reset")
