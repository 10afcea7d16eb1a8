"""The one training loop every notebook uses.

``Trainer(G, D, loss=...)`` alternates ``n_critic`` discriminator steps with one generator step
(Adam on both), keeps an EMA copy of G, and takes hooks:

- ``d_terms``: callables ``ctx -> scalar`` added to D's loss (WGAN-GP, R1, contrastive, ...);
- ``g_terms``: callables added to G's loss; ``g_loss_fn`` replaces G's loss (feature matching);
- ``augment``: applied to every batch D sees, real and fake;
- ``callbacks``: ``(trainer, ctx) -> dict | None`` after each step; dicts are logged.

With ``out_dir`` it writes ``log.jsonl`` (one JSON object per logged step), sample grids from
fixed noise, and every ``ckpt_every`` steps a checkpoint (models, optimisers, EMA, RNG states,
step, history). ``fit`` resumes from that checkpoint by itself, so a run killed and restarted ends
with the same numbers as one never interrupted (same seed, same device).
"""
from __future__ import annotations

import json
import os
import random
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel
from tqdm import tqdm

from . import CourseError, losses
from .data import batches
from .models import MLPDiscriminator, MLPGenerator

CHECKPOINT = "checkpoint.pt"


@dataclass
class Step:
    """What a hook sees: the step's batches, D's outputs on them, and the networks."""
    step: int
    real: torch.Tensor
    fake: torch.Tensor
    d_real: torch.Tensor | None
    d_fake: torch.Tensor | None
    G: nn.Module
    D: nn.Module
    labels: torch.Tensor | None = None


def _term_name(fn) -> str:
    return getattr(fn, "name", getattr(fn, "__name__", type(fn).__name__))


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


def ema_with_warmup(decay: float):
    """EMA whose decay ramps up as min(decay, (1 + n) / (10 + n)) after n updates, so that the
    average of a short run is not dominated by the random initialisation."""
    def avg_fn(averaged, current, num_averaged):
        n = float(num_averaged)
        beta = min(decay, (1.0 + n) / (10.0 + n))
        return beta * averaged + (1.0 - beta) * current
    return avg_fn


