"""The one training loop every notebook uses.

``Trainer(G, D, loss=...)`` alternates ``n_critic`` discriminator steps with one generator step
(Adam on both), keeps an EMA copy of G, and takes hooks:

- ``d_terms``: callables ``ctx -> scalar`` added to D's loss (WGAN-GP, R1, contrastive, ...);
- ``g_terms``: callables added to G's loss; ``g_loss_fn`` replaces G's loss (feature matching);
- ``augment``: applied to what D sees: reals, and fakes too unless ``augment_fakes=False``;
- ``callbacks``: ``(trainer, ctx) -> dict | None`` after each step; dicts are logged.

A hook that is an ``nn.Module`` (a projection head, say) is trained with the player whose loss it
joins: its parameters are added to D's optimiser (``d_terms``, ``d_loss_fn``) or G's (``g_terms``,
``g_loss_fn``), and it is checkpointed. A hook with ``state_dict``/``load_state_dict`` is checkpointed.

A run's identity is built by the trainer itself from all of its settings, both networks'
architectures and every hook's own settings (a hook may say what matters with ``describe()``);
callers add only what the trainer cannot know (``data_id``: the data). With ``out_dir`` it writes
``log.jsonl``, sample grids from fixed noise and, every ``ckpt_every`` steps and at the end, a
checkpoint (models, optimisers, EMA, hooks, RNG states, step, history). A new ``Trainer`` on the same
``out_dir`` resumes from it, and refuses a checkpoint of any other run, naming what differs; a run
killed and restarted ends with the same numbers as one never interrupted (same seed, same device).

The step never waits for the device: losses stay on it and are read back every ``log_every`` steps
(and before each checkpoint), one host sync for all of them; a non-finite loss is still named at
the step it happened. G's step scores its fakes with D only when its loss asks (feature matching
does not); D's step makes its fakes without G's graph.

The fast path (``fast=True``; by default on for the course and paper profiles on a GPU,
``GANCOURSE_FAST=0|1`` overrides) compiles G's and D's forward and backward passes with
``torch.compile``: on CUDA in the mode that captures them in CUDA graphs (``reduce-overhead``: one
launch per graph instead of one per kernel), with cuDNN autotuning; on a
CPU in inductor's default mode. A D that a hook differentiates twice (R1, WGAN-GP: ``double_backward``)
stays eager, since compiled graphs have no double backward. Same numbers as the plain path within
float tolerance; checkpoints are interchangeable between the two.

Evaluation never touches the global RNG: ``sample(n, draw=d)`` takes its noise from a generator
derived from the run's seed, the evaluation's name and the draw (``gancourse.seeding``).
"""
from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import math
import os
import random
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from . import CourseError, distributed, losses, progress, seeding

CHECKPOINT = "checkpoint.pt"
FAST_ENV = "GANCOURSE_FAST"
_fast_default = False       # set by notebook.start from the profile: profiles.fast_path(profile, device)


def use_fast_path(on: bool) -> None:
    """The default of ``Trainer(fast=None)`` from now on (notebook.start sets it from the profile)."""
    global _fast_default
    _fast_default = bool(on)


def fast_path_default() -> bool:
    """``GANCOURSE_FAST=1`` / ``0`` if set, else what ``use_fast_path`` last said."""
    env = os.environ.get(FAST_ENV, "").strip()
    if env in ("0", "1"):
        return env == "1"
    if env:
        raise CourseError(f"{FAST_ENV} must be 0 or 1, not {env!r}")
    return _fast_default


@dataclass
class Step:
    """What a hook sees: the step's batches, D's outputs on them, and the networks. In G's step,
    ``d_fake`` is computed the first time a hook asks for it (feature matching never does)."""
    step: int
    real: torch.Tensor
    fake: torch.Tensor
    d_real: torch.Tensor | None
    _d_fake: torch.Tensor | None
    G: nn.Module
    D: nn.Module
    labels: torch.Tensor | None = None
    conditional: bool = False
    score_fake: Callable | None = None      # () -> D's score of ``fake``, for a lazy ``d_fake``

    @property
    def d_fake(self) -> torch.Tensor | None:
        if self._d_fake is None and self.score_fake is not None:
            self._d_fake = self.score_fake()
        return self._d_fake

    def critic(self, x: torch.Tensor) -> torch.Tensor:
        """D's score of ``x`` (with this step's labels when D is class-conditional): for penalties."""
        return self.D(x, self.labels) if self.conditional else self.D(x)


