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

import re
from dataclasses import dataclass, field
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
class Case:
    """One input of a check: ``args``/``kwargs`` go to the answer (tensors, numbers, lists: what crosses into the
    grader's sandbox); ``judge`` stays with whoever holds the reference (the grader's own process when grading)
    and raises :class:`WrongAnswer` on a wrong output."""
    args: tuple
    judge: Callable
    kwargs: dict = field(default_factory=dict)


def call(fn, *args, **kwargs):
    """The default probe: the answer's output on the case."""
    return fn(*args, **kwargs)


@dataclass
class Exercise:
    id: str            # "01.E1"
    answer: str        # the name the learner defines ("my_hinge_d_loss")
    task: str          # one line
    cases: Callable    # rng -> [Case]; rng(k) is the k-th input generator of the draw
    probe: Callable = call   # (answer, *args, **kwargs) -> output: runs beside the answer (torch only, self-contained)
    points: int = 1
    uses: str = "torch, math and numpy; not the course's own package (graded where gancourse cannot be imported)"

    def run(self, answer, rng) -> None:
        """The check, in this process: every case's output judged."""
        for case in self.cases(rng):
            case.judge(self.probe(answer, *case.args, **case.kwargs))


REGISTRY: dict[str, Exercise] = {}


def visible_rng(k: int) -> torch.Generator:
    """The visible check's inputs (the same for every learner)."""
    return torch.Generator().manual_seed(k)


def secret_rng(secret: int, ex_id: str, draw: int):
    """The grader's inputs: from a secret of the grading run, so no submission can know them in advance."""
    import hashlib

    def rng(k: int) -> torch.Generator:
        seed = int.from_bytes(hashlib.sha256(f"{secret}|{ex_id}|{draw}|{k}".encode()).digest()[:8], "little") >> 1
        return torch.Generator().manual_seed(seed)
    return rng


def _run(ex: "Exercise", answer, rng=visible_rng) -> None:
    """Run a check, leaving the global RNG as it was."""
    with torch.random.fork_rng(devices=[]):
        ex.run(answer, rng)


def exercise(id: str, answer: str, task: str, points: int = 1, probe: Callable = call):
    """Register ``fn`` (rng -> [Case]) as exercise ``id``; ``probe`` runs the answer on a case (default: calls it)."""
    def register(fn):
        REGISTRY[id] = Exercise(id, answer, task, fn, probe, points)
        return fn
    return register


def _close(got, want, what: str, atol: float = 1e-5):
    try:
        got = torch.as_tensor(got, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise WrongAnswer(f"{what}: got a {type(got).__name__}, expected numbers") from None
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
        _run(ex, answer)
    except NotImplementedError:
        print(f"{id}: not answered yet — {ex.task} Write it in the cell above and run this cell again; "
              f"to see a solution: exercises.solution({id!r})")
        return False
    print(f"{id} passed")
    return True


def hidden(id: str, answer, draws: int = 2) -> None:
    """The same check on ``draws`` other draws of its inputs, in this process (what a learner may run to test
    an answer further). Grading never relies on it: the grader draws secret inputs and judges the outputs in
    its own process (``gancourse.course.judge``)."""
    ex = get(id)
    for d in range(1, draws + 1):
        _run(ex, answer, secret_rng(0, id, d))


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
def _hinge(rng):
    from ..training.losses import d_loss
    g = rng(1)
    out = []
    for scale in (0.3, 3.0):
        r, f = torch.randn(500, generator=g) * scale, torch.randn(500, generator=g) * scale
        out.append(Case((r, f), lambda got, r=r, f=f, s=scale: _close(got, d_loss("hinge", r, f), f"hinge loss on logits of scale {s}")))
    return out


def _ratio_at(d_star) -> None:
    from ..training.losses import g_logit_gradient
    try:
        d = torch.tensor([float(d_star)])
    except (TypeError, ValueError):
        raise WrongAnswer(f"expected one number, got a {type(d_star).__name__}") from None
    ratio = (g_logit_gradient("minimax", d) / g_logit_gradient("non_saturating", d)).item()
    if abs(ratio - 0.01) > 1e-4:
        raise WrongAnswer(f"at d = {d.item():.4f} the minimax gradient is {ratio:.4%} of the non-saturating one, not 1%")


@exercise("01.E2", "my_d_star", "the fake logit d at which the minimax generator gets 1% of the "
          "non-saturating gradient (σ(d) / (1 − σ(d)) = 0.01).")
def _d_star(rng):
    return [Case((), _ratio_at)]


# ----------------------------------------------------------------------------------------------
# 02 · Improved techniques

@exercise("02.E1", "my_minibatch_features", "minibatch discrimination's o(x_i)_b = Σ_{j≠i} exp(−‖M_i,b − M_j,b‖_L1).")
def _mbd(rng):
    from ..nn.layers import MinibatchDiscrimination
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(torch.randint(2**31, (1,), generator=rng(0))))
        layer = MinibatchDiscrimination(6, kernels=4, kernel_dim=3)
    f = torch.randn(10, 6, generator=rng(2))
    with torch.no_grad():
        want, M = layer(f)[:, 6:] - layer.bias, (f @ layer.T).view(10, 4, 3)
    return [Case((M,), lambda got: _close(got, want, "o(x)"))]


