"""The sliced Wasserstein distance on Laplacian pyramids (Karras et al. 2018, §5 and Appendix D).

For each pyramid level (a 5×5 binomial filter, levels from full size down to 16 px), take 128
random 7×7 neighbourhoods per image, normalise each descriptor set per colour channel by its own
mean and std, then average over 4 repeats of 128 random unit directions the mean absolute
difference of the sorted projections (the 1D Wasserstein distance), ×10³. Computed in torch,
batched, on the GPU when there is one; ``benchmarks/bench_swd.py`` checks it against NumPy.
"""
from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.transforms.functional import gaussian_blur

from ..progress import bar
from .. import threads, timing

_BINOMIAL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0])
KERNEL = torch.outer(_BINOMIAL, _BINOMIAL) / 256.0   # the paper's (and cv2.pyrDown's) 5×5 filter


def _blur(x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    c = x.shape[1]
    k = (KERNEL * scale).to(x).expand(c, 1, 5, 5)
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), k, groups=c)


def pyr_down(x: torch.Tensor) -> torch.Tensor:
    return _blur(x)[:, :, ::2, ::2]


def pyr_up(x: torch.Tensor) -> torch.Tensor:
    n, c, h, w = x.shape
    up = torch.zeros(n, c, 2 * h, 2 * w, dtype=x.dtype, device=x.device)
    up[:, :, ::2, ::2] = x
    return _blur(up, 4.0)


def laplacian_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """[band-pass at full size, ..., low-pass residual at the coarsest level]."""
    pyramid = [x.float()]
    for _ in range(1, levels):
        pyramid.append(pyr_down(pyramid[-1]))
        pyramid[-2] = pyramid[-2] - pyr_up(pyramid[-1])
    return pyramid


def resolutions(size: int, smallest: int = 16) -> list[int]:
    out = []
    while size >= smallest:
        out.append(size)
        size //= 2
    return out


def descriptors(level: torch.Tensor, per_image: int = 128, nhood: int = 7,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """``per_image`` random nhood×nhood patches of each image: (N·per_image, C, nhood, nhood)."""
    n, c, h, w = level.shape
    half = nhood // 2
    ys = torch.randint(half, h - half, (n * per_image,), generator=generator).to(level.device)
    xs = torch.randint(half, w - half, (n * per_image,), generator=generator).to(level.device)
    img = torch.arange(n, device=level.device).repeat_interleave(per_image)
    off = torch.arange(-half, half + 1, device=level.device)
    rows = (ys[:, None] + off)[:, :, None]                      # (M, k, 1)
    cols = (xs[:, None] + off)[:, None, :]                      # (M, 1, k)
    patches = level[img[:, None, None], :, rows, cols]          # (M, k, k, C)
    return patches.permute(0, 3, 1, 2)


def normalise(desc: torch.Tensor) -> torch.Tensor:
    """Per channel, by the set's own mean and std; flattened to (M, C·k·k)."""
    desc = desc - desc.mean((0, 2, 3), keepdim=True)
    desc = desc / desc.std((0, 2, 3), keepdim=True, unbiased=False)
    return desc.flatten(1)


_POOL: ThreadPoolExecutor | None = None


def _sort_rows(x: torch.Tensor) -> torch.Tensor:
    """Sort each row. On the CPU NumPy's vectorised sort is several times faster than torch's, and its
    rows are split over the threads the course gives this process (NumPy lets go of the GIL while it
    sorts); the result is the same at any count."""
    if x.device.type != "cpu":
        return x.sort(-1).values
    global _POOL
    rows, n = x.numpy(), min(torch.get_num_threads(), len(x))
    if n <= 1:
        return torch.from_numpy(np.sort(rows, axis=-1))
    _POOL = _POOL or ThreadPoolExecutor(os.cpu_count() or 1, thread_name_prefix="swd-sort")
    out = np.empty_like(rows)

    def sort(part: slice) -> None:
        out[part] = np.sort(rows[part], axis=-1)

    bounds = np.linspace(0, len(rows), n + 1).astype(int)
    list(_POOL.map(sort, [slice(a, b) for a, b in zip(bounds, bounds[1:])]))
    return torch.from_numpy(out)


REPEATS, DIRECTIONS = 4, 128    # the paper's: 4 repeats of 128 random directions


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, repeats: int = REPEATS, per_repeat: int = DIRECTIONS,
                       generator: torch.Generator | None = None, sorted_a: dict | None = None) -> float:
    """Mean over random unit directions of the 1D Wasserstein distance of the projections.
    ``sorted_a`` (optional) keeps a's sorted projections per repeat, to reuse when a is compared with
    other sets under the same directions (checked, so a different generator state is recomputed)."""
    results = []
    for i in range(repeats):
        dirs = torch.randn(a.shape[1], per_repeat, generator=generator).to(a)
        dirs = dirs / dirs.norm(dim=0, keepdim=True)
        # one row per direction: sorting along the last, contiguous dimension is much faster
        kept = sorted_a.get(i) if sorted_a is not None else None
        if kept is not None and torch.equal(kept[0], dirs):
            pa = kept[1]
        else:
            pa = _sort_rows(dirs.T @ a.T)
            if sorted_a is not None:
                sorted_a[i] = (dirs, pa)
        pb = _sort_rows(dirs.T @ b.T)
        results.append((pa - pb).abs().mean())
    return torch.stack(results).mean().item()


