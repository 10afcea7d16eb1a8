"""The training machinery: the loop (``loop.Trainer``) and the parts it composes.

- ``loop``        the Trainer: D's steps, G's step, the loop (read it in one sitting)
- ``losses``      the GAN objective with f (minimax, non-saturating, hinge, Wasserstein) and penalties
- ``checkpoint``  a run's identity, atomic checkpoints, resume
- ``guards``      stop on a NaN/Inf loss or weight, naming the step
- ``clock``       training time (pauses, time budgets)
- ``records``     history, log.jsonl, progress bar, sample grids
- ``optim``       Adam (fused on CUDA), EMA with warm-up
- ``fast``        the compiled fast path
- ``ranks``       data-parallel helpers (torch.distributed); the torchrun launcher is ``course.launch``
"""
from .checkpoint import CHECKPOINT, atomic_save, describe, describe_module, previous, rng_state, set_rng_state
from .fast import FAST_ENV, fast_path_default, use_fast_path
from .guards import Diverged
from .loop import Step, Trainer, fit_discriminator
from .optim import adam, ema_with_warmup

__all__ = ["CHECKPOINT", "FAST_ENV", "Diverged", "Step", "Trainer", "adam", "atomic_save", "describe",
           "describe_module", "ema_with_warmup", "fast_path_default", "fit_discriminator", "previous",
           "rng_state", "set_rng_state", "use_fast_path"]