@exercise("02.E2", "my_smoothed_d_loss", "the one-sided label-smoothed D loss on logits (real target 0.9, fake 0).")
def _ls(rng):
    from ..training.losses import d_loss
    g = rng(3)
    r, f = torch.randn(200, generator=g) * 3, torch.randn(200, generator=g) * 3
    far = torch.full((50,), -30.0)          # one-sided: a confident, correct D on fakes costs (almost) nothing
    return [Case((r, f), lambda got: _close(got, d_loss("non_saturating", r, f, real_target=0.9), "smoothed loss")),
            Case((r, far), lambda got: _close(got, d_loss("non_saturating", r, far, real_target=0.9),
                                               "loss with fakes at logit −30 (fake target must stay 0)"))]


# ----------------------------------------------------------------------------------------------
# 03 · Semi-supervised

@exercise("03.E1", "my_unsupervised_loss", "the K+1 unsupervised loss with an explicit (K+1)-way softmax and a zero fake logit.")
def _kplus1(rng):
    from ..papers.ssl import unsupervised_loss
    g = rng(4)
    lr, lf = torch.randn(64, 10, generator=g) * 3, torch.randn(64, 10, generator=g) * 3
    return [Case((lr, lf), lambda got: _close(got, unsupervised_loss(lr, lf), "unsupervised loss", atol=1e-4))]


def _drop_judge(logits):
    def judge(k):
        k = torch.as_tensor(k)
        if tuple(k.shape) != (len(logits), logits.shape[1] - 1):
            raise WrongAnswer(f"shape {tuple(k.shape)}, expected {(len(logits), logits.shape[1] - 1)}: drop the last logit")
        _close(torch.cat([k, torch.zeros(len(k), 1)], 1).softmax(1), logits.softmax(1), "softmax with l_K+1 = 0", atol=1e-6)
    return judge


@exercise("03.E2", "drop_fake_logit", "K logits with the same class probabilities as K+1 free logits and l_{K+1} = 0.")
def _drop(rng):
    logits = torch.randn(16, 11, generator=rng(5)) * 4
    return [Case((logits,), _drop_judge(logits))]


# ----------------------------------------------------------------------------------------------
# 04 · PGGAN and SWD

@exercise("04.E1", "my_mbstd_map", "the minibatch-stddev map (group 4, sample i in group i mod N/4) to append to x.")
def _mbstd(rng):
    from ..nn.layers import MinibatchStdDev
    x = torch.randn(12, 5, 4, 4, generator=rng(6))
    x[::3] += 2.0                              # groups differ, so the grouping matters
    return [Case((x, 4), lambda got: _close(got, MinibatchStdDev(4)(x)[:, -1:], "stddev map"))]


def _w1(a, b):
    return (a.sort(-1).values - b.sort(-1).values).abs().mean()


@exercise("04.E2", "my_wasserstein_1d", "the 1D Wasserstein-1 distance of two equal-size samples, one row per direction.")
def _w1_cases(rng):
    # worked by hand: sort each row, pair them in order, average |a − b|
    a = torch.tensor([[0.0, 2.0, 1.0], [5.0, 5.0, 5.0]])
    b = torch.tensor([[1.0, 1.0, 4.0], [2.0, 8.0, 5.0]])
    # row 1: sorted (0,1,2) vs (1,1,4) → (1+0+2)/3 = 1; row 2: (5,5,5) vs (2,5,8) → (3+0+3)/3 = 2; mean 1.5
    c = torch.randn(4, 300, generator=rng(7))
    shift = float(torch.rand(1, generator=rng(9)) + 0.2)
    d, e = torch.randn(3, 50, generator=rng(10)), torch.randn(3, 50, generator=rng(11)) * 2
    return [Case((a, b), lambda got: _close(got, torch.tensor(1.5), "W1 of the worked example")),
            Case((c, c[:, torch.randperm(300, generator=rng(8))]), lambda got: _close(got, torch.tensor(0.0),
                 "W1 between a sample and a permutation of it")),
            Case((c, c + shift), lambda got: _close(got, torch.tensor(shift), f"W1 between a sample and its shift by {shift:.3g}")),
            Case((d, e), lambda got: _close(got, _w1(d, e), "W1 of two random samples"))]


