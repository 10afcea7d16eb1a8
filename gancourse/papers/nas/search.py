"""AutoGAN's multi-level search (Gong et al. 2019, §3.5): stage by stage, controller steps and shared
training, a beam of the top-K architectures carried to the next stage; random search at the same
budget; derive and retrain. Official code: ``search.py``, ``exps/autogan_search.sh``."""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ... import CourseError, progress, seeding, threads
from ...data import ImageSet, batches, to_float
from ...instruments.extractors import Extractor
from ...nn.models.autogan import CellArch, SharedGenerator, StageDiscriminator, xavier_init
from ...nn.models.dcgan import DCGANGenerator
from ...training import Trainer, atomic_save, rng_state, set_rng_state
from .controller import Beam, Controller, UniformPolicy, reinforce_step
from .shared import DynamicReset, timed_reward, train_shared

CHECKPOINT = "search.pt"


# -- the search ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SearchConfig:
    """Every number of a search. Defaults: the official ``exps/autogan_search.sh`` and ``cfg.py``."""
    iterations: tuple[int, ...] = (15, 20, 30)  # search iterations per stage (grow_step1 15, grow_step2 35, max 65)
    shared_steps: int = 11730         # D batches per iteration: shared_epoch 15 × 782 batches of 64 (CIFAR-10)
    ctrl_steps: int = 30              # REINFORCE steps per iteration (ctrl_step)
    ctrl_batch: int = 1               # children per REINFORCE step (ctrl_sample_batch)
    n_candidates: int = 10            # architectures proposed at each growth and at the end (num_candidate)
    beam: int = 5                     # kept of them (topk)
    n_reward: int = 5000              # samples per reward (rl_num_eval_img)
    width: int = 128                  # shared G channels (gf_dim)
    d_width: int = 64                 # D channels (df_dim)
    z_dim: int = 128
    batch_size: int = 64              # D batch (dis_bs)
    g_batch_size: int = 128           # G batch (gen_bs)
    n_critic: int = 5
    lr: float = 2e-4                  # both players' Adam, betas (0, 0.9)
    betas: tuple[float, float] = (0.0, 0.9)
    hidden: int = 100                 # controller LSTM (hid_size)
    ctrl_lr: float = 3.5e-4           # controller Adam; the official code gives it betas (0, 0.9) too
    baseline_decay: float = 0.9
    entropy_weight: float = 1e-4      # the paper; cfg.py's default (used by the official script) is 1e-3
    reset_window: int = 500
    reset_threshold: float = 1e-3
    reset_statistic: str = "var"      # official code: variance; the paper's text: std
    policy: str = "controller"        # or 'random': random search at the same budget

    @property
    def stages(self) -> int:
        return len(self.iterations)

    def children_per_stage(self) -> list[int]:
        """Children scored in each stage: REINFORCE samples plus the candidates at its end."""
        return [n * self.ctrl_steps * self.ctrl_batch + self.n_candidates for n in self.iterations]


@dataclass
class SearchLog:
    """Records for live plots, each a dict with ``kind``: 'shared' (losses, steps, reset, seconds),
    'controller' (mean reward, baseline, entropy, seconds), 'child' (arch vector, reward, seconds),
    'beam' (top-K vectors and rewards); all carry stage, iteration and the resets so far.
    ``on_record(record)``, if set, is called on each new one (a live plot)."""
    records: list[dict] = field(default_factory=list)
    on_record: Callable[[dict], None] | None = None

    def add(self, kind: str, **values) -> dict:
        rec = {"kind": kind, **values}
        self.records.append(rec)
        if self.on_record is not None:
            self.on_record(rec)
        return rec

    def of(self, kind: str) -> list[dict]:
        return [r for r in self.records if r["kind"] == kind]

    def column(self, kind: str, key: str) -> list:
        return [r[key] for r in self.of(kind)]


@dataclass
class SearchResult:
    beam: Beam                        # the derived architectures: top-K of the last stage, best first
    log: SearchLog
    G: SharedGenerator
    D: StageDiscriminator
    policy: nn.Module

    @property
    def best(self) -> tuple[CellArch, ...]:
        return self.beam.archs[0]