class Reference:
    """One real set's side of SWD, computed once: its descriptors and, while they fit in ``keep_bytes``,
    its sorted projections; ``compare(fake)`` gives exactly ``swd(real, fake, seed=seed)``. Use it when
    one real set is compared with many (the rows of a table, the points of a curve, damaged copies)."""

    def __init__(self, real_u8: torch.Tensor, per_image: int = 128, batch_size: int = 1000, device=None,
                 seed: int = 0, keep_bytes: int = 2**30):
        self.shape, self.per_image, self.batch_size = tuple(real_u8.shape), per_image, batch_size
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.levels = resolutions(real_u8.shape[-1])
        self.generator = torch.Generator().manual_seed(seed)
        self.sets = self._descriptor_sets(real_u8)
        self.state = self.generator.get_state()           # every comparison starts from here
        kept = sum(REPEATS * DIRECTIONS * len(d) * d.element_size() for d in self.sets)   # sorted projections
        self.sorted = [{} if kept <= keep_bytes else None for _ in self.levels]

    def _descriptor_sets(self, images: torch.Tensor) -> list[torch.Tensor]:
        per_level = [[] for _ in self.levels]
        for chunk in images.split(self.batch_size):
            for i, level in enumerate(laplacian_pyramid(chunk.to(self.device).float(), len(self.levels))):
                per_level[i].append(descriptors(level, self.per_image, generator=self.generator))
        return [normalise(torch.cat(d)) for d in per_level]

    @timing.timed("evaluation")
    @torch.no_grad()
    @threads.evaluation()
    def compare(self, fake_u8: torch.Tensor) -> dict:
        """SWD×10³ per level (keys = resolution) and their average ('avg') from this set to ``fake_u8``."""
        if tuple(fake_u8.shape) != self.shape:
            raise ValueError(f"SWD compares sets of one shape, got {self.shape} and {tuple(fake_u8.shape)}")
        self.generator.set_state(self.state)
        fake = self._descriptor_sets(fake_u8)
        dist = {r: 1e3 * sliced_wasserstein(a, b, generator=self.generator, sorted_a=kept)
                for r, a, b, kept in zip(self.levels, self.sets, fake, self.sorted)}
        dist["avg"] = sum(dist.values()) / len(self.levels)
        return dist


@timing.timed("evaluation")
@torch.no_grad()
@threads.evaluation()
def swd(real_u8: torch.Tensor, fake_u8: torch.Tensor, per_image: int = 128, batch_size: int = 1000,
        device=None, seed: int = 0) -> dict:
    """SWD×10³ per level (keys = resolution) and their average ('avg') between two uint8 image sets
    of equal size (N, C, H, W); grey images are compared as they are (one channel)."""
    return Reference(real_u8, per_image, batch_size, device, seed, keep_bytes=0).compare(fake_u8)


def damage(images_u8: torch.Tensor, kind: str, strength: float, seed: int = 0) -> torch.Tensor:
    """Controlled damage for validating the metric (uint8 in, uint8 out):

    - ``blur``: Gaussian blur, σ = ``strength`` pixels (removes edges: the finest levels);
    - ``noise``: additive N(0, strength²) per pixel, on [0, 1] intensities (adds texture: the finest levels);
    - ``colour``: a random colour cast per image, N(0, strength²) per channel (changes the large-scale
      colour distribution: the coarsest, low-pass level);
    - ``shift``: the same constant added to every pixel (each descriptor set is normalised by its own
      mean, so SWD should not see it at all).
    """
    g = torch.Generator().manual_seed(seed)
    x = images_u8.float() / 255.0
    if kind == "blur":
        k = 2 * math.ceil(3 * strength) + 1
        x = gaussian_blur(x, [k, k], [strength, strength]) if strength > 0 else x
    elif kind == "noise":
        x = x + strength * torch.randn(x.shape, generator=g)
    elif kind == "colour":
        x = x + strength * torch.randn(x.shape[0], x.shape[1], 1, 1, generator=g)
    elif kind == "shift":
        x = x + strength
    else:
        raise ValueError(f"unknown damage {kind!r}: blur, noise, colour or shift")
    return (x.clamp(0, 1) * 255).round().to(torch.uint8)


# Where §5 says each kind of damage shows: the finest level sees edges and noise, the coarsest
# (low-pass) level large-scale structure and colour.
PREDICTED_LEVEL = {"blur": "finest", "noise": "finest", "colour": "coarsest"}


@timing.timed("evaluation")
@threads.evaluation()
def damage_response(reference_u8: torch.Tensor, second_u8: torch.Tensor, strengths: dict, device=None,
                    seed: int = 0) -> dict:
    """Validate SWD on controlled damage: ``real`` is SWD(reference, second); for each kind in
    ``strengths`` (kind → increasing strengths), ``swd`` holds SWD(reference, damaged second) per
    strength, ``rises`` says whether the mean SWD increases strictly from the undamaged set through
    every strength, ``rise`` is the strongest damage's increase per level, and ``as_predicted`` whether
    it raised the level of ``PREDICTED_LEVEL`` more than the other end of the pyramid."""
    todo = bar(total=1 + sum(len(v) for v in strengths.values()), desc="SWD validation")
    ref = Reference(reference_u8, device=device, seed=seed)
    base = ref.compare(second_u8)
    todo.update()
    finest, coarsest = max(k for k in base if k != "avg"), min(k for k in base if k != "avg")
    out = {"real": base}
    for kind, values in strengths.items():
        series = []
        for v in values:
            series.append(ref.compare(damage(second_u8, kind, v, seed=seed)))
            todo.update()
        means = [base["avg"]] + [d["avg"] for d in series]
        rise = {level: series[-1][level] - base[level] for level in base if level != "avg"}
        high, low = (finest, coarsest) if PREDICTED_LEVEL[kind] == "finest" else (coarsest, finest)
        out[kind] = {"strengths": list(values), "swd": series, "rises": all(a < b for a, b in zip(means, means[1:])),
                     "rise": rise, "as_predicted": rise[high] > rise[low]}
    todo.close()
    return out
