"""AutoGAN's controller (Gong et al. 2019, §3.3): an LSTM policy over the cell search space that
emits one cell's decisions in turn, a uniform policy for random search at the same budget, and the
REINFORCE step with a moving-average baseline and an entropy bonus. Official code:
``models_search/controller.py``, ``functions.train_controller``."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ...nn.models.autogan import CellArch, decisions, decode


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