def _make_policy(cfg: SearchConfig, stage: int):
    if cfg.policy == "random":
        return UniformPolicy(stage, cfg.hidden), None
    if cfg.policy != "controller":
        raise CourseError(f"policy must be 'controller' or 'random', not {cfg.policy!r}")
    controller = Controller(stage, cfg.hidden)
    return controller, torch.optim.Adam(controller.parameters(), cfg.ctrl_lr, betas=cfg.betas)


def _make_shared(cfg: SearchConfig, channels: int, device):
    """The shared G and D, initialised as the official ``create_shared_gan``, with fresh Adams."""
    G = xavier_init(SharedGenerator(cfg.stages, cfg.z_dim, cfg.width, channels)).to(device)
    D = xavier_init(StageDiscriminator(cfg.d_width, channels, stage=0)).to(device)
    return (G, D, torch.optim.Adam(G.parameters(), cfg.lr, betas=cfg.betas),
            torch.optim.Adam(D.parameters(), cfg.lr, betas=cfg.betas))


def top_k(G, policy, beam: Beam | None, extractor: Extractor, cfg: SearchConfig, seed: int, log: SearchLog,
          where: dict) -> Beam:
    """Official ``get_topk_arch_hidden``: ``n_candidates`` architectures from the policy, each scored
    by ``reward``; the ``beam`` best, with their LSTM states, best first."""
    with torch.no_grad():
        s = policy.sample(cfg.n_candidates, beam)
    scored = []
    for i, archs in enumerate(s.archs):
        r, sec = timed_reward(G, archs, extractor, n=cfg.n_reward, seed=seed)
        log.add("child", **where, source="candidate", arch=s.vectors[i].tolist(), reward=r, seconds=sec)
        scored.append((r, i))
    keep = [i for _, i in sorted(scored, key=lambda t: -t[0])[:cfg.beam]]
    out = Beam(s.vectors[keep], (s.hidden[0][keep].detach(), s.hidden[1][keep].detach()), [scored[i][0] for i in keep])
    log.add("beam", **where, archs=out.vectors.tolist(), rewards=out.rewards)
    return out


def _controller_steps(G, policy, opt, beam, extractor, cfg, seed, log, where) -> None:
    """``ctrl_steps`` REINFORCE steps; the baseline restarts each iteration, as in the official code."""
    baseline = None
    for step in range(cfg.ctrl_steps):
        s = policy.sample(cfg.ctrl_batch, beam)
        rewards, seconds = [], 0.0
        for i, archs in enumerate(s.archs):
            r, sec = timed_reward(G, archs, extractor, n=cfg.n_reward, seed=seed)
            log.add("child", **where, source="controller", arch=s.vectors[i].tolist(), reward=r, seconds=sec)
            rewards.append(r)
            seconds += sec
        if opt is not None:
            baseline = reinforce_step(policy, opt, s, rewards, baseline, cfg.baseline_decay, cfg.entropy_weight)
        log.add("controller", **where, step=step, reward=sum(rewards) / len(rewards), baseline=baseline,
                entropy=s.entropy.mean().item(), seconds=seconds)


def _stage_of(cfg: SearchConfig, iteration: int) -> int:
    edges = [sum(cfg.iterations[:i + 1]) for i in range(cfg.stages)]
    return next(i for i, e in enumerate(edges) if iteration < e)


def _stage_reals(x_u8: torch.Tensor, stage: int, batch_size: int):
    """Batches of real images in [-1, 1], box-filtered to the stage's 8·2^stage pixels."""
    factor = x_u8.shape[-1] // (8 * 2 ** stage)
    return batches(x_u8, batch_size).map(lambda b: F.avg_pool2d(to_float(b), factor) if factor > 1 else to_float(b))