# ----------------------------------------------------------------------------------------------
# 05 · Stabilizers

def _power_probe(fn, W, u, steps):
    """Run the answer's power step ``steps`` times from u; its last (σ, u, v)."""
    for _ in range(steps):
        sigma, u, v = fn(W, u)
    return sigma, u, v


def _power_judge(W):
    def judge(out):
        try:
            sigma, u, v = out
        except (TypeError, ValueError):
            raise WrongAnswer("the step must return three values: (σ, u, v)") from None
        sigma, u, v = (torch.as_tensor(t, dtype=torch.float32) for t in (sigma, u, v))
        _close(sigma, torch.linalg.matrix_norm(W, 2), "σ after 60 steps", atol=1e-3)
        _close(u.norm(), torch.tensor(1.0), "‖u‖")
        _close(W @ v, sigma * u, "W v = σ u", atol=1e-3)
    return judge


@exercise("05.E1", "my_power_step", "one power-iteration step for σ(W): returns (σ, u, v).", probe=_power_probe)
def _power(rng):
    g = rng(9)
    # singular values with a gap (σ₂/σ₁ ≤ 0.75), so 60 steps converge whatever the draw
    (U, _), (V, _) = torch.linalg.qr(torch.randn(12, 12, generator=g)), torch.linalg.qr(torch.randn(20, 12, generator=g))
    top = 2.0 + 6.0 * torch.rand(1, generator=g)
    rest = top * 0.75 * torch.rand(11, generator=g).sort(descending=True).values
    W = U @ torch.diag(torch.cat([top, rest])) @ V.t()
    u = torch.randn(12, generator=rng(10))
    return [Case((W, u / u.norm(), 60), _power_judge(W))]


def _r1_probe(fn, w1, b1, w2, b2, x, gamma):
    """The answer's R1 on a small MLP critic (rebuilt here from its weights); the value and whether it can be
    differentiated (create_graph=True), which is what lets D descend on it."""
    import torch

    def score(t):
        return (torch.tanh(t.flatten(1) @ w1.t() + b1) @ w2.t() + b2).squeeze(1)
    got = fn(score, x, gamma)
    return got, bool(getattr(got, "requires_grad", False))


def _r1_judge(w1, b1, w2, b2, x, gamma):
    def judge(out):
        from ..training.losses import r1_penalty
        try:
            got, differentiable = out
        except (TypeError, ValueError):
            raise WrongAnswer("expected the penalty (a tensor)") from None
        score = lambda t: (torch.tanh(t.flatten(1) @ w1.t() + b1) @ w2.t() + b2).squeeze(1)
        _close(got, 0.5 * gamma * r1_penalty(score, x), f"R1 with γ = {gamma:g}", atol=1e-6)
        if not differentiable:
            raise WrongAnswer("the penalty must stay differentiable (create_graph=True) so that D can descend on it")
    return judge


@exercise("05.E2", "my_r1", "the R1 penalty γ/2 · E‖∇ₓD(x)‖² on real images.", probe=_r1_probe)
def _r1(rng):
    g = rng(11)
    w1, b1 = torch.randn(8, 12, generator=g) * 0.5, torch.randn(8, generator=g) * 0.1
    w2, b2 = torch.randn(1, 8, generator=g) * 0.5, torch.randn(1, generator=g) * 0.1
    x = torch.randn(6, 3, 2, 2, generator=rng(12))
    gamma = float(torch.randint(1, 9, (1,), generator=g))
    return [Case((w1, b1, w2, b2, x, gamma), _r1_judge(w1, b1, w2, b2, x, gamma))]


# ----------------------------------------------------------------------------------------------
# 07 · Augmentation

@exercise("07.E1", "my_bcr", "bCR: λ_r·mean((D(x) − D(T(x)))²) + λ_f·mean((D(G(z)) − D(T(G(z))))²).")
def _bcr(rng):
    g = rng(13)
    a, b, c, d = (torch.randn(32, generator=g) for _ in range(4))
    lr, lf = float(torch.randint(1, 20, (1,), generator=g)), float(torch.randint(1, 5, (1,), generator=g))
    want = lr * (a - b).pow(2).mean() + lf * (c - d).pow(2).mean()
    return [Case((a, b, c, d), lambda got: _close(got, want, f"bCR with λ_real {lr:g}, λ_fake {lf:g}"),
                 dict(lambda_real=lr, lambda_fake=lf))]


