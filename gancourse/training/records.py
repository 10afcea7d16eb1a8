"""What a run shows and keeps of itself: the progress bar, the history (a record every ``log_every``
steps and at the last step), ``log.jsonl`` and sample grids. Guarantee: one host sync per logged
step (losses stay on the device until then), the numbers of the global batch under torch.distributed,
and only rank 0 writes.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from .. import progress
from .ranks import is_main, mean_over_ranks


class RunLog:
    def __init__(self, out_dir: Path | None, every: int, desc: str, show: bool):
        self.out_dir, self.every, self.desc, self.show = out_dir, every, desc, show
        self.bar = None

    def open(self, total: int, initial: int) -> None:
        self.bar = progress.bar(total=total, initial=initial, desc=self.desc, enabled=self.show and is_main())

    def close(self) -> None:
        self.bar.close()

    @staticmethod
    def read(rec: dict) -> dict:
        """The record as python floats (one host sync), averaged over ranks under torch.distributed."""
        keys = [k for k, v in rec.items() if torch.is_tensor(v)]
        if keys:
            rec = {**rec, **dict(zip(keys, torch.stack([rec[k].float() for k in keys]).tolist()))}
        return mean_over_ranks(rec)          # the global batch's numbers, on every rank

    def write(self, history: list, step: int, rec: dict, seconds: float) -> None:
        """Append this step's record (with the training time so far) to the history and log.jsonl."""
        entry = dict(step=step, **rec, time=round(seconds, 3))
        history.append(entry)
        if self.out_dir is not None and is_main():
            with open(self.out_dir / "log.jsonl", "a") as f:
                f.write(json.dumps(entry) + "\n")

    def show_losses(self, rec: dict) -> None:
        self.bar.set_postfix(d=f"{rec['d_loss']:.3f}", g=f"{rec['g_loss']:.3f}", refresh=False)

    def rewrite(self, history: list) -> None:
        """log.jsonl as the history says (after a resume: lines written after the checkpoint go)."""
        if self.out_dir is not None and is_main():
            with open(self.out_dir / "log.jsonl", "w") as f:
                f.writelines(json.dumps(r) + "\n" for r in history)


def save_grid(x: torch.Tensor, path, nrow: int = 8) -> None:
    """Images in [-1, 1] as one PNG grid (other samples, e.g. 2D points, are skipped)."""
    from torchvision.utils import save_image
    if x.dim() == 4:
        save_image(x.add(1).div(2).clamp(0, 1), path, nrow=nrow)