class _State:
    """Everything a search carries from one iteration to the next (and into its checkpoint)."""

    def __init__(self, cfg: SearchConfig, channels: int, device):
        self.G, self.D, self.opt_g, self.opt_d = _make_shared(cfg, channels, device)
        self.policy, self.opt_c = _make_policy(cfg, 0)
        self.iteration, self.stage, self.beam = 0, 0, None
        self.reset = DynamicReset(cfg.reset_window, cfg.reset_threshold, cfg.reset_statistic)
        self.log = SearchLog()
        self.threads = None                  # CPU threads, chosen when the search starts (gancourse.threads)

    def state_dict(self) -> dict:
        beam = None if self.beam is None else dataclasses.asdict(self.beam)
        return dict(iteration=self.iteration, stage=self.stage, beam=beam, G=self.G.state_dict(),
                    D=self.D.state_dict(), opt_g=self.opt_g.state_dict(), opt_d=self.opt_d.state_dict(),
                    policy=self.policy.state_dict(), opt_c=self.opt_c.state_dict() if self.opt_c else None,
                    reset=self.reset.state_dict(), log=self.log.records, rng=rng_state(), threads=self.threads)

    def load_state_dict(self, state: dict, cfg: SearchConfig) -> None:
        self.iteration, self.stage = state["iteration"], state["stage"]
        self.beam = None if state["beam"] is None else Beam(**state["beam"])
        self.policy, self.opt_c = _make_policy(cfg, self.stage)
        for obj, key in ((self.G, "G"), (self.D, "D"), (self.opt_g, "opt_g"), (self.opt_d, "opt_d"),
                         (self.policy, "policy"), (self.opt_c, "opt_c"), (self.reset, "reset")):
            if obj is not None:
                obj.load_state_dict(state[key])
        self.log.records = list(state["log"])
        self.threads = state.get("threads")
        set_rng_state(state["rng"])


def _real_images(images) -> torch.Tensor:
    x = images.images if isinstance(images, ImageSet) else images
    if x.dtype != torch.uint8 or x.dim() != 4:
        raise CourseError("the search takes uint8 images (N, C, H, W), or an ImageSet")
    return x


def search(images, extractor: Extractor, cfg: SearchConfig = SearchConfig(), seed: int = 0, device="cpu",
           out_dir=None, on_record: Callable[[dict], None] | None = None, progress_bar: bool = True) -> SearchResult:
    """AutoGAN's multi-level search (official ``search.py``) on uint8 ``images`` whose side is at least
    the last stage's 8·2^(stages−1) px. Seeds the global RNG with ``seed``; with ``out_dir`` it saves a
    checkpoint after every iteration and resumes from one of the same run. Returns the derived beam."""
    x = _real_images(images)
    if not 1 <= cfg.beam <= cfg.n_candidates:
        raise CourseError(f"the beam keeps 1 to n_candidates ({cfg.n_candidates}) architectures, not {cfg.beam}")
    if cfg.stages not in (1, 2, 3) or x.shape[-1] % (8 * 2 ** (cfg.stages - 1)):
        raise CourseError(f"{cfg.stages} stages need images of 8·2^(stages−1) px (or a multiple), not {x.shape[-1]}")
    x = x.to(device)
    seeding.seed_everything(seed)
    st = _State(cfg, x.shape[1], device)
    st.log.on_record = on_record
    identity = dict(config=dataclasses.asdict(cfg), seed=seed, data=list(x.shape), extractor=extractor.name)
    path = Path(out_dir) / CHECKPOINT if out_dir is not None else None
    if path is not None and path.exists():
        saved = torch.load(path, map_location="cpu", weights_only=False)
        if saved["identity"] != identity:
            raise CourseError(f"{path} belongs to another search; use another out_dir or delete it")
        st.load_state_dict(saved["state"], cfg)
    total = sum(cfg.iterations)
    if torch.device(device).type == "cpu":    # the count it started with, kept by every resume (its numbers)
        st.threads = threads.for_run(str(path) if path is not None else f"{cfg.policy} search", st.threads)
    with threads.fixed(st.threads, device):
        for it in progress.bar(range(st.iteration, total), total=total, initial=st.iteration, desc="AutoGAN search",
                               enabled=progress_bar):
            _iteration(st, it, x, extractor, cfg, seed)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_save({"identity": identity, "state": st.state_dict()}, path)
        final = top_k(st.G, st.policy, st.beam, extractor, cfg, seed, st.log,
                      {"stage": st.stage, "iteration": total, "resets": st.reset.resets})
    return SearchResult(final, st.log, st.G, st.D, st.policy)


