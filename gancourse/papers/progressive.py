"""Progressive growing (Karras et al. 2018, §2 and Appendix A): the schedule, the fade-in of real
images, the trainer callback that grows the networks, the Table-1-style ablation rows, and the cost
model that compares progressive and fixed-size training at equal compute (FLOPs, not seconds: the same
comparison on every machine).

Training starts at 4×4. Each phase shows ``train_kimg`` thousand real images at one resolution, then
fades the next one in over ``fade_kimg`` (lod falls linearly from n to n−1; α = 1 − frac(lod)).
Real images are faded the same way as G's output, and Adam's moments are reset whenever a new layer
appears or the fade ends, as in the official code (``reset_opt_for_new_lod``).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from .. import CourseError
from ..training import losses
from ..instruments import swd
from ..data import batches, to_uint8
from ..nn.models import ProDiscriminator, ProGenerator
from ..training import Trainer


@dataclass
class Schedule:
    """lod as a function of real images shown (the official ``TrainingSchedule``)."""
    resolution: int
    start: int = 4
    train_kimg: float = 600.0
    fade_kimg: float = 600.0

    def lod(self, nimg: int) -> float:
        if self.start >= self.resolution:
            return 0.0
        kimg = nimg / 1000.0
        phase_len = self.train_kimg + self.fade_kimg
        phase = math.floor(kimg / phase_len)
        into = kimg - phase * phase_len
        lod = math.log2(self.resolution) - math.log2(self.start) - phase
        lod -= max(into - self.train_kimg, 0.0) / self.fade_kimg
        return max(lod, 0.0)

    def kimg_at_full_size(self) -> float:
        """When the last fade-in ends and the full-size network trains alone."""
        if self.start >= self.resolution:
            return 0.0
        return math.log2(self.resolution // self.start) * (self.train_kimg + self.fade_kimg)

    def describe(self, nimg: int) -> str:
        lod = self.lod(nimg)
        res = self.resolution >> math.floor(lod)      # during a fade, the resolution being faded in
        return f"{'train' if lod == math.floor(lod) else 'fade in'} {res}×{res}"


def fade_reals(x: torch.Tensor, lod: float) -> torch.Tensor:
    """Real images as D must see them at ``lod``: box-filtered to the current resolution, blended with
    the level below during a fade-in, and upscaled (nearest) back to full size (official ``process_reals``)."""
    level = math.floor(lod)
    factor = 2 ** level
    if factor > 1:
        x = F.avg_pool2d(x, factor)
    if lod > level:
        x = torch.lerp(x, F.interpolate(F.avg_pool2d(x, 2), scale_factor=2.0, mode="nearest"), lod - level)
    return F.interpolate(x, scale_factor=float(factor), mode="nearest") if factor > 1 else x


def set_lod(trainer: Trainer, lod: float) -> None:
    for net in (trainer.G, trainer.D, trainer.G_ema.module):
        net.lod = lod


def reset_adam(opt: torch.optim.Optimizer) -> None:
    opt.state.clear()


class Growth:
    """Trainer callback: after every step, sets the lod of G, D and EMA G for the next one from the
    images D has seen (step × batch × n_critic); resets both optimisers when floor(lod) or ceil(lod)
    changes; keeps a few EMA samples of each resolution just before it is grown out of."""

    def __init__(self, schedule: Schedule, batch_size: int, n_critic: int, n_snapshots: int = 16):
        self.schedule, self.images_per_step = schedule, batch_size * n_critic
        self.n_snapshots = n_snapshots
        self.lod, self.resets, self.snapshots = None, 0, {}

    def nimg(self, step: int) -> int:
        return step * self.images_per_step

    def apply(self, trainer: Trainer, steps_done: int | None = None) -> dict:
        steps_done = trainer.step if steps_done is None else steps_done
        lod = self.schedule.lod(self.nimg(steps_done))
        if self.lod is not None and (math.floor(lod) != math.floor(self.lod) or math.ceil(lod) != math.ceil(self.lod)):
            if lod < self.lod and self.lod == math.floor(self.lod):   # a fade-in starts: keep the last samples
                self.snapshot(trainer)
            reset_adam(trainer.opt_g)
            reset_adam(trainer.opt_d)
            self.resets += 1
        self.lod = lod
        set_lod(trainer, lod)
        return {"lod": round(lod, 4), "kimg": self.nimg(steps_done) / 1000}

    def __call__(self, trainer: Trainer, ctx) -> dict:
        return self.apply(trainer, trainer.step + 1)      # callbacks run before the trainer counts the step

    def snapshot(self, trainer: Trainer) -> None:
        with trainer.paused():
            x = trainer.sample(z=trainer.fixed_z[:self.n_snapshots]).cpu()
        res = trainer.G.current_resolution
        self.snapshots[res] = F.avg_pool2d(x, x.shape[-1] // res) if x.shape[-1] > res else x

    def state_dict(self) -> dict:
        return {"lod": self.lod, "resets": self.resets, "snapshots": self.snapshots}

    def load_state_dict(self, state: dict) -> None:
        self.lod, self.resets, self.snapshots = state["lod"], state["resets"], state["snapshots"]


class SWDCurve:
    """Trainer callback: SWD per level between EMA G's samples and real images, every ``every_kimg``
    thousand images shown or at the images shown ``at_kimg`` (evaluation time is not training time)."""

    def __init__(self, reference_u8: torch.Tensor, images_per_step: int, every_kimg: float | None = None,
                 at_kimg=None, seed: int = 0):
        if (every_kimg is None) == (at_kimg is None):
            raise CourseError("SWDCurve: give every_kimg or at_kimg, not both")
        self.reference, self.images_per_step = reference_u8, images_per_step
        self.every, self.at, self.seed = every_kimg, sorted(at_kimg or []), seed
        self.records: list[dict] = []
        self._ref: swd.Reference | None = None             # the real side, computed at the first point

    def evaluate(self, trainer: Trainer, t: float, steps_done: int | None = None) -> dict:
        steps_done = trainer.step if steps_done is None else steps_done
        with trainer.paused():
            fake = to_uint8(trainer.sample(len(self.reference), name="swd curve")).cpu()
            if self._ref is None:
                self._ref = swd.Reference(self.reference, device=trainer.device, seed=self.seed)
            dist = self._ref.compare(fake)
        rec = {"time": round(t, 3), "step": steps_done, "kimg": steps_done * self.images_per_step / 1000,
               "lod": float(getattr(trainer.G, "lod", 0.0)), **{str(k): v for k, v in dist.items()}}
        self.records.append(rec)
        return rec

    def state_dict(self) -> dict:
        return {"records": self.records, "at": self.at}

    def load_state_dict(self, state: dict) -> None:
        self.records, self.at = list(state["records"]), list(state["at"])

    def __call__(self, trainer: Trainer, ctx) -> dict | None:
        done = trainer.step + 1                             # callbacks run before the trainer counts the step
        kimg = done * self.images_per_step / 1000
        if self.every is not None:
            every = round(self.every * 1000)
            if done * self.images_per_step // every > (done - 1) * self.images_per_step // every:
                return {"swd_avg": self.evaluate(trainer, trainer.clock(), done)["avg"]}
            return None
        if self.at and kimg >= self.at[0] - 1e-9:
            while self.at and kimg >= self.at[0] - 1e-9:
                self.at.pop(0)
            return {"swd_avg": self.evaluate(trainer, trainer.clock(), done)["avg"]}
        return None


# --------------------------------------------------------------------------------------------
# The ablation, cumulative like the paper's Table 1, with its row letters (§6.1; the official Theano
# config.py lists what each switches). (a) is Gulrajani et al.'s WGAN-GP set-up: fixed size,
# BatchNorm + ReLU + tanh in G, layer norm in D, 5 critic steps, Adam 1e-4, β = (0, 0.9), no drift.
# Left out: (c) minibatch 16 (the batch stays the same in every row), (e*) minibatch discrimination
# (notebook 02), (h) training to convergence.

BASELINE = dict(growing=False, n_critic=5, lr=1e-4, betas=(0.0, 0.9), drift=0.0,
                G=dict(equalized=False, pixelnorm=False, batchnorm=True, leaky=False, normalize_latent=False, tanh=True),
                D=dict(equalized=False, mbstd=False, layernorm=True))

ROWS = {
    "(a) WGAN-GP baseline": {},
    "(b) + progressive growing": dict(growing=True),
    # one critic step, β₂ = 0.99, ε_drift, and no BN/LN (leaky ReLU, normalised z, linear out)
    "(d) + revised training": dict(n_critic=1, betas=(0.0, 0.99), drift=0.001,
                                   G=dict(batchnorm=False, leaky=True, normalize_latent=True, tanh=False),
                                   D=dict(layernorm=False)),
    "(e) + minibatch stddev": dict(D=dict(mbstd=True)),
    "(f) + equalized learning rate": dict(lr=1e-3, G=dict(equalized=True), D=dict(equalized=True)),
    "(g) + pixelwise normalization": dict(G=dict(pixelnorm=True)),
}


def row_config(name: str) -> dict:
    """The configuration of ablation row ``name``: the baseline with every row up to it applied."""
    if name not in ROWS:
        raise CourseError(f"unknown ablation row {name!r}; rows: {', '.join(ROWS)}")
    cfg = {**BASELINE, "G": dict(BASELINE["G"]), "D": dict(BASELINE["D"])}
    for row, change in ROWS.items():
        for key, value in change.items():
            if key in ("G", "D"):
                cfg[key].update(value)
            else:
                cfg[key] = value
        if row == name:
            return cfg
    raise AssertionError


PGGAN = "(g) + pixelwise normalization"


@dataclass
class Run:
    name: str
    trainer: Trainer
    growth: Growth
    curve: SWDCurve | None
    config: dict
    kimg: float
    seconds: float
    stopped_by: str
    final: dict = field(default_factory=dict)


def train(name: str, config: dict, images: torch.Tensor, *, kimg: float, schedule: Schedule, width: int,
          z_dim: int = 128, batch_size: int = 64, curve_reference: torch.Tensor | None = None,
          every_kimg: float | None = None, at_kimg=None, ema_decay: float = 0.999, log_every: int | None = None,
          ckpt_every: int | None = None, device="cpu", seed: int = 0, out_dir=None, data_id: dict | None = None,
          progress: bool = True) -> Run:
    """Train one row: ``images`` are floats in [-1, 1] (N, C, R, R) on ``device``; stops at ``kimg``
    thousand real images shown to D (images, not seconds: the same run on every machine).
    The log has a line every ``log_every`` steps (default: a hundred lines over ``kimg``). With
    ``out_dir`` it checkpoints every ``ckpt_every`` steps (default: ten times over ``kimg``) and a
    rerun resumes, growth, Adam resets and SWD curve included. A run with an SWD curve ends with
    one more point at its last step."""
    torch.manual_seed(seed)
    channels, res = images.shape[1], images.shape[-1]
    G = ProGenerator(z_dim, channels, res, width, **config["G"])
    D = ProDiscriminator(channels, res, width, **config["D"])
    if not config["growing"]:
        schedule = Schedule(res, start=res)
    n_critic = config["n_critic"]
    growth = Growth(schedule, batch_size, n_critic)
    curve = None
    if curve_reference is not None:
        curve = SWDCurve(curve_reference, batch_size * n_critic, every_kimg=every_kimg, at_kimg=at_kimg, seed=seed)
    d_terms = [losses.WGANGP(10.0)] + ([losses.Drift(config["drift"])] if config["drift"] else [])
    steps = math.ceil(kimg * 1000 / (batch_size * n_critic))
    trainer = Trainer(G, D, loss="wasserstein", lr=config["lr"], betas=config["betas"], n_critic=n_critic,
                      ema_decay=ema_decay, d_terms=d_terms, callbacks=[growth] + ([curve] if curve else []),
                      device=device, seed=seed, desc=name, progress=progress, out_dir=out_dir,
                      ckpt_every=ckpt_every or max(1, steps // 10), data_id=dict(data_id or {}, kimg=kimg),
                      log_every=log_every or max(1, steps // 100))
    growth.apply(trainer)
    reals = batches(images, batch_size).map(lambda x: fade_reals(x, growth.lod))
    trainer.fit(reals, steps)
    growth.snapshot(trainer)
    if curve is not None and (not curve.records or curve.records[-1]["step"] < trainer.step):
        curve.evaluate(trainer, trainer.elapsed)
    return Run(name, trainer, growth, curve, config, growth.nimg(trainer.step) / 1000, trainer.elapsed,
               trainer.stopped_by)


def _one_step_trainer(config: dict, channels: int, resolution: int, width: int, z_dim: int, batch_size: int):
    """A throwaway trainer of row ``config`` (the networks and losses ``train`` builds), for counting."""
    G = ProGenerator(z_dim, channels, resolution, width, **config["G"])
    D = ProDiscriminator(channels, resolution, width, **config["D"])
    d_terms = [losses.WGANGP(10.0)] + ([losses.Drift(config["drift"])] if config["drift"] else [])
    return Trainer(G, D, loss="wasserstein", lr=config["lr"], betas=config["betas"], n_critic=config["n_critic"],
                   d_terms=d_terms, progress=False, log_every=10**9)


class _WholeRun:
    """FlopCounterMode's module tracker, minus its module hooks (they refuse the penalty's autograd.grad)."""
    parents = {"Global"}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def count_flops(fn) -> int:
    """FLOPs of ``fn()``: every matrix product and convolution it runs, forward and backward (a gradient
    penalty's double backward included), by torch's FLOP formulas (``FlopCounterMode``); element-wise work
    is not counted. A multiply-add is 2 FLOPs."""
    counter = FlopCounterMode(display=False)
    counter.mod_tracker = _WholeRun()
    with counter:
        fn()
    return counter.get_total_flops()


@dataclass
class CostModel:
    """FLOPs of one training step of a row at every stage of growing, counted on one real step of each
    (``step_costs``): ``lod`` → FLOPs, at each whole lod (one resolution) and at each fade (lod n − ½: both
    the new layers and the skip run). A run's compute is the sum over its steps; the same on every machine."""
    costs: dict[float, int]
    images_per_step: int

    def step(self, lod: float) -> int:
        """FLOPs of a step at ``lod`` (a fixed-size row has one cost: it never grows, whatever the schedule)."""
        if list(self.costs) == [0.0]:
            return self.costs[0.0]
        key = float(lod) if lod == math.floor(lod) else math.floor(lod) + 0.5
        return self.costs[key]

    def run_flops(self, schedule: Schedule, steps: int) -> float:
        """FLOPs of ``steps`` training steps of a run on ``schedule`` (step s trains at lod(s · images a step))."""
        return float(sum(self.step(schedule.lod(s * self.images_per_step)) for s in range(steps)))

    def describe(self, resolution: int) -> str:
        parts = []
        for lod in sorted(self.costs, reverse=True):
            res = resolution >> math.ceil(lod)
            what = f"{res}" if lod == math.floor(lod) else f"{res}→{2 * res}"
            parts.append(f"{what} px {self.costs[lod] / self.images_per_step / 1e6:.1f}")
        return "MFLOPs an image shown: " + ", ".join(parts)


def step_costs(config: dict, channels: int, resolution: int, width: int, z_dim: int, batch_size: int) -> CostModel:
    """The cost model of row ``config``: one step counted at each stage (a growing row) or at full size."""
    torch_state = torch.get_rng_state()
    tr = _one_step_trainer(config, channels, resolution, width, z_dim, batch_size)
    top = math.log2(resolution) - 2
    lods = [float(top - i * 0.5) for i in range(int(2 * top) + 1)] if config["growing"] else [0.0]
    reals = itertools.repeat(torch.zeros(batch_size, channels, resolution, resolution))
    costs = {}
    for lod in lods:
        set_lod(tr, lod)
        costs[lod] = count_flops(lambda: tr.train_step(reals))
    torch.set_rng_state(torch_state)                  # counting draws noise: the run's own RNG stream is untouched
    return CostModel(costs, batch_size * config["n_critic"])


def equal_compute(prog: Run, images: torch.Tensor, *, cost_prog: CostModel, cost_fixed: CostModel,
                  schedule: Schedule, out_dir=None, **common) -> Run:
    """The same network trained at fixed full size on exactly the compute (FLOPs) the progressive run ``prog``
    used, its SWD measured at the same compute as ``prog``'s curve (Figure 4, in small). ``common``: the
    keyword arguments ``prog`` was trained with (width, batch size, ...)."""
    if prog.curve is None:
        raise CourseError("equal_compute needs a progressive run trained with an SWD curve (curve_reference)")
    per_image = cost_fixed.step(0.0) / cost_fixed.images_per_step
    kimg_at = lambda step: cost_prog.run_flops(schedule, step) / per_image / 1000
    config = {**prog.config, "growing": False}
    kw = {k: v for k, v in common.items() if k not in ("every_kimg", "kimg")}
    kimg = kimg_at(prog.trainer.step)
    return train(f"{prog.name} at fixed size", config, images, kimg=kimg, schedule=schedule,
                 curve_reference=prog.curve.reference, at_kimg=[kimg_at(r["step"]) for r in prog.curve.records[:-1]],
                 log_every=max(1, prog.trainer.step // 100), ckpt_every=max(1, prog.trainer.step // 10),
                 out_dir=out_dir, **kw)


def fade_frames(G: ProGenerator, z: torch.Tensor, lods) -> torch.Tensor:
    """G's images for the same ``z`` at each lod in ``lods`` (a fade-in frame by frame), stacked
    (len(lods), N, C, R, R); G's own lod and mode are restored afterwards."""
    lod, training = G.lod, G.training
    G.eval()
    try:
        frames = []
        for value in lods:
            G.lod = value
            frames.append(G(z))
        return torch.stack(frames)
    finally:
        G.lod = lod
        G.train(training)


def pad_to_power_of_two(images_u8: torch.Tensor) -> torch.Tensor:
    """MNIST's 28×28 → 32×32 with a 2-pixel black border (as the official dataset_tool prepares MNIST)."""
    size = images_u8.shape[-1]
    target = 2 ** math.ceil(math.log2(size))
    if target == size:
        return images_u8
    lo = (target - size) // 2
    return F.pad(images_u8, (lo, target - size - lo, lo, target - size - lo))