def atomic_save(obj, path: Path) -> None:
    """Write to a temporary file and rename: a kill mid-write never leaves a half checkpoint."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


class Trainer:
    def __init__(self, G: nn.Module, D: nn.Module, *, loss: str = "non_saturating",
                 z_dim: int | None = None, z_dist: str = "normal",
                 lr: float = 2e-4, lr_d: float | None = None, betas=(0.5, 0.999), n_critic: int = 1,
                 ema_decay: float = 0.999, ema_d: float | None = None, d_terms=(), g_terms=(),
                 d_loss_fn: Callable | None = None, g_loss_fn: Callable | None = None,
                 augment: Callable | None = None, callbacks=(), out_dir=None, ckpt_every: int = 0,
                 sample_every: int = 0, n_samples: int = 64, log_every: int = 50,
                 seed: int = 0, device="cpu", desc: str = "train", progress: bool = True,
                 run_id: dict | None = None):
        self.G, self.D = G.to(device), D.to(device)
        self.loss = losses.check_loss(loss)
        self.z_dim = z_dim if z_dim is not None else G.z_dim
        if z_dist not in ("normal", "uniform"):
            raise CourseError(f"z_dist must be 'normal' or 'uniform', not {z_dist!r}")
        self.z_dist, self.n_critic, self.device = z_dist, n_critic, torch.device(device)
        self.opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=betas)
        self.opt_d = torch.optim.Adam(D.parameters(), lr=lr_d or lr, betas=betas)
        self.G_ema = AveragedModel(G, avg_fn=ema_with_warmup(ema_decay), use_buffers=True)
        # An averaged D, for methods that evaluate D itself (the semi-supervised classifier).
        self.D_ema = AveragedModel(D, avg_fn=ema_with_warmup(ema_d), use_buffers=True) if ema_d else None
        self.d_terms, self.g_terms = list(d_terms), list(g_terms)
        self.d_loss_fn, self.g_loss_fn = d_loss_fn, g_loss_fn
        self.augment, self.callbacks = augment, list(callbacks)
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.ckpt_every, self.sample_every, self.log_every = ckpt_every, sample_every, log_every
        self.desc, self.progress = desc, progress
        # Fixed noise for sample grids comes from its own generator: it never moves the global RNG.
        self.fixed_z = self._noise(n_samples, torch.Generator().manual_seed(seed + 12345)).to(self.device)
        self.step, self.history, self.elapsed = 0, [], 0.0
        self._start, self.stopped_by = time.perf_counter(), None
        self.run_id = dict(loss=loss if d_loss_fn is None else _term_name(d_loss_fn), n_critic=n_critic,
                           z_dim=self.z_dim, seed=seed,
                           G=type(G).__name__, D=type(D).__name__, **(run_id or {}))
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self._resume()

    # -- sampling ------------------------------------------------------------------------------
    def _noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        dev = "cpu" if generator is not None else self.device
        if self.z_dist == "normal":
            return torch.randn(n, self.z_dim, generator=generator, device=dev)
        return torch.rand(n, self.z_dim, generator=generator, device=dev) * 2 - 1

    def noise(self, n: int) -> torch.Tensor:
        return self._noise(n)

    @torch.no_grad()
    def sample(self, n: int | None = None, ema: bool = True, z: torch.Tensor | None = None) -> torch.Tensor:
        """Samples from the EMA generator (eval mode); ``z`` defaults to the fixed noise."""
        net = self.G_ema.module if ema else self.G
        was_training = net.training
        net.eval()
        if z is None:
            z = self.fixed_z if n is None else self.noise(n)
        out = torch.cat([net(chunk) for chunk in z.split(1000)])
        net.train(was_training)
        return out

    # -- one step ------------------------------------------------------------------------------
    def _d(self, x):
        return self.D(self.augment(x) if self.augment is not None else x)

    @staticmethod
    def _descend(opt, loss: torch.Tensor, terms, ctx: Step, rec: dict) -> float:
        """One optimiser step on ``loss`` plus the hook terms (each logged by name); returns the bare loss."""
        total = loss
        for term in terms:
            value = term(ctx)
            rec[_term_name(term)] = value.item()
            total = total + value
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        return loss.item()

    def train_step(self, batches: Iterator) -> dict:
        rec = {}
        for _ in range(self.n_critic):
            real = next(batches)
            labels = None
            if isinstance(real, (tuple, list)):
                real, labels = real
            with torch.no_grad():
                fake = self.G(self.noise(real.shape[0]))
            d_real, d_fake = self._d(real), self._d(fake)
            ctx = Step(self.step, real, fake, d_real, d_fake, self.G, self.D, labels)
            loss_d = self.d_loss_fn(ctx) if self.d_loss_fn is not None else losses.d_loss(self.loss, d_real, d_fake)
            rec["d_loss"] = self._descend(self.opt_d, loss_d, self.d_terms, ctx, rec)
            if self.D_ema is not None:
                self.D_ema.update_parameters(self.D)
        fake = self.G(self.noise(real.shape[0]))
        d_fake = self._d(fake)
        ctx = Step(self.step, real, fake, None, d_fake, self.G, self.D, labels)
        loss_g = self.g_loss_fn(ctx) if self.g_loss_fn is not None else losses.g_loss(self.loss, d_fake)
        rec["g_loss"] = self._descend(self.opt_g, loss_g, self.g_terms, ctx, rec)
        self.G_ema.update_parameters(self.G)
        rec["d_real"], rec["d_fake"] = d_real.mean().item(), d_fake.mean().item()
        for cb in self.callbacks:
            rec.update(cb(self, ctx) or {})
        return rec

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
        ``time_budget`` seconds of training time; ``stopped_by`` says which came first."""
        bar = tqdm(total=steps, initial=self.step, desc=self.desc, disable=not self.progress,
                   dynamic_ncols=True, leave=False, mininterval=float(os.environ.get("TQDM_MININTERVAL", 2.0)))
        self._start = time.perf_counter() - self.elapsed
        self.stopped_by, rec = "steps", None
        while self.step < steps:
            if time_budget is not None and self.clock() >= time_budget:
                self.stopped_by = "time"
                break
            rec = self.train_step(batches)
            self.step += 1
            bar.update(1)
            if self.step % self.log_every == 0:
                self._log_step(rec)
                bar.set_postfix(d=f"{rec['d_loss']:.3f}", g=f"{rec['g_loss']:.3f}", refresh=False)
            if self.out_dir is not None and self.sample_every and self.step % self.sample_every == 0:
                with self.paused():
                    self.save_grid(self.out_dir / f"samples_{self.step:06d}.png")
            if self.out_dir is not None and self.ckpt_every and self.step % self.ckpt_every == 0:
                self.elapsed = self.clock()
                with self.paused():
                    self.save_checkpoint()
        bar.close()
        if rec is not None and self.step % self.log_every:      # the last step is always in the log
            self._log_step(rec)
        self.elapsed = self.clock()
        if self.out_dir is not None:
            self.save_checkpoint()
        return self.history

    # -- records -------------------------------------------------------------------------------
    def _log_step(self, rec: dict) -> None:
        """Append this step's record (with the training time so far) to the history and log.jsonl."""
        self.elapsed = self.clock()
        entry = dict(step=self.step, **rec, time=round(self.elapsed, 3))
        self.history.append(entry)
        if self.out_dir is not None:
            with open(self.out_dir / "log.jsonl", "a") as f:
                f.write(json.dumps(entry) + "\n")

    def save_grid(self, path, nrow: int = 8) -> None:
        from torchvision.utils import save_image
        x = self.sample()
        if x.dim() == 4:
            save_image(x.add(1).div(2).clamp(0, 1), path, nrow=nrow)

    def state_dict(self) -> dict:
        return dict(run_id=self.run_id, step=self.step, elapsed=self.elapsed, history=self.history,
                    G=self.G.state_dict(), D=self.D.state_dict(), G_ema=self.G_ema.state_dict(),
                    D_ema=self.D_ema.state_dict() if self.D_ema is not None else None,
                    opt_g=self.opt_g.state_dict(), opt_d=self.opt_d.state_dict(), rng=rng_state(),
                    hooks=[h.state_dict() for h in self._stateful_hooks()])

    def _stateful_hooks(self) -> list:
        """Hooks that carry state across steps (historical averaging): saved with the checkpoint."""
        hooks = [*self.d_terms, *self.g_terms, self.d_loss_fn, self.g_loss_fn, *self.callbacks]
        return [h for h in hooks if hasattr(h, "state_dict") and hasattr(h, "load_state_dict")]

    def save_checkpoint(self) -> Path:
        path = self.out_dir / CHECKPOINT
        atomic_save(self.state_dict(), path)
        return path

    def _resume(self) -> None:
        path = self.out_dir / CHECKPOINT
        if not path.exists():
            (self.out_dir / "log.jsonl").unlink(missing_ok=True)
            return
        try:
            state = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as exc:
            raise CourseError(f"checkpoint {path} cannot be read ({exc}); delete it to start afresh") from exc
        if state["run_id"] != self.run_id:
            raise CourseError(f"{path} belongs to another run ({state['run_id']}), not this one "
                              f"({self.run_id}). Use another out_dir, or delete it to start afresh.")
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
        # The log on disk may hold lines written after the checkpoint: rewrite it from the checkpoint.
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


