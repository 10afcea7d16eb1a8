"""How a run draws noise. Guarantee: training noise comes from the global RNG (seeded and checkpointed
with the run; under torch.distributed each process takes its share of the global batch's), while every
evaluation draws from its own generator derived from the run's seed, the evaluation's name and the
draw, so samples for a metric never depend on what ran before. The Trainer inherits these methods."""
from __future__ import annotations

import torch

from .. import CourseError, seeding
from . import ranks


class Sampling:
    """Needs ``z_dim``, ``z_dist``, ``seed``, ``device``, ``n_classes``, ``G``, ``G_ema``, ``fixed_z``, ``fixed_y``."""

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
        world = ranks.rank_world()[1]
        return ranks.share(self._noise(n * world)) if world > 1 else self._noise(n)

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
        if self.n_classes and y is None:
            raise CourseError("a conditional generator's samples need labels y")
        chunks = zip(z.split(1000), y.split(1000)) if self.n_classes else ((c,) for c in z.split(1000))
        out = torch.cat([net(*c) for c in chunks])
        net.train(was_training)
        return out