def _iteration(st: _State, it: int, x: torch.Tensor, extractor: Extractor, cfg: SearchConfig, seed: int) -> None:
    """One search iteration: grow if a stage begins, shared training, controller steps, maybe reset."""
    stage = _stage_of(cfg, it)
    if stage != st.stage:       # grow: keep the top-K of the stage just finished, a new policy for the next
        where = {"stage": st.stage, "iteration": it, "resets": st.reset.resets}
        st.beam = top_k(st.G, st.policy, st.beam, extractor, cfg, seed, st.log, where)
        st.stage = stage
        st.policy, st.opt_c = _make_policy(cfg, stage)
    t0 = time.perf_counter()
    out = train_shared(st.G, st.D, st.opt_g, st.opt_d, st.policy, st.beam, _stage_reals(x, stage, cfg.batch_size),
                       cfg.shared_steps, cfg.n_critic, cfg.g_batch_size, st.reset)
    st.log.add("shared", stage=stage, iteration=it, resets=st.reset.resets, seconds=time.perf_counter() - t0, **out)
    where = {"stage": stage, "iteration": it, "resets": st.reset.resets}
    _controller_steps(st.G, st.policy, st.opt_c, st.beam, extractor, cfg, seed, st.log, where)
    if out["reset"]:            # after the controller steps, as in the official loop
        st.G, st.D, st.opt_g, st.opt_d = _make_shared(cfg, x.shape[1], x.device)
    st.iteration = it + 1


def random_search(images, extractor: Extractor, cfg: SearchConfig = SearchConfig(), **kw) -> SearchResult:
    """The same multi-level search with every decision uniform and no learning: the same shared
    training (on uniformly sampled children), the same number of children scored, the same top-K."""
    return search(images, extractor, dataclasses.replace(cfg, policy="random"), **kw)


# -- derive: retrain from scratch ------------------------------------------------------------------

def retrain(G: nn.Module, images, steps: int, batch_size: int = 64, d_width: int = 128, n_critic: int = 5,
            lr: float = 2e-4, betas=(0.0, 0.9), device="cpu", seed: int = 0, out_dir=None, desc: str = "retrain",
            data_id: dict | None = None, progress_bar: bool = True):
    """Train generator ``G`` (a derived ``AutoGANGenerator``, the published one, or any 32-px G with a
    ``z_dim``) from scratch against the official SN-ResNet D (``StageDiscriminator(d_width)``), with
    the official retraining settings: hinge loss, Adam 2e-4, β = (0, 0.9), ``n_critic`` D steps.
    Returns the trainer (checkpointed in ``out_dir``)."""
    x = to_float(_real_images(images)).to(device)
    torch.manual_seed(seed)
    D = xavier_init(StageDiscriminator(d_width, x.shape[1], stage=2))
    tr = Trainer(G, D, loss="hinge", lr=lr, betas=betas, n_critic=n_critic, device=device, seed=seed,
                 out_dir=out_dir, ckpt_every=max(1, steps // 10), log_every=max(1, steps // 100), desc=desc,
                 progress=progress_bar, data_id=data_id)
    tr.fit(batches(x, batch_size), steps)
    return tr


def similar_dcgan(target_params: int, channels: int = 3, z_dim: int = 128):
    """A plain DCGAN generator (32 px) whose width gives the parameter count nearest ``target_params``:
    the baseline "of similar size" for a searched or published architecture."""
    candidates = [DCGANGenerator(z_dim, w, channels, 32) for w in range(4, 257, 2)]
    return min(candidates, key=lambda g: abs(sum(p.numel() for p in g.parameters()) - target_params))