def train_mixture_gan(mix, loss: str, steps: int, batch_size: int = 256, hidden: int = 128,
                      z_dim: int = 2, device="cpu", seed: int = 0, out_dir=None, lr: float = 1e-4,
                      **trainer_kw) -> Trainer:
    """The 2D benchmark recipe: MLP G and D (3 hidden layers), Adam (lr 1e-4 by default), β=(0.5, 0.9).

    The Wasserstein loss gets WGAN-GP's toy settings (λ = 0.1, 5 critic steps), as in
    Gulrajani et al.'s 2D experiments; the others train D and G in turn.
    """
    torch.manual_seed(seed)
    G, D = MLPGenerator(z_dim, hidden), MLPDiscriminator(2, hidden)
    kw = dict(lr=lr, betas=(0.5, 0.9), ema_decay=0.99, log_every=max(1, steps // 100))
    if loss == "wasserstein":
        kw.update(n_critic=5, d_terms=[losses.WGANGP(0.1)])
    kw.update(trainer_kw)
    trainer = Trainer(G, D, loss=loss, z_dim=z_dim, device=device, seed=seed, out_dir=out_dir,
                      desc=f"{mix.name}/{loss}", run_id=dict(mixture=mix.name, hidden=hidden, lr=lr), **kw)
    data = mix.sample(max(50_000, batch_size * 10), device=device)
    trainer.fit(batches(data, batch_size), steps)
    return trainer
