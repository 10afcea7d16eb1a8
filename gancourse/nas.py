"""AutoGAN's search (Gong et al. 2019, §3): an RNN controller trained by REINFORCE picks generator
cells, rewarded by the Inception Score of a child that borrows its weights from one shared
supergraph; the search grows one cell per stage (8 → 16 → 32 px), keeping a beam of the best.

One search iteration (official ``search.py``, ``functions.py``):

1. ``train_shared``: train the shared G and an SN-ResNet D with the hinge loss, each batch for an
   architecture sampled from the controller (which does not learn here); stop early if
   ``DynamicReset`` fires (the G or D loss has gone flat: training has collapsed).
2. ``ctrl_steps`` REINFORCE steps (``reinforce_step``): sample children, reward = IS of their samples.
3. If the reset fired, re-initialise the shared G and D and their optimisers (not the controller).

At each growth the current controller proposes ``n_candidates`` architectures; the ``beam`` best by
reward, with the controller's LSTM state after each, are kept (``top_k``); the next stage's new
controller starts from one of those states (chosen at random) and extends that architecture by one
cell. After the last stage the same ``top_k`` gives the derived architectures, which the paper
retrains from scratch (``AutoGANGenerator``) to pick the best. ``random_search`` runs the same loop,
same budget (same shared steps, same number of children scored), with a uniform sampler instead.

Training draws from the global RNG (seeded once by ``search``; checkpointed with ``out_dir``);
every reward draws its noise and IS splits from ``seeding``: every child is scored on the same z.
"""
from __future__ import annotations

import dataclasses
import math
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from . import CourseError, losses, metrics, progress, seeding
from .data import ImageSet, batches, to_float, to_uint8
from .extractors import Extractor
from .models.autogan import CellArch, SharedGenerator, StageDiscriminator, decisions, decode, xavier_init
from .models.dcgan import DCGANGenerator
from .training import Trainer, atomic_save, rng_state, set_rng_state

CHECKPOINT = "search.pt"


# -- policies --------------------------------------------------------------------------------------

@dataclass
class Sample:
    """``n`` architectures as official token vectors (all cells so far), with their log-probability
    and entropy under the policy (summed over this stage's decisions) and the LSTM state after them."""
    vectors: torch.Tensor              # (n, tokens) long
    log_prob: torch.Tensor             # (n,), differentiable
    entropy: torch.Tensor              # (n,)
    hidden: tuple[torch.Tensor, torch.Tensor]

    @property
    def archs(self) -> list[tuple[CellArch, ...]]:
        return [decode(v.tolist()) for v in self.vectors]


@dataclass
class Beam:
    """The top-K architectures of a finished stage, their rewards, and the controller state after each."""
    vectors: torch.Tensor
    hidden: tuple[torch.Tensor, torch.Tensor]
    rewards: list[float]

    def __len__(self) -> int:
        return len(self.vectors)

    @property
    def archs(self) -> list[tuple[CellArch, ...]]:
        return [decode(v.tolist()) for v in self.vectors]


def _from_beam(n: int, beam: Beam | None, hidden: int):
    """Prefixes and LSTM states: one beam entry per sample, uniformly with replacement (official
    ``np.random.choice``, here torch's RNG); zeros and no prefix at the first stage."""
    if beam is None:
        zeros = torch.zeros(n, hidden)
        return torch.zeros(n, 0, dtype=torch.long), (zeros, zeros.clone())
    pick = torch.randint(len(beam), (n,))
    return beam.vectors[pick], (beam.hidden[0][pick], beam.hidden[1][pick])


class Controller(nn.Module):
    """The controller of one stage (official ``models_search/controller.py``): an LSTM cell (hidden
    100) that emits the new cell's decisions in turn, each from its own linear + softmax head; its
    next input is the embedding of the token just chosen (one table over every decision's tokens),
    its first input zeros. From stage 1 on it starts from a beam entry's state and extends its cells."""

    def __init__(self, stage: int, hidden: int = 100):
        super().__init__()
        self.stage, self.hidden, self.sizes = stage, hidden, decisions(stage)
        self.lstm = nn.LSTMCell(hidden, hidden)
        self.embed = nn.Embedding(sum(self.sizes), hidden)
        self.heads = nn.ModuleList(nn.Linear(hidden, k) for k in self.sizes)
        self.offsets = [sum(self.sizes[:d]) for d in range(len(self.sizes))]

    def sample(self, n: int, beam: Beam | None = None, tokens: torch.Tensor | None = None) -> Sample:
        """``n`` architectures drawn from the policy; with ``tokens`` (n, decisions), their
        log-probabilities instead (first stage only, or with a one-entry beam)."""
        prefix, state = _from_beam(n, beam, self.hidden)
        x, chosen, log_p, ent = torch.zeros(n, self.hidden), [], 0.0, 0.0
        for d, head in enumerate(self.heads):
            state = self.lstm(x, state)
            logp = F.log_softmax(head(state[0]), dim=-1)
            a = tokens[:, d] if tokens is not None else torch.multinomial(logp.exp(), 1).squeeze(1)
            log_p = log_p + logp.gather(1, a[:, None]).squeeze(1)
            ent = ent - (logp.exp() * logp).sum(1)
            chosen.append(a)
            x = self.embed(a + self.offsets[d])
        return Sample(torch.cat([prefix, torch.stack(chosen, 1)], 1), log_p, ent, state)


class UniformPolicy(nn.Module):
    """Random search over the same space: every decision uniform; nothing to learn."""

    def __init__(self, stage: int, hidden: int = 100):
        super().__init__()
        self.stage, self.hidden, self.sizes = stage, hidden, decisions(stage)

    def sample(self, n: int, beam: Beam | None = None, tokens=None) -> Sample:
        prefix, state = _from_beam(n, beam, self.hidden)
        chosen = torch.stack([torch.randint(k, (n,)) for k in self.sizes], 1)
        entropy = torch.full((n,), sum(math.log(k) for k in self.sizes))
        return Sample(torch.cat([prefix, chosen], 1), torch.zeros(n), entropy, state)


def reinforce_step(controller: nn.Module, optimizer: torch.optim.Optimizer, sample: Sample, rewards,
                   baseline: float | None, decay: float = 0.9, entropy_weight: float = 1e-4) -> float:
    """One REINFORCE step with a moving-average baseline (Williams 1992; Gong et al. 2019, §3.3;
    official ``train_controller``), the entropy bonus added to the reward as in ENAS:

        R_i = IS_i + β·H_i;   b ← mean R (first step) or decay·b + (1 − decay)·mean R;
        L   = −Σ_i (R_i − b) · log π(a_i)                     returns the new b.
    """
    r = torch.as_tensor(rewards, dtype=torch.float32) + entropy_weight * sample.entropy.detach()
    mean = r.mean().item()
    baseline = mean if baseline is None else decay * baseline + (1 - decay) * mean
    loss = -((r - baseline) * sample.log_prob).sum()
    controller.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return baseline


# -- dynamic reset ---------------------------------------------------------------------------------

class DynamicReset:
    """Gong et al. 2019, §3.4: windows of the last ``window`` G and D losses; once G's is full, fire
    when either spread falls below ``threshold`` (training has collapsed), then empty both.
    The paper's text says standard deviation; the official code compares the population variance
    (``RunningStats.get_var`` in ``functions.train_shared``): ``statistic`` 'var' (default) or 'std'."""

    def __init__(self, window: int = 500, threshold: float = 1e-3, statistic: str = "var"):
        if statistic not in ("var", "std"):
            raise CourseError(f"statistic must be 'var' (official code) or 'std' (paper), not {statistic!r}")
        self.window, self.threshold, self.statistic = window, threshold, statistic
        self.g, self.d, self.resets = deque(maxlen=window), deque(maxlen=window), 0

    def spread(self, values) -> float:
        v = torch.tensor(list(values), dtype=torch.float64)
        var = v.var(unbiased=False).item() if len(v) > 1 else 0.0
        return var if self.statistic == "var" else math.sqrt(var)

    def update(self, g_loss: float | None = None, d_loss: float | None = None) -> bool:
        """Push the step's losses (either may be None); True when the shared weights should be reset."""
        if d_loss is not None:
            self.d.append(float(d_loss))
        if g_loss is not None:
            self.g.append(float(g_loss))
        if len(self.g) < self.window:
            return False
        fire = self.spread(self.g) < self.threshold or self.spread(self.d) < self.threshold
        if fire:
            self.g.clear()
            self.d.clear()
            self.resets += 1
        return fire

    def state_dict(self) -> dict:
        return {"g": list(self.g), "d": list(self.d), "resets": self.resets}

    def load_state_dict(self, state: dict) -> None:
        self.g, self.d = deque(state["g"], maxlen=self.window), deque(state["d"], maxlen=self.window)
        self.resets = state["resets"]


# -- shared training and the reward ----------------------------------------------------------------

def _descend(opt, loss: torch.Tensor) -> float:
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item()


def train_shared(G: SharedGenerator, D: StageDiscriminator, opt_g, opt_d, policy, beam: Beam | None, reals,
                 steps: int, n_critic: int = 5, g_batch_size: int = 128, reset: DynamicReset | None = None) -> dict:
    """Official ``train_shared``: ``steps`` batches; for each, an architecture sampled from the policy,
    one hinge D step on it; after the 1st, (n_critic+1)th, ... a hinge G step on the same one.
    Returns mean losses, the steps run, and whether ``reset`` fired (which ends it early)."""
    G.train()
    D.train()
    D.stage = policy.stage
    device = next(G.parameters()).device
    d_sum = g_sum = 0.0
    n_g, fired, step = 0, False, 0
    for step in range(1, steps + 1):
        with torch.no_grad():
            archs = policy.sample(1, beam).archs[0]
        real = next(reals)
        with torch.no_grad():
            fake = G(torch.randn(len(real), G.z_dim, device=device), archs)
        d_loss = _descend(opt_d, losses.d_loss("hinge", D(real), D(fake)))
        g_loss = None
        if (step - 1) % n_critic == 0:
            fake = G(torch.randn(g_batch_size, G.z_dim, device=device), archs)
            g_loss = _descend(opt_g, losses.g_loss("hinge", D(fake)))
            g_sum, n_g = g_sum + g_loss, n_g + 1
        d_sum += d_loss
        if reset is not None and reset.update(g_loss, d_loss):
            fired = True
            break
    return {"steps": step, "d_loss": d_sum / max(step, 1), "g_loss": g_sum / max(n_g, 1), "reset": fired}


@torch.no_grad()
def reward(G: SharedGenerator, archs, extractor: Extractor, n: int = 5000, seed: int = 0, draw: int = 0,
           batch_size: int = 500, splits: int = 10) -> float:
    """The child's reward (official ``get_is``): the Inception Score of ``n`` samples of the shared G
    (eval mode) running ``archs``; noise and IS splits from ``seeding`` (name 'nas reward', ``draw``)."""
    device = next(G.parameters()).device
    was_training = G.training
    G.eval()
    z = torch.randn(n, G.z_dim, generator=seeding.generator(seed, "nas reward", draw)).to(device)
    images = torch.cat([to_uint8(G(chunk, archs)).cpu() for chunk in z.split(batch_size)])
    G.train(was_training)
    split_seed = seeding.derive(seed, "nas reward", "splits", draw)
    return metrics.inception_score(images, extractor, device, batch_size, min(splits, n), seed=split_seed)[0]


def timed_reward(G, archs, extractor, **kw) -> tuple[float, float]:
    """``reward`` and the seconds it took."""
    t0 = time.perf_counter()
    value = reward(G, archs, extractor, **kw)
    return value, time.perf_counter() - t0


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

    def state_dict(self) -> dict:
        beam = None if self.beam is None else dataclasses.asdict(self.beam)
        return dict(iteration=self.iteration, stage=self.stage, beam=beam, G=self.G.state_dict(),
                    D=self.D.state_dict(), opt_g=self.opt_g.state_dict(), opt_d=self.opt_d.state_dict(),
                    policy=self.policy.state_dict(), opt_c=self.opt_c.state_dict() if self.opt_c else None,
                    reset=self.reset.state_dict(), log=self.log.records, rng=rng_state())

    def load_state_dict(self, state: dict, cfg: SearchConfig) -> None:
        self.iteration, self.stage = state["iteration"], state["stage"]
        self.beam = None if state["beam"] is None else Beam(**state["beam"])
        self.policy, self.opt_c = _make_policy(cfg, self.stage)
        for obj, key in ((self.G, "G"), (self.D, "D"), (self.opt_g, "opt_g"), (self.opt_d, "opt_d"),
                         (self.policy, "policy"), (self.opt_c, "opt_c"), (self.reset, "reset")):
            if obj is not None:
                obj.load_state_dict(state[key])
        self.log.records = list(state["log"])
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