def _term_name(fn) -> str:
    return getattr(fn, "name", getattr(fn, "__name__", type(fn).__name__))


# -- a run's identity ---------------------------------------------------------------------------

def _plain(v):
    """JSON-able settings only: numbers, strings, None, and lists/dicts/dataclasses of them; else None."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, (list, tuple)):
        items = [_plain(x) for x in v]
        return items if all(x is not None or y is None for x, y in zip(items, v)) else None
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return {f.name: _plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
    return None


def describe_module(m: nn.Module) -> str:
    """Class name, parameter count and a hash of the architecture (its repr and every tensor's shape)."""
    shapes = [(k, tuple(v.shape)) for k, v in m.state_dict().items()]
    digest = hashlib.sha1((repr(m) + repr(shapes)).encode()).hexdigest()[:12]
    return f"{type(m).__name__} ({sum(p.numel() for p in m.parameters()):,} parameters, arch {digest})"


def describe(hook) -> dict | str | None:
    """What a hook contributes to a run's identity: its own ``describe()``, or its name plus its
    plain settings (public attributes that are numbers, strings, or lists/dataclasses of them),
    plus the architecture of any network it holds."""
    if hook is None:
        return None
    if hasattr(hook, "describe"):
        return hook.describe()
    if inspect.isfunction(hook) or inspect.ismethod(hook) or inspect.isbuiltin(hook):
        return f"{hook.__module__}.{hook.__qualname__}"
    out = {"hook": f"{type(hook).__module__}.{type(hook).__qualname__}"}
    for k, v in sorted(vars(hook).items() if hasattr(hook, "__dict__") else []):
        if k.startswith("_") or k == "training":
            continue
        if isinstance(v, nn.Module):
            out[k] = describe_module(v)
        elif _plain(v) is not None:
            out[k] = _plain(v)
    return out


def _json(x):
    return json.loads(json.dumps(x, sort_keys=True))


def _differences(saved: dict, current: dict) -> str:
    keys = sorted(set(saved) | set(current), key=str)
    diff = [f"{k}: {saved.get(k, '—')!r} → {current.get(k, '—')!r}" for k in keys if saved.get(k) != current.get(k)]
    return "; ".join(diff)


# -- RNG, EMA, files ------------------------------------------------------------------------------

def rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def adam(params, lr: float, betas, eps: float = 1e-8) -> torch.optim.Adam:
    """Adam with its fused kernel (one launch for all parameters) when every parameter is a float CUDA
    tensor; torch's default otherwise. Same update. Not fused on a CPU: there it is 3-5x faster on idle
    cores but, with two threads and another process on the cores, ~80 ms a step (an OpenMP barrier per
    tensor; benchmarks/bench_adam.py)."""
    params = list(params)
    fused = bool(params) and all(p.is_floating_point() and p.device.type == "cuda" for p in params)
    return torch.optim.Adam(params, lr=lr, betas=betas, eps=eps, fused=fused or None)


def ema_with_warmup(decay: float):
    """EMA whose decay ramps up as min(decay, (1 + n) / (10 + n)) after n updates, so that the
    average of a short run is not dominated by the random initialisation."""
    def avg_fn(averaged, current, num_averaged):
        n = float(num_averaged)
        beta = min(decay, (1.0 + n) / (10.0 + n))
        return beta * averaged + (1.0 - beta) * current
    return avg_fn


class Diverged(CourseError):
    """A loss or a weight became NaN or infinite: the run stops, its last good checkpoint is kept."""


def previous(path: Path) -> Path:
    """Where the checkpoint before ``path`` is kept (``checkpoint.prev.pt``)."""
    return path.with_name(path.stem + ".prev" + path.suffix)


def atomic_save(obj, path: Path, keep_previous: bool = False) -> None:
    """Write to a temporary file, flush it to disk, and rename: a kill mid-write never leaves a half
    file under ``path``. With ``keep_previous`` the file it replaces becomes ``previous(path)``, the
    fallback if ``path`` is ever unreadable. A failed write (disk full, read-only) leaves nothing
    half-written and says so."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        if keep_previous and path.exists():
            os.replace(path, previous(path))
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CourseError(f"could not write {path} ({exc.strerror or exc}): free some disk space or choose "
                          "another out_dir; the last complete checkpoint is kept") from exc


class Trainer:
    def __init__(self, G: nn.Module, D: nn.Module, *,
                 loss: str = "non_saturating",  # the GAN objective: minimax | non_saturating | hinge | wasserstein
                 z_dim: int | None = None,       # noise dimension (default: G.z_dim)
                 z_dist: str = "normal",         # p(z): 'normal' N(0, I), 'uniform' U[-1, 1], 'uniform01' U[0, 1)
                 lr: float = 2e-4,               # Adam's learning rate for G (and D unless lr_d); DCGAN 2e-4
                 lr_d: float | None = None,      # D's own learning rate (two time-scale update rule), or None
                 betas=(0.5, 0.999),             # Adam's β; DCGAN (0.5, 0.999), WGAN-GP (0.5, 0.9), PGGAN (0, 0.99)
                 eps: float = 1e-8,              # Adam's ε (torch's default; the K+1 code's official one ≈ 1e-4)
                 n_critic: int = 1,              # D steps per G step (WGAN-GP: 5)
                 ema_decay: float = 0.999,       # EMA of G's weights (warm-up: see ema_with_warmup), for samples
                 ema_d: float | None = None,     # EMA of D's weights too (the K+1 classifier), or None
                 d_terms=(),                     # hooks ctx -> scalar added to D's loss (GP, R1, drift, bCR, ...)
                 g_terms=(),                     # hooks added to G's loss (historical averaging, ...)
                 d_loss_fn: Callable | None = None,  # hook replacing D's loss (label smoothing, K+1)
                 g_loss_fn: Callable | None = None,  # hook replacing G's loss (feature matching)
                 augment: Callable | None = None,    # x -> t(x) on what D sees (differentiable augmentation)
                 augment_fakes: bool = True,     # augment fakes as well (D's and G's steps), or reals only
                 d_constraint: Callable | None = None,  # D -> None after each D step (WGAN's weight clipping)
                 n_classes: int = 0,             # > 0: class-conditional G(z, y), D(x, y); fakes get the reals' labels
                 callbacks=(),                   # (trainer, ctx) -> dict | None after each step; dicts are logged
                 data_id: dict | None = None,    # what the trainer cannot know: the data's identity
                 out_dir=None,                   # checkpoints, log.jsonl and sample grids go here (None: nowhere)
                 ckpt_every: int = 0,            # checkpoint every N steps (and always at the end)
                 sample_every: int = 0,          # save a grid of fixed-noise samples every N steps
                 n_samples: int = 64,            # size of that grid
                 log_every: int = 50,            # a history / log.jsonl record every N steps
                 seed: int = 0,                  # the run's seed: fixed noise, evaluation draws, identity
                 fast: bool | None = None,       # the fast path (compiled steps; see above); None: the profile's default
                 device="cpu", desc: str = "train", progress: bool = True):
        # Convolution weights channels-last: 15-20 % faster DCGAN steps on a 2-core CPU (mkldnn), and the
        # layout tensor cores want on a GPU; an MLP is untouched (only 4-D tensors change layout).
        self.G = G.to(device, memory_format=torch.channels_last)
        self.D = D.to(device, memory_format=torch.channels_last)
        self.loss = losses.check_loss(loss)
        self.z_dim = z_dim if z_dim is not None else G.z_dim
        if z_dist not in ("normal", "uniform", "uniform01"):
            raise CourseError(f"z_dist must be 'normal', 'uniform' or 'uniform01', not {z_dist!r}")
        if not isinstance(n_critic, int) or n_critic < 1:
            raise CourseError(f"n_critic must be a positive integer, not {n_critic!r}")
        self.z_dist, self.n_critic, self.device, self.seed = z_dist, n_critic, torch.device(device), seed
        self.d_terms, self.g_terms = list(d_terms), list(g_terms)
        self.d_loss_fn, self.g_loss_fn = d_loss_fn, g_loss_fn
        self.augment, self.augment_fakes, self.callbacks = augment, augment_fakes, list(callbacks)
        self.d_constraint, self.n_classes = d_constraint, n_classes
        # Hooks that are networks learn with the player whose loss they join.
        d_hooks = [h for h in (*self.d_terms, d_loss_fn) if isinstance(h, nn.Module)]
        g_hooks = [h for h in (*self.g_terms, g_loss_fn) if isinstance(h, nn.Module)]
        for h in (*d_hooks, *g_hooks):
            h.to(device)
        self.opt_g = adam([p for m in (G, *g_hooks) for p in m.parameters()], lr=lr, betas=betas, eps=eps)
        self.opt_d = adam([p for m in (D, *d_hooks) for p in m.parameters()], lr=lr_d or lr, betas=betas, eps=eps)
        self.G_ema = AveragedModel(G, avg_fn=ema_with_warmup(ema_decay), use_buffers=True)
        # An averaged D, for methods that evaluate D itself (the semi-supervised classifier).
        self.D_ema = AveragedModel(D, avg_fn=ema_with_warmup(ema_d), use_buffers=True) if ema_d else None
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.ckpt_every, self.sample_every, self.log_every = ckpt_every, sample_every, log_every
        self.desc, self.progress = desc, progress
        # Fixed noise for sample grids comes from its own generator: it never moves the global RNG.
        self.fixed_z = self.eval_noise(n_samples, "fixed grid")
        self.fixed_y = torch.arange(n_samples, device=self.device) % n_classes if n_classes else None
        self.step, self.history, self.elapsed = 0, [], 0.0
        self._start, self.stopped_by = time.perf_counter(), None
        self.identity = _json(dict(
            loss=loss, z_dim=self.z_dim, z_dist=z_dist, lr=lr, lr_d=lr_d, betas=list(betas), eps=eps,
            n_critic=n_critic,
            ema_decay=ema_decay, ema_d=ema_d, seed=seed, G=describe_module(G), D=describe_module(D),
            d_terms=[describe(h) for h in self.d_terms], g_terms=[describe(h) for h in self.g_terms],
            d_loss_fn=describe(d_loss_fn), g_loss_fn=describe(g_loss_fn), augment=describe(augment),
            augment_fakes=augment_fakes if augment is not None else None, d_constraint=describe(d_constraint),
            n_classes=n_classes,
            callbacks=[describe(h) for h in self.callbacks], data=data_id))
        # Not part of the identity: the fast path gives the plain path's numbers (within float tolerance).
        self.fast = fast_path_default() if fast is None else bool(fast)
        self.compiled = self._compile() if self.fast else ()
        self.stream = None        # the data stream's identity (batch size, data set size), known at fit()
        self._watch_keys, self._bad_step, self._bad_vals = None, None, None   # see _watch
        self._saved_at = None     # the step of the last checkpoint written
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self._resume()

    # -- the fast path ---------------------------------------------------------------------------
    def _compile(self) -> tuple[str, ...]:
        """Compile G's and D's calls in place (their state_dict keys do not change, so checkpoints stay
        interchangeable); the EMA copies were made before and stay eager. Returns which were compiled."""
        hooks = (*self.d_terms, self.d_loss_fn, *self.g_terms, self.g_loss_fn)
        twice = [_term_name(h) for h in hooks if getattr(h, "double_backward", False)]
        cuda = self.device.type == "cuda"
        if cuda:
            torch.backends.cudnn.benchmark = True
        mode = "reduce-overhead" if cuda else "default"
        compiled = []
        for name, net in (("G", self.G), ("D", self.D)):
            if name == "D" and twice:
                continue                       # compiled graphs have no double backward (R1, WGAN-GP)
            net.compile(mode=mode, dynamic=False)
            compiled.append(name)
        return tuple(compiled)

    # -- sampling ------------------------------------------------------------------------------
    def _noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        dev = "cpu" if generator is not None else self.device
        if self.z_dist == "normal":
            z = torch.randn(n, self.z_dim, generator=generator, device=dev)
        else:
            z = torch.rand(n, self.z_dim, generator=generator, device=dev)
            z = z * 2 - 1 if self.z_dist == "uniform" else z
        return z.to(self.device)

    def noise(self, n: int) -> torch.Tensor:
        """Training noise, from the global RNG (seeded and checkpointed with the run); under
        torch.distributed, this process's share of the noise of the global batch."""
        world = distributed.rank_world()[1]
        return distributed.share(self._noise(n * world)) if world > 1 else self._noise(n)

    def eval_noise(self, n: int, name: str = "samples", draw: int = 0) -> torch.Tensor:
        """Evaluation noise: the same for the same (run seed, name, draw), whatever ran before."""
        return self._noise(n, seeding.generator(self.seed, name, draw))

    def eval_labels(self, n: int, name: str = "samples", draw: int = 0) -> torch.Tensor:
        """Evaluation labels of a conditional generator: uniform over classes, seeded like eval_noise."""
        g = seeding.generator(self.seed, name, "labels", draw)
        return torch.randint(self.n_classes, (n,), generator=g).to(self.device)

    @torch.no_grad()
    def sample(self, n: int | None = None, ema: bool = True, z: torch.Tensor | None = None,
               name: str = "samples", draw: int = 0, y: torch.Tensor | None = None) -> torch.Tensor:
        """Samples from the EMA generator (eval mode): at ``z``; or ``n`` of them at
        ``eval_noise(n, name, draw)``; or, with neither, at the fixed grid noise. A conditional
        generator takes labels ``y`` (default: the grid's, or ``eval_labels``)."""
        net = self.G_ema.module if ema else self.G
        was_training = net.training
        net.eval()
        if z is None:
            z = self.fixed_z if n is None else self.eval_noise(n, name, draw)
            if self.n_classes and y is None:
                y = self.fixed_y if n is None else self.eval_labels(n, name, draw)
        if self.n_classes:
            if y is None:
                raise CourseError("a conditional generator's samples need labels y")
            out = torch.cat([net(zc, yc) for zc, yc in zip(z.split(1000), y.split(1000))])
        else:
            out = torch.cat([net(chunk) for chunk in z.split(1000)])
        net.train(was_training)
        return out

    # -- one step ------------------------------------------------------------------------------
    def _d(self, x, is_fake: bool, labels=None):
        if self.augment is not None and (self.augment_fakes or not is_fake):
            x = self.augment(x)
        return self.D(x, labels) if self.n_classes else self.D(x)

    def _g(self, n: int, labels=None):
        return self.G(self.noise(n), labels) if self.n_classes else self.G(self.noise(n))

    @staticmethod
    def _descend(opt, loss: torch.Tensor, terms, ctx: Step, rec: dict) -> torch.Tensor:
        """One optimiser step on ``loss`` plus the hook terms (each logged by name); returns the bare
        loss, detached: values stay on the device until a log step reads them (no host sync per step)."""
        total = loss
        for term in terms:
            value = term(ctx)
            rec[_term_name(term)] = value.detach()
            total = total + value
        opt.zero_grad(set_to_none=True)
        total.backward()
        distributed.average_gradients(p for group in opt.param_groups for p in group["params"])
        opt.step()
        return loss.detach()

    def train_step(self, batches: Iterator) -> dict:
        rec = {}
        if self.compiled and self.device.type == "cuda":
            torch.compiler.cudagraph_mark_step_begin()      # the previous step's graph outputs may be reused
        for _ in range(self.n_critic):
            real = next(batches)
            labels = None
            if isinstance(real, (tuple, list)):
                real, labels = real
            if self.n_classes and labels is None:
                raise CourseError("a conditional GAN needs labelled batches: data.batches(x, n, labels=y)")
            with torch.no_grad():
                fake = self._g(real.shape[0], labels)
            d_real, d_fake = self._d(real, False, labels), self._d(fake, True, labels)
            ctx = Step(self.step, real, fake, d_real, d_fake, self.G, self.D, labels, bool(self.n_classes))
            loss_d = self.d_loss_fn(ctx) if self.d_loss_fn is not None else losses.d_loss(self.loss, d_real, d_fake)
            rec["d_loss"] = self._descend(self.opt_d, loss_d, self.d_terms, ctx, rec)
            if self.d_constraint is not None:
                self.d_constraint(self.D)
            if self.D_ema is not None:
                self.D_ema.update_parameters(self.D)
        rec["d_real"], rec["d_fake"] = d_real.detach().mean(), d_fake.detach().mean()   # D's scores in its step
        fake = self._g(real.shape[0], labels)
        ctx = Step(self.step, real, fake, None, None, self.G, self.D, labels, bool(self.n_classes),
                   score_fake=lambda: self._d(fake, True, labels))
        loss_g = self.g_loss_fn(ctx) if self.g_loss_fn is not None else losses.g_loss(self.loss, ctx.d_fake)
        rec["g_loss"] = self._descend(self.opt_g, loss_g, self.g_terms, ctx, rec)
        self.G_ema.update_parameters(self.G)
        for cb in self.callbacks:
            rec.update(cb(self, ctx) or {})
        return rec

    # -- reading the step's numbers back -------------------------------------------------------------
    def _watch(self, rec: dict) -> None:
        """Remember, on the device, the first step whose losses were not finite (no host sync); python
        floats (from callbacks) are checked at once."""
        bad = [f"{k} = {v}" for k, v in rec.items() if isinstance(v, float) and not math.isfinite(v)]
        if bad:
            self._diverged(self.step + 1, bad)
        keys = [k for k, v in rec.items() if torch.is_tensor(v)]
        if not keys:
            return
        if keys != self._watch_keys:
            self._verify()                                # a new set of losses: settle the old one first
            self._watch_keys, self._bad_step = keys, None
        vals = torch.stack([rec[k].float() for k in keys])
        if self._bad_step is None:
            self._bad_step = torch.full((), math.inf, device=vals.device)
            self._bad_vals = torch.zeros_like(vals)
        first = ~torch.isfinite(vals).all() & torch.isinf(self._bad_step)
        self._bad_step = torch.where(first, torch.full_like(self._bad_step, self.step + 1), self._bad_step)
        self._bad_vals = torch.where(first, vals, self._bad_vals)

    def _verify(self, weights: bool = False) -> None:
        """Raise Diverged if a watched step's losses (or, with ``weights``, a weight now) are not finite."""
        if self._bad_step is not None and math.isfinite(step := self._bad_step.item()):
            self._diverged(int(step), [f"{k} = {v}" for k, v in zip(self._watch_keys, self._bad_vals.tolist())
                                       if not math.isfinite(v)])
        if weights:
            bad = [f"a weight of {name}" for name, net in (("G", self.G), ("D", self.D))
                   if not all(torch.isfinite(p).all() for p in net.parameters())]
            if bad:
                self._diverged(self.step, bad)

    def _read(self, rec: dict) -> dict:
        """The record as python floats (one host sync), averaged over ranks under torch.distributed."""
        keys = [k for k, v in rec.items() if torch.is_tensor(v)]
        if keys:
            rec = {**rec, **dict(zip(keys, torch.stack([rec[k].float() for k in keys]).tolist()))}
        return distributed.mean_over_ranks(rec)          # the global batch's numbers, on every rank

    def _now(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)   # the GPU's queued work counts where it was queued
        return time.perf_counter()

    def clock(self) -> float:
        """Seconds of training so far, paused time excluded."""
        return self._now() - self._start

    @contextmanager
    def paused(self):
        """Time spent inside (evaluations, snapshots, checkpoints) does not count as training time."""
        t0 = self._now()
        try:
            yield
        finally:
            self._start += self._now() - t0

    def fit(self, batches: Iterator, steps: int, time_budget: float | None = None) -> list[dict]:
        """Train until ``steps`` generator steps in all (resuming from a checkpoint if any), or until
        ``time_budget`` seconds of training time; ``stopped_by`` says which came first. ``batches``
        from ``data.batches`` carry their batch size and data size, checked against a resumed run's."""
        if not isinstance(steps, int) or steps < 0:
            raise CourseError(f"steps must be a non-negative integer, not {steps!r}")
        self._check_stream(getattr(batches, "identity", None))
        bar = progress.bar(total=steps, initial=self.step, desc=self.desc, enabled=self.progress and distributed.is_main())
        self._start = time.perf_counter() - self.elapsed
        self.stopped_by, rec = "steps", None
        while self.step < steps:
            if time_budget is not None and self.clock() >= time_budget:
                self.stopped_by = "time"
                break
            rec = self.train_step(batches)
            self._watch(rec)
            self.step += 1
            bar.update(1)
            if self.step % self.log_every == 0:
                self._verify(weights=True)
                rec = self._read(rec)
                self._log_step(rec)
                bar.set_postfix(d=f"{rec['d_loss']:.3f}", g=f"{rec['g_loss']:.3f}", refresh=False)
            if self.out_dir is not None and self.sample_every and self.step % self.sample_every == 0 and distributed.is_main():
                with self.paused():
                    self.save_grid(self.out_dir / f"samples_{self.step:06d}.png")
            if self.out_dir is not None and self.ckpt_every and self.step % self.ckpt_every == 0:
                self._verify()                            # a checkpoint is only ever written after good steps
                self.elapsed = self.clock()
                with self.paused():
                    self.save_checkpoint()
        bar.close()
        if rec is not None:
            with self.paused():                                    # not training time: a resumed run agrees
                self._verify(weights=True)
        if rec is not None and self.step % self.log_every:      # the last step is always in the log
            self._log_step(self._read(rec))
        if rec is not None:                                        # a finished run resumed stays as it was
            self.elapsed = self.clock()
            if self.out_dir is not None and self._saved_at != self.step:
                self.save_checkpoint()
        return self.history

    def _diverged(self, step: int, bad: list[str]) -> None:
        """Stop, naming the first step whose losses (watched every step, read at log steps and before
        each checkpoint) or weights (checked once a logging interval) were not finite; the last good
        checkpoint stays as it is."""
        kept = self.out_dir is not None and (self.out_dir / CHECKPOINT).exists()
        where = f"; the last good checkpoint is kept in {self.out_dir}" if kept else ""
        raise Diverged(f"{self.desc}: training diverged at step {step}: {', '.join(bad)}{where}. "
                       "Lower the learning rate or add a stabilizer (gradient penalty, spectral norm).")

    def _check_stream(self, stream: dict | None) -> None:
        if stream is None:
            return
        stream = _json(stream)
        if self.stream is not None and self.stream != stream:
            where = self.out_dir / CHECKPOINT if self.out_dir is not None else "this trainer"
            raise CourseError(f"{where} was trained on another data stream ({_differences(self.stream, stream)}). "
                              "Use another out_dir, or delete it to start afresh.")
        self.stream = stream

    # -- records -------------------------------------------------------------------------------
    def _log_step(self, rec: dict) -> None:
        """Append this step's record (with the training time so far) to the history and log.jsonl."""
        self.elapsed = self.clock()
        entry = dict(step=self.step, **rec, time=round(self.elapsed, 3))
        self.history.append(entry)
        if self.out_dir is not None and distributed.is_main():
            with open(self.out_dir / "log.jsonl", "a") as f:
                f.write(json.dumps(entry) + "\n")

    def save_grid(self, path, nrow: int = 8) -> None:
        from torchvision.utils import save_image
        x = self.sample()
        if x.dim() == 4:
            save_image(x.add(1).div(2).clamp(0, 1), path, nrow=nrow)

    def state_dict(self) -> dict:
        return dict(identity=self.identity, stream=self.stream, step=self.step, elapsed=self.elapsed, history=self.history,
                    G=self.G.state_dict(), D=self.D.state_dict(), G_ema=self.G_ema.state_dict(),
                    D_ema=self.D_ema.state_dict() if self.D_ema is not None else None,
                    opt_g=self.opt_g.state_dict(), opt_d=self.opt_d.state_dict(), rng=rng_state(),
                    hooks=[h.state_dict() for h in self._stateful_hooks()])

    def _stateful_hooks(self) -> list:
        """Hooks that carry state across steps (historical averaging, growth, networks): checkpointed."""
        hooks = [*self.d_terms, *self.g_terms, self.d_loss_fn, self.g_loss_fn, self.augment, *self.callbacks]
        return [h for h in hooks if hasattr(h, "state_dict") and hasattr(h, "load_state_dict")]

    def save_checkpoint(self) -> Path:
        """Rank 0 writes (under torch.distributed every rank holds the same state)."""
        path = self.out_dir / CHECKPOINT
        if distributed.is_main():
            atomic_save(self.state_dict(), path, keep_previous=True)
        self._saved_at = self.step
        return path

    def _load_checkpoint(self) -> tuple[dict | None, Path | None]:
        """The newest readable checkpoint: checkpoint.pt, or (with a warning naming the file) the one before."""
        path = self.out_dir / CHECKPOINT
        problems = []
        for candidate in (path, previous(path)):
            if not candidate.exists():
                continue
            try:
                state = torch.load(candidate, map_location="cpu", weights_only=False)
            except Exception as exc:
                problems.append(f"{candidate} cannot be read ({exc.__class__.__name__}: {exc})")
                continue
            if problems or candidate != path:
                why = problems[0] if problems else f"{path} is missing (the run was killed between two renames)"
                warnings.warn(f"{why}; resuming from the previous checkpoint {candidate}", stacklevel=3)
            return state, candidate
        if problems:
            raise CourseError("; ".join(problems) + f". Delete {self.out_dir} to start afresh (gancourse run --fresh).")
        return None, None

    def _resume(self) -> None:
        state, path = self._load_checkpoint()
        if state is None:
            if distributed.is_main():
                (self.out_dir / "log.jsonl").unlink(missing_ok=True)
            return
        saved = state.get("identity", state.get("run_id"))
        if saved != self.identity:
            what = _differences(saved, self.identity) if isinstance(saved, dict) else "an older format"
            raise CourseError(f"{path} belongs to another run, not this one ({what}). "
                              "Use another out_dir, or delete it to start afresh (gancourse run --fresh).")
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self.G_ema.load_state_dict(state["G_ema"])
        if self.D_ema is not None:
            self.D_ema.load_state_dict(state["D_ema"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        for hook, hook_state in zip(self._stateful_hooks(), state.get("hooks", [])):
            hook.load_state_dict(hook_state)
        set_rng_state(state["rng"])
        self.step, self.elapsed, self.history = state["step"], state["elapsed"], state["history"]
        self.stream = state.get("stream")
        # The log on disk may hold lines written after the checkpoint: rewrite it from the checkpoint.
        if distributed.is_main():
            with open(self.out_dir / "log.jsonl", "w") as f:
                f.writelines(json.dumps(r) + "\n" for r in self.history)
        if self.progress:
            print(f"{self.desc}: resumed from {path} at step {self.step}")


def fit_discriminator(D: nn.Module, G: nn.Module, batches: Iterator, steps: int, loss: str = "non_saturating",
                      lr: float = 2e-4, betas=(0.5, 0.999)) -> list[float]:
    """Train D alone against a fixed G (the setting of Goodfellow et al.'s saturation argument)."""
    opt = torch.optim.Adam(D.parameters(), lr=lr, betas=betas)
    out = []
    for _ in range(steps):
        real = next(batches)
        with torch.no_grad():
            fake = G(torch.randn(real.shape[0], G.z_dim, device=real.device))
        l = losses.d_loss(loss, D(real), D(fake))
        opt.zero_grad(set_to_none=True)
        l.backward()
        opt.step()
        out.append(l.item())
    return out
