"""The one training loop every notebook uses: read it top to bottom in one sitting.

``Trainer(G, D, loss=...)`` alternates ``n_critic`` discriminator steps with one generator step
(Adam on both), keeps an EMA copy of G, and takes hooks:

- ``d_terms``: callables ``ctx -> scalar`` added to D's loss (WGAN-GP, R1, contrastive, ...);
- ``g_terms``: callables added to G's loss; ``g_loss_fn`` replaces G's loss (feature matching);
- ``augment``: applied to what D sees: reals, and fakes too unless ``augment_fakes=False``;
- ``callbacks``: ``(trainer, ctx) -> dict | None`` after each step; dicts are logged.

A hook that is an ``nn.Module`` (a projection head, say) is trained with the player whose loss it
joins: its parameters are added to D's optimiser (``d_terms``, ``d_loss_fn``) or G's (``g_terms``,
``g_loss_fn``), and it is checkpointed. A hook with ``state_dict``/``load_state_dict`` is checkpointed.

What the loop composes, each part in its own file with the one thing it guarantees:
``checkpoint`` (identity, save, resume), ``guards`` (NaN/Inf stop), ``clock`` (training time, the
time budget), ``records`` (history, log.jsonl, progress, grids), ``optim`` (Adam, EMA), ``fast``
(compiled steps) and ``ranks`` (data-parallel training under torchrun).

The step never waits for the device: losses stay on it and are read back every ``log_every`` steps.
G's step scores its fakes with D only when its loss asks (feature matching does not); D's step makes
its fakes without G's graph. Evaluation never touches the global RNG: ``sample(n, draw=d)`` takes its
noise from a generator derived from the run's seed, the evaluation's name and the draw.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import torch
from torch import nn

from .. import CourseError
from .. import threads, timing
from . import losses, ranks
from .checkpoint import Checkpoints, as_json, check_stream, describe, describe_module
from .clock import Clock
from .fast import compile_players, fast_path_default, term_name
from .guards import DivergenceGuard
from .optim import adam, ema
from .records import RunLog, save_grid
from .sampling import Sampling


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


class Trainer(Sampling):
    def __init__(self, G: nn.Module, D: nn.Module, *,
                 loss: str = "non_saturating",  # the GAN objective: minimax | non_saturating | hinge | wasserstein
                 z_dim: int | None = None,       # noise dimension (default: G.z_dim)
                 z_dist: str = "normal",         # p(z): 'normal' N(0, I), 'uniform' U[-1, 1], 'uniform01' U[0, 1)
                 lr: float = 2e-4,               # Adam's learning rate for G (and D unless lr_d); DCGAN 2e-4
                 lr_d: float | None = None,      # D's own learning rate (two time-scale update rule), or None
                 betas=(0.5, 0.999),             # Adam's β; DCGAN (0.5, 0.999), WGAN-GP (0.5, 0.9), PGGAN (0, 0.99)
                 eps: float = 1e-8,              # Adam's ε (torch's default; the K+1 code's official one ≈ 1e-4)
                 n_critic: int = 1,              # D steps per G step (WGAN-GP: 5)
                 ema_decay: float = 0.999,       # EMA of G's weights (warm-up: see optim.ema_with_warmup), for samples
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
                 fast: bool | None = None,       # the fast path (compiled steps, see fast.py); None: the profile's
                 thread_free: bool = False,      # same numbers at any CPU thread count (test_threads): threads follow the load
                 device="cpu", desc: str = "train", progress: bool = True):
        # Convolution weights channels-last: 15-20 % faster DCGAN steps on a 2-core CPU (mkldnn), and the
        # layout tensor cores want on a GPU; an MLP is untouched (only 4-D tensors change layout).
        self.G, self.D = (m.to(device, memory_format=torch.channels_last) for m in (G, D))
        self.loss, self.z_dim = losses.check_loss(loss), (z_dim if z_dim is not None else G.z_dim)
        if z_dist not in ("normal", "uniform", "uniform01"):
            raise CourseError(f"z_dist must be 'normal', 'uniform' or 'uniform01', not {z_dist!r}")
        if not isinstance(n_critic, int) or n_critic < 1:
            raise CourseError(f"n_critic must be a positive integer, not {n_critic!r}")
        self.z_dist, self.n_critic, self.device, self.seed = z_dist, n_critic, torch.device(device), seed
        self.d_constraint, self.n_classes = d_constraint, n_classes
        self.d_terms, self.g_terms, self.d_loss_fn, self.g_loss_fn = list(d_terms), list(g_terms), d_loss_fn, g_loss_fn
        self.augment, self.augment_fakes, self.callbacks = augment, augment_fakes, list(callbacks)
        self.pace = threads.RunThreads(out_dir or desc, thread_free, device)   # CPU threads (gancourse.threads)
        # Hooks that are networks learn with the player whose loss they join.
        d_hooks = [h.to(device) for h in (*self.d_terms, d_loss_fn) if isinstance(h, nn.Module)]
        g_hooks = [h.to(device) for h in (*self.g_terms, g_loss_fn) if isinstance(h, nn.Module)]
        self.opt_g = adam([p for m in (G, *g_hooks) for p in m.parameters()], lr=lr, betas=betas, eps=eps)
        self.opt_d = adam([p for m in (D, *d_hooks) for p in m.parameters()], lr=lr_d or lr, betas=betas, eps=eps)
        self.G_ema, self.D_ema = ema(G, ema_decay), ema(D, ema_d)   # D's: for methods that evaluate D (K+1)
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.ckpt_every, self.sample_every, self.desc, self.progress = ckpt_every, sample_every, desc, progress
        self.fixed_z = self.eval_noise(n_samples, "fixed grid")   # its own generator: the global RNG never moves
        self.fixed_y = torch.arange(n_samples, device=self.device) % n_classes if n_classes else None
        self.step, self.history, self.elapsed, self.stopped_by, self.stream = 0, [], 0.0, None, None
        self.identity = as_json(dict(
            loss=loss, z_dim=self.z_dim, z_dist=z_dist, lr=lr, lr_d=lr_d, betas=list(betas), eps=eps, n_critic=n_critic,
            ema_decay=ema_decay, ema_d=ema_d, seed=seed, G=describe_module(G), D=describe_module(D),
            d_terms=[describe(h) for h in self.d_terms], g_terms=[describe(h) for h in self.g_terms],
            d_loss_fn=describe(d_loss_fn), g_loss_fn=describe(g_loss_fn), augment=describe(augment),
            augment_fakes=augment_fakes if augment is not None else None, d_constraint=describe(d_constraint),
            n_classes=n_classes, callbacks=[describe(h) for h in self.callbacks], data=data_id))
        # The composed parts. The fast path is not part of the identity: same numbers within float tolerance.
        self.fast = fast_path_default() if fast is None else bool(fast)
        hooks = (*self.d_terms, self.d_loss_fn, *self.g_terms, self.g_loss_fn)
        self.compiled = compile_players(self.G, self.D, hooks, self.device) if self.fast else ()
        self.timer, self.log = Clock(self.device), RunLog(self.out_dir, log_every, desc, progress)
        self.checkpoints = Checkpoints(self.out_dir) if self.out_dir is not None else None
        self.guard = DivergenceGuard(desc, self.checkpoints.path if self.checkpoints is not None else None)
        if self.checkpoints is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self.checkpoints.resume(self)

    # -- one step: n_critic steps of D, then one of G ------------------------------------------------
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
            rec[term_name(term)] = value.detach()
            total = total + value
        opt.zero_grad(set_to_none=True)
        total.backward()
        ranks.average_gradients(p for group in opt.param_groups for p in group["params"])
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

    # -- the loop -----------------------------------------------------------------------------------
    @timing.timed("training")
    def fit(self, batches: Iterator, steps: int, time_budget: float | None = None) -> list[dict]:
        """Train until ``steps`` generator steps in all (resuming from a checkpoint if any), or until
        ``time_budget`` seconds of training time; ``stopped_by`` says which came first. ``batches``
        from ``data.batches`` carry their batch size and data size, checked against a resumed run's."""
        if not isinstance(steps, int) or steps < 0:
            raise CourseError(f"steps must be a non-negative integer, not {steps!r}")
        check_stream(self, getattr(batches, "identity", None))
        with self.pace:
            self.log.open(total=steps, initial=self.step)
            self.timer.start(self.elapsed)
            self.stopped_by, rec = "steps", None
            while self.step < steps:
                if time_budget is not None and self.clock() >= time_budget:
                    self.stopped_by = "time"
                    break
                self.pace.tick()
                rec = self.train_step(batches)
                self.guard.watch(rec, self.step + 1)
                self.step += 1
                self.log.bar.update(1)
                if self.step % self.log.every == 0:
                    self.guard.verify(self.step, {"G": self.G, "D": self.D})
                    rec = self._record(rec)
                    self.log.show_losses(rec)
                if self.out_dir is not None and self.sample_every and self.step % self.sample_every == 0 and ranks.is_main():
                    with self.paused():
                        self.save_grid(self.out_dir / f"samples_{self.step:06d}.png")
                if self.checkpoints is not None and self.ckpt_every and self.step % self.ckpt_every == 0:
                    self.guard.verify()                       # a checkpoint is only ever written after good steps
                    self.elapsed = self.clock()
                    with self.paused():
                        self.save_checkpoint()
            self.log.close()
            if rec is not None:
                with self.paused():                                    # not training time: a resumed run agrees
                    self.guard.verify(self.step, {"G": self.G, "D": self.D})
                if self.step % self.log.every:                          # the last step is always in the log
                    self._record(rec)
                self.elapsed = self.clock()                            # a finished run resumed stays as it was
                if self.checkpoints is not None and self.checkpoints.saved_at != self.step:
                    self.save_checkpoint()
        return self.history

    def _record(self, rec: dict) -> dict:
        rec = self.log.read(rec)
        self.elapsed = self.clock()
        self.log.write(self.history, self.step, rec, self.elapsed)
        return rec

    # -- what the composed parts offer, by the trainer's names ------------------------------------------
    def clock(self) -> float:
        """Seconds of training so far, paused time excluded."""
        return self.timer.seconds()

    def paused(self):
        """Time spent inside (evaluations, snapshots, checkpoints) does not count as training time."""
        return self.timer.paused()

    def save_grid(self, path, nrow: int = 8) -> None:
        save_grid(self.sample(), path, nrow)

    def stateful_hooks(self) -> list:
        """Hooks that carry state across steps (historical averaging, growth, networks): checkpointed."""
        hooks = [*self.d_terms, *self.g_terms, self.d_loss_fn, self.g_loss_fn, self.augment, *self.callbacks]
        return [h for h in hooks if hasattr(h, "state_dict") and hasattr(h, "load_state_dict")]

    def save_checkpoint(self) -> Path:
        """Rank 0 writes (under torch.distributed every rank holds the same state)."""
        return self.checkpoints.save(self)


@timing.timed("training")
def fit_discriminator(D: nn.Module, G: nn.Module, batches: Iterator, steps: int, loss: str = "non_saturating",
                      lr: float = 2e-4, betas=(0.5, 0.999)) -> list[float]:
    """Train D alone against a fixed G (the setting of Goodfellow et al.'s saturation argument)."""
    opt = torch.optim.Adam(D.parameters(), lr=lr, betas=betas)
    out = []
    with threads.training("fit_discriminator", next(D.parameters()).device):
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
