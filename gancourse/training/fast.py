"""The fast path: G's and D's forward and backward passes compiled by ``torch.compile``.
Guarantee: the plain path's numbers within float tolerance, and checkpoints that move freely
between the two (compiling in place keeps every ``state_dict`` key).

On CUDA the mode captures the passes in CUDA graphs (``reduce-overhead``: one launch per graph
instead of one per kernel) with cuDNN autotuning; on a CPU, inductor's default mode. A D that a hook
differentiates twice (R1, WGAN-GP: ``double_backward``) stays eager, since compiled graphs have no
double backward. On by default for the course and paper profiles on a GPU (``notebook.start`` calls
``use_fast_path``); ``GANCOURSE_FAST=0|1`` overrides."""
from __future__ import annotations

import os

import torch
from torch import nn

from .. import CourseError

FAST_ENV = "GANCOURSE_FAST"
_fast_default = False       # set by notebook.start from the profile: profiles.fast_path(profile, device)


def use_fast_path(on: bool) -> None:
    """The default of ``Trainer(fast=None)`` from now on (notebook.start sets it from the profile)."""
    global _fast_default
    _fast_default = bool(on)


def fast_path_default() -> bool:
    """``GANCOURSE_FAST=1`` / ``0`` if set, else what ``use_fast_path`` last said."""
    env = os.environ.get(FAST_ENV, "").strip()
    if env in ("0", "1"):
        return env == "1"
    if env:
        raise CourseError(f"{FAST_ENV} must be 0 or 1, not {env!r}")
    return _fast_default


def term_name(fn) -> str:
    """How a hook is named in logs and messages."""
    return getattr(fn, "name", getattr(fn, "__name__", type(fn).__name__))


def compile_players(G: nn.Module, D: nn.Module, hooks, device: torch.device) -> tuple[str, ...]:
    """Compile G's and D's calls in place (EMA copies made before stay eager); returns which were compiled."""
    twice = [term_name(h) for h in hooks if getattr(h, "double_backward", False)]
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True
    mode = "reduce-overhead" if cuda else "default"
    compiled = []
    for name, net in (("G", G), ("D", D)):
        if name == "D" and twice:
            continue                       # compiled graphs have no double backward (R1, WGAN-GP)
        net.compile(mode=mode, dynamic=False)
        compiled.append(name)
    return tuple(compiled)
