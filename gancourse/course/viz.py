"""Plots a learner would rather see than read: sample grids, loss curves, 2D samples over modes;
and the one helper that prints a table of numbers."""
from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import matplotlib.ticker
import torch
from torchvision.utils import make_grid

from ..data import Mixture
from . import pooling


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


def where(obj) -> str:
    """The file that defines ``obj``, as a path from the course's root (``gancourse/training/losses.py``)."""
    import inspect
    from pathlib import Path
    path = Path(inspect.getsourcefile(inspect.unwrap(obj))).resolve()
    root = Path(__file__).resolve().parents[2]
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def show_source(*objects):
    """Show the source of functions or classes from gancourse, highlighted in a notebook, each under a
    comment naming the file it lives in (so a learner can open it)."""
    import inspect
    text = "\n\n".join(f"# {where(o)}\n{inspect.getsource(o)}" for o in objects)
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


LAYERS = ("seeding", "progress", "timing", "profiles", "nn", "training", "data", "instruments", "papers", "course")


def package_map() -> str:
    """The package layer by layer, bottom up (README: Architecture), each module with the first
    sentence of its docstring; printed, and returned. Notebook 00's tour."""
    import importlib
    import pkgutil
    import re

    import gancourse
    infos = [i for i in pkgutil.walk_packages(gancourse.__path__, "gancourse.") if not i.name.endswith("__main__")]
    layer = lambda name: LAYERS.index(name.split(".")[1]) if name.split(".")[1] in LAYERS else len(LAYERS)
    lines = []
    for info in sorted(infos, key=lambda i: (layer(i.name), i.name)):
        doc = " ".join((importlib.import_module(info.name).__doc__ or "").split("\n\n")[0].split())
        first = re.split(r"(?<!\bal)(?<!e\.g)(?<!i\.e)\.\s", doc)[0].rstrip(".:").replace("``", "")
        first = first if len(first) <= 96 else first[:95] + "…"
        name = info.name.removeprefix("gancourse.")
        lines.append(f"{'  ' * name.count('.')}{name.rsplit('.', 1)[-1] + ('/' if info.ispkg else ''):<13s} {first}")
    text = "\n".join(lines)
    print(text)
    return text


VERDICT_COLOURS = {"holds": "#1a7f37", "fails": "#cf222e", "unresolved": "#bf8700"}


def forest_plot(pooled: dict, path=None):
    """One notebook's claims over training seeds (``scorecard.pool_notebook``): a row per claim, each
    with its own axis (log for ratios): each seed's value as a dot with its evaluation sd, the pooled
    mean and its interval as a diamond and bar, the criterion's threshold as a dashed line (the side that
    passes shaded), a paper's value where a claim carries a comparable one (``paper_value``)."""
    claims = pooled["claims"]
    seeds = pooled["seeds"]
    fig, axes = plt.subplots(len(claims), 1, figsize=(9, 0.95 * len(claims) + 0.9), squeeze=False)
    markers = "os^vDP*X"
    for ax, p in zip(axes[:, 0], claims):
        xs = []
        for i, s in enumerate(p["seeds"]):
            if s["value"] is None:
                continue
            y = 0.6 - 0.35 * seeds.index(s["seed"]) if s["seed"] in seeds else 0.6
            ax.errorbar(s["value"], y, xerr=s["sd"] if s.get("n", 1) > 1 else None, fmt=markers[i % len(markers)],
                        color="0.35", ms=5, capsize=2, lw=1, label=f"seed {s['seed']}")
            xs += [s["value"] - (s["sd"] or 0), s["value"] + (s["sd"] or 0)]
        colour = VERDICT_COLOURS.get(p["verdict"], "0.5")
        if p["low"] is not None:
            ax.plot([p["low"], p["high"]], [-0.6, -0.6], color=colour, lw=3, solid_capstyle="butt")
            xs += [p["low"], p["high"]]
        if p["mean"] is not None and p["rule"] != "every seed":
            ax.plot(p["mean"], -0.6, "D", color=colour, ms=7)
        elif p.get("seeds_held") is not None:
            ax.text(0.01, 0.12, pooling.seeds_held_text(p),
                    transform=ax.transAxes, fontsize=7, color=colour)
        crit = p["criterion"]
        for t in p["threshold"]:
            ax.axvline(t, color="k", ls="--", lw=1)
            xs.append(t)
        if p.get("paper_value") is not None:
            ax.axvline(p["paper_value"], color="#0969da", lw=1.5)
            ax.text(p["paper_value"], 0.85, " paper", color="#0969da", fontsize=7, va="center")
            xs.append(p["paper_value"])
        positive = all(x > 0 for x in xs)
        if p["scale"] == "log" and positive:
            ax.set_xscale("log")
            plain = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}")
            ax.xaxis.set_major_formatter(plain)
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        lo, hi = min(xs), max(xs)
        pad = (hi / lo) ** 0.1 if (p["scale"] == "log" and positive and lo > 0) else None
        ax.set_xlim(*((lo / pad, hi * pad) if pad else (lo - 0.1 * (hi - lo or 1), hi + 0.1 * (hi - lo or 1))))
        if pad:                            # log axes: plain ticks at 1-2-5 steps, evenly spaced on a narrow one
            ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(6) if hi / lo < 20 else
                                       matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0), numticks=8))
        if "≥" in crit and len(p["threshold"]) == 1:
            ax.axvspan(p["threshold"][0], ax.get_xlim()[1], color=VERDICT_COLOURS["holds"], alpha=0.06)
        elif "≤" in crit and len(p["threshold"]) == 1:
            ax.axvspan(ax.get_xlim()[0], p["threshold"][0], color=VERDICT_COLOURS["holds"], alpha=0.06)
        ax.set_ylim(-1.0, 1.0)
        ax.set_yticks([])
        ax.set_ylabel(f"{p['id']}", rotation=0, ha="right", va="center", fontsize=10, fontweight="bold")
        tags = [t for t, on in (("check", p.get("kind") == "check"), ("machine-dependent", p.get("machine_dependent"))) if on]
        ax.set_title(f"{p['statement'][:95]}{' [' + ', '.join(tags) + ']' if tags else ''}  —  {p.get('tested', crit)}  —  "
                     f"{p['verdict']}", fontsize=8, loc="left", color=colour)
        ax.tick_params(axis="x", labelsize=8)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.suptitle(f"{pooled['notebook']}: claims over seeds {', '.join(map(str, seeds))}  (dots: seeds ± evaluation sd; "
                 "diamond: mean and 90% interval; dashed: threshold; blue: the paper's number)", fontsize=9)
    if handles:
        fig.legend(handles[:len(seeds)], labels[:len(seeds)], loc="lower center", fontsize=7, ncol=len(seeds),
                   frameon=False)
    fig.tight_layout(rect=(0, 0.03, 1, 0.97))
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig
