"""AutoGAN's shared training (Gong et al. 2019, §3.2, §3.4): the supergraph G and its D trained on
architectures sampled from the controller (parameter sharing), the dynamic reset that re-initialises
them when training collapses, and the reward: the Inception Score of a child's samples. Official code:
``functions.train_shared``, ``functions.get_is``."""
from __future__ import annotations

import math
import time
from collections import deque

import torch

from ... import CourseError, seeding
from ... import threads, timing
from ...data import to_uint8
from ...instruments import metrics
from ...instruments.extractors import Extractor
from ...nn.models.autogan import SharedGenerator, StageDiscriminator
from ...training import losses
from .controller import Beam


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


@timing.timed("training")
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


@timing.timed("evaluation")
@torch.no_grad()
@threads.evaluation()
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
