"""Plots a learner would rather see than read: sample grids, loss curves, 2D samples over modes;
and the one helper that prints a table of numbers."""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from torchvision.utils import make_grid

from .data import Mixture


def show_grid(images: torch.Tensor, nrow: int = 8, title: str | None = None, ax=None):
    """Images in [-1, 1] (N, C, H, W) as one grid."""
    grid = make_grid(images.detach().float().cpu().add(1).div(2).clamp(0, 1), nrow=nrow, padding=1)
    if ax is None:
        _, ax = plt.subplots(figsize=(nrow * 0.6 + 1, (len(images) // nrow) * 0.6 + 1))
    ax.imshow(grid.permute(1, 2, 0).numpy())
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def plot_history(history: list[dict], keys=("d_loss", "g_loss"), ax=None, title: str | None = None, smooth: int = 1):
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3))
    steps = [h["step"] for h in history]
    for k in keys:
        ys = torch.tensor([h.get(k, float("nan")) for h in history], dtype=torch.float64)
        if smooth > 1 and len(ys) >= smooth:
            ys = torch.nn.functional.avg_pool1d(ys.view(1, 1, -1), smooth, 1, padding=smooth // 2,
                                                count_include_pad=False).view(-1)[: len(steps)]
        ax.plot(steps, ys.numpy(), label=k)
    ax.set_xlabel("generator step")
    ax.legend()
    if title:
        ax.set_title(title)
    return ax


def scatter_2d(samples: torch.Tensor, mix: Mixture | None = None, ax=None, title: str | None = None):
    if ax is None:
        _, ax = plt.subplots(figsize=(3, 3))
    s = samples.detach().float().cpu()
    ax.scatter(s[:, 0], s[:, 1], s=1, alpha=0.3)
    if mix is not None:
        ax.scatter(mix.centers[:, 0], mix.centers[:, 1], s=12, c="red", marker="x")
        lim = mix.centers.abs().max().item() * 1.5
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation (White 2016), the path that stays on the Gaussian shell."""
    z0n, z1n = z0 / z0.norm(dim=-1, keepdim=True), z1 / z1.norm(dim=-1, keepdim=True)
    omega = torch.acos((z0n * z1n).sum(-1, keepdim=True).clamp(-1, 1))
    so = torch.sin(omega)
    t = t.view(-1, *([1] * z0.dim()))
    return (torch.sin((1 - t) * omega) / so) * z0 + (torch.sin(t * omega) / so) * z1


def interpolate(z0: torch.Tensor, z1: torch.Tensor, steps: int, mode: str = "slerp") -> torch.Tensor:
    """(rows, steps, z_dim) latent paths from each row of z0 to the same row of z1."""
    t = torch.linspace(0, 1, steps, device=z0.device)
    if mode == "linear":
        path = (1 - t.view(-1, 1, 1)) * z0 + t.view(-1, 1, 1) * z1
    else:
        path = slerp(z0, z1, t)
    return path.transpose(0, 1)


def show_source(*objects):
    """Show the source of functions or classes from gancourse, highlighted in a notebook."""
    import inspect
    text = "\n\n".join(inspect.getsource(o) for o in objects)
    try:
        from IPython.display import Code, display
        display(Code(text, language="python"))
    except ImportError:
        print(text)


def table(rows: list[dict], columns: list[str] | None = None, floatfmt: str = ".4g", title: str | None = None) -> str:
    """Print ``rows`` (dicts with the same keys) as an aligned text table; returns the text.

    Floats are formatted with ``floatfmt``; a (mean, sd) pair or a dict with 'mean'/'sd' prints as
    "mean ± sd"; None as "—".
    """
    columns = columns or (list(rows[0]) if rows else [])

    def cell(v) -> str:
        if v is None:
            return "—"
        if isinstance(v, dict) and "mean" in v:
            v = (v["mean"], v.get("sd", 0.0)) if v.get("n", 2) > 1 else v["mean"]
        if isinstance(v, tuple) and len(v) == 2 and all(isinstance(x, float) for x in v):
            return f"{v[0]:{floatfmt}} ± {v[1]:.2g}"
        if isinstance(v, float):
            return format(v, floatfmt)
        return str(v)

    cells = [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(str(c)), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    numeric = [all(_numeric(r.get(c)) for r in rows) for c in columns]
    fmt = lambda vals: "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(vals, widths, numeric)).rstrip()
    lines = ([title] if title else []) + [fmt([str(c) for c in columns]), fmt(["-" * w for w in widths])]
    lines += [fmt(row) for row in cells]
    text = "\n".join(lines)
    print(text)
    return text


def _numeric(v) -> bool:
    return v is None or isinstance(v, (int, float, tuple)) or (isinstance(v, dict) and "mean" in v)