@exercise("07.E2", "my_nt_xent", "NT-Xent (SimCLR) between two batches of projections.")
def _ntxent(rng):
    from ..papers.augment import nt_xent
    g = rng(14)
    z1, z2 = torch.randn(8, 5, generator=g), torch.randn(8, 5, generator=g)
    near = z1 + 0.01 * z2
    return [Case((z1, z2, 0.5), lambda got: _close(got, nt_xent(z1, z2, 0.5), "NT-Xent of random views, τ = 0.5", atol=1e-4)),
            Case((z1, near, 0.1), lambda got: _close(got, nt_xent(z1, near, 0.1), "NT-Xent of near-identical views, τ = 0.1",
                                                      atol=1e-4))]


# ----------------------------------------------------------------------------------------------
# 06 · AutoGAN

def _reinforce_probe(fn, log_probs, rewards, baseline, decay):
    """The answer's loss and new baseline, and the gradient of its loss with respect to the log-probabilities."""
    log_probs = log_probs.clone().requires_grad_(True)
    loss, b = fn(log_probs, rewards, baseline, decay)
    loss.backward()
    return loss.detach(), float(b), log_probs.grad


def _reinforce_judge(log_probs, rewards, baseline, decay):
    def judge(out):
        try:
            loss, b, grad = out
        except (TypeError, ValueError):
            raise WrongAnswer("expected (loss, new baseline)") from None
        want_b = decay * baseline + (1 - decay) * rewards.mean().item()      # updated before use
        _close(float(b), want_b, "the new baseline (update it with this step's mean reward first)")
        _close(loss, -(log_probs * (rewards - want_b)).mean(), "the loss")
        _close(grad, -(rewards - want_b) / len(rewards), "∂loss/∂log π: minus the advantage over m")
    return judge


@exercise("06.E1", "my_reinforce_loss", "REINFORCE with a moving-average baseline: (loss, new baseline).",
          probe=_reinforce_probe)
def _reinforce(rng):
    g = rng(15)
    n = int(torch.randint(3, 9, (1,), generator=g))
    log_probs = -torch.rand(n, generator=g) * 3
    rewards = torch.rand(n, generator=g) * 4
    baseline, decay = float(torch.rand(1, generator=g) * 3), float(0.5 + 0.45 * torch.rand(1, generator=g))
    return [Case((log_probs, rewards, baseline, decay), _reinforce_judge(log_probs, rewards, baseline, decay))]


def _reset_want(g, d, window, threshold) -> bool:
    from ..papers.nas.shared import DynamicReset
    spread = DynamicReset(window, threshold).spread
    return len(g) >= window and (spread(g[-window:]) < threshold or spread(d[-window:]) < threshold)


@exercise("06.E2", "my_should_reset", "the dynamic-reset rule on windows of G and D losses.")
def _reset(rng):
    g = rng(16)
    w = int(torch.randint(20, 60, (1,), generator=g))
    t = float(10 ** (-2 - torch.rand(1, generator=g)))                     # 1e-3 … 1e-2
    noisy = lambda n: (1.0 + 0.3 * torch.randn(n, generator=g)).tolist()
    flat = lambda n: (0.7 + 0.1 * t ** 0.5 * torch.randn(n, generator=g)).tolist()   # variance well below t
    cases = [(noisy(w + 10), noisy(w + 10), "noisy losses"), (flat(w + 5), noisy(w + 5), "G's losses flat"),
             (noisy(w + 5), flat(w + 5), "D's losses flat"), (flat(w // 2), flat(w // 2), "windows not yet full"),
             (noisy(10) + flat(w), noisy(w + 10), f"G flat over its last {w}"),
             (flat(10) + noisy(w), noisy(w + 10), "G flat long ago, noisy now")]
    return [Case((gl, dl, w, t), lambda got, gl=gl, dl=dl, what=what: _reset_judge(got, _reset_want(gl, dl, w, t), what))
            for gl, dl, what in cases]


def _reset_judge(got, want: bool, what: str) -> None:
    if not isinstance(got, (bool, int, float)) and not (isinstance(got, torch.Tensor) and got.numel() == 1):
        raise WrongAnswer(f"{what}: expected True or False, got a {type(got).__name__}")
    if bool(got) != want:
        raise WrongAnswer(f"{what}: should {'' if want else 'not '}reset")
