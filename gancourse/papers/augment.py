"""Image augmentations for GAN training (Zhao, Zhang, Chen, Singh & Zhang 2020, arXiv 2006.02595), and the
two regularisers built on them: balanced consistency (bCR) and the contrastive loss.

Each augmentation ``name(x, λ)`` takes a batch (N, C, H, W) in [−1, 1] and returns a batch of the same
shape, differentiable in x, every image with its own random parameters drawn from the global torch RNG
on x's device (so a resumed run draws the same ones). The paper (§2) normalises images to [0, 1], applies
one augmentation t at a time and sweeps its strength λ = λ_aug from the weakest to the strongest setting;
a shift of b in its [0, 1] range is a shift of 2b here. What λ sets, each parameter drawn per image,
uniformly (our reading of the paper's definitions: check its Table 1 before quoting exact ranges):

| name         | group   | what λ sets                                                                   |
| ZoomIn       | spatial | zoom factor r ∈ [1, 1 + λ]: a (H/r, W/r) window at a random place, resized up  |
| ZoomOut      | spatial | r ∈ [1, 1 + λ]: the image shrunk to (H/r, W/r) at a random place, rest filled  |
| Translation  | spatial | shift (t_x·W, t_y·H), t_x, t_y ∈ [−λ, λ]                                      |
| TranslationX | spatial | horizontal shift t_x·W only;  TranslationY: vertical t_y·H only               |
| CutOut       | spatial | a (s·H, s·W) rectangle, s ∈ [0, λ], random centre, blacked out                |
| CutMix       | spatial | the same rectangle, filled from another image of the batch                     |
| Brightness   | visual  | b ∈ [−λ, λ] added to every channel                                             |
| Redness      | visual  | b ∈ [−λ, λ] added to the red channel (Greenness, Blueness: green, blue); RGB   |
| InstanceNoise| visual  | Gaussian noise of standard deviation σ ∈ [0, λ]                                |
| MixUp        | visual  | (1 − α)·x + α·x', α ∈ [0, λ], x' another image of the batch                    |
| Standard     | spatial | the usual baseline: flip (p = ½), crop after padding by λ·W pixels (0.125: 4 px at 32) |

The spatial/visual split is the paper's (spatial changes help more than visual ones). Where it is
silent these are our choices: zooms are bilinear; pixels that zooms and translations uncover are filled
by reflection at the border; translations are rounded to whole pixels (no blur); CutOut fills with
black (0 of the [0, 1] range); rectangles are clipped at the border; the partner of MixUp/CutMix is a
random permutation of the batch (an image may meet itself); colour and noise ops do not clip to
[−1, 1]; Standard pads with black, as torchvision's RandomCrop(32, padding=4) on [0, 1] images.
At λ = 0 every op except Standard's flip is the identity.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .. import CourseError, seeding
from ..training import describe, describe_module

UNIT = 2.0            # one unit of the paper's [0, 1] pixel range, in our [−1, 1] range


def _uniform(n: int, lo, hi, like: torch.Tensor) -> torch.Tensor:
    """n draws from U[lo, hi], from the global RNG, on ``like``'s device."""
    return lo + (hi - lo) * torch.rand(n, device=like.device, dtype=like.dtype)


def _affine(x, sx, sy, tx, ty, padding: str = "reflection") -> torch.Tensor:
    """The output pixel at (u, v) (coordinates in [−1, 1]) reads x at (sx·u + tx, sy·v + ty), bilinearly."""
    theta = torch.zeros(x.shape[0], 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0], theta[:, 1, 1], theta[:, 0, 2], theta[:, 1, 2] = sx, sy, tx, ty
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding, align_corners=False)


def _translate(x, dx, dy, black: bool = False) -> torch.Tensor:
    """Shift each image by (dx, dy) whole pixels; uncovered pixels by reflection, or black."""
    H, W = x.shape[-2:]
    one = torch.ones_like(dx)
    if black:
        return _affine(x + 1, one, one, -2 * dx / W, -2 * dy / H, padding="zeros") - 1
    return _affine(x, one, one, -2 * dx / W, -2 * dy / H)


def _box(x, strength) -> torch.Tensor:
    """A (N, 1, H, W) mask, 1 inside a (s·H, s·W) rectangle, s ∈ [0, λ], centred uniformly, clipped."""
    n, _, H, W = x.shape
    s, cy, cx = _uniform(n, 0, strength, x), _uniform(n, 0, 1, x), _uniform(n, 0, 1, x)
    ys = (torch.arange(H, device=x.device, dtype=x.dtype) + 0.5) / H
    xs = (torch.arange(W, device=x.device, dtype=x.dtype) + 0.5) / W
    in_y = (ys[None] - cy[:, None]).abs() < s[:, None] / 2
    in_x = (xs[None] - cx[:, None]).abs() < s[:, None] / 2
    return (in_y[:, None, :, None] & in_x[:, None, None, :]).to(x.dtype)


def _partner(x) -> torch.Tensor:
    return x[torch.randperm(x.shape[0], device=x.device)]


# -- the paper's augmentations (Zhao et al. 2020, §2) -----------------------------------------

def zoom_in(x, strength):
    """ZoomIn: a window 1/r of the image, r ∈ [1, 1 + λ], at a random place, resized back bilinearly."""
    n, r = x.shape[0], _uniform(x.shape[0], 1, 1 + strength, x)
    room = 1 - 1 / r                                      # how far the window's centre may move
    return _affine(x, 1 / r, 1 / r, _uniform(n, -1, 1, x) * room, _uniform(n, -1, 1, x) * room)


def zoom_out(x, strength):
    """ZoomOut: the image shrunk by r ∈ [1, 1 + λ] at a random place, the border reflected around it."""
    n, r = x.shape[0], _uniform(x.shape[0], 1, 1 + strength, x)
    return _affine(x, r, r, _uniform(n, -1, 1, x) * (r - 1), _uniform(n, -1, 1, x) * (r - 1))


def translation(x, strength):
    """Translation: shift by (t_x·W, t_y·H), t ∈ [−λ, λ], whole pixels, reflection fill."""
    n, (H, W) = x.shape[0], x.shape[-2:]
    return _translate(x, (_uniform(n, -strength, strength, x) * W).round(),
                      (_uniform(n, -strength, strength, x) * H).round())


def translation_x(x, strength):
    """TranslationX: horizontal shift t_x·W, t_x ∈ [−λ, λ]."""
    n, W = x.shape[0], x.shape[-1]
    return _translate(x, (_uniform(n, -strength, strength, x) * W).round(), x.new_zeros(n))


def translation_y(x, strength):
    """TranslationY: vertical shift t_y·H, t_y ∈ [−λ, λ]."""
    n, H = x.shape[0], x.shape[-2]
    return _translate(x, x.new_zeros(n), (_uniform(n, -strength, strength, x) * H).round())


def cut_out(x, strength):
    """CutOut (DeVries & Taylor 2017): a random rectangle of side s·(H, W), s ∈ [0, λ], set to black."""
    m = _box(x, strength)
    return x - m * (x + 1)


def cut_mix(x, strength):
    """CutMix (Yun et al. 2019): that rectangle taken from another image of the batch."""
    m = _box(x, strength)
    return x + m * (_partner(x) - x)


def mix_up(x, strength):
    """MixUp (Zhang et al. 2018): (1 − α)·x + α·x', α ∈ [0, λ], x' another image of the batch."""
    a = _uniform(x.shape[0], 0, strength, x).view(-1, 1, 1, 1)
    return x + a * (_partner(x) - x)


def brightness(x, strength):
    """Brightness: b ∈ [−λ, λ] (of [0, 1]) added to every pixel; works on grey images too."""
    return x + UNIT * _uniform(x.shape[0], -strength, strength, x).view(-1, 1, 1, 1)


def _channel_shift(x, strength, channel: int, name: str):
    if x.shape[1] != 3:
        raise CourseError(f"{name} changes one colour channel and needs RGB images (3 channels), not "
                          f"{x.shape[1]}; on grey images use Brightness")
    b = UNIT * _uniform(x.shape[0], -strength, strength, x).view(-1, 1, 1, 1)
    return x + b * F.one_hot(torch.tensor(channel, device=x.device), 3).to(x.dtype).view(1, 3, 1, 1)


def redness(x, strength):
    """Redness: b ∈ [−λ, λ] added to the red channel."""
    return _channel_shift(x, strength, 0, "Redness")


def greenness(x, strength):
    """Greenness: b ∈ [−λ, λ] added to the green channel."""
    return _channel_shift(x, strength, 1, "Greenness")


def blueness(x, strength):
    """Blueness: b ∈ [−λ, λ] added to the blue channel."""
    return _channel_shift(x, strength, 2, "Blueness")


def instance_noise(x, strength):
    """InstanceNoise (Sønderby et al. 2017): x + σ·ε, ε ~ N(0, I), σ ∈ [0, λ] (of [0, 1])."""
    return x + UNIT * _uniform(x.shape[0], 0, strength, x).view(-1, 1, 1, 1) * torch.randn_like(x)


def standard(x, strength=0.125):
    """The baseline of GAN papers: a horizontal flip with probability ½, then a random crop after
    padding by λ·(H, W) pixels with black (λ = 0.125: 4 pixels at 32×32)."""
    n, (H, W) = x.shape[0], x.shape[-2:]
    x = torch.where(torch.rand(n, 1, 1, 1, device=x.device) < 0.5, x.flip(-1), x)
    py, px = round(strength * H), round(strength * W)
    dy = torch.randint(-py, py + 1, (n,), device=x.device).to(x.dtype)
    dx = torch.randint(-px, px + 1, (n,), device=x.device).to(x.dtype)
    return _translate(x, dx, dy, black=True)


AUGMENTATIONS = {
    "ZoomIn": (zoom_in, "spatial"), "ZoomOut": (zoom_out, "spatial"), "Translation": (translation, "spatial"),
    "TranslationX": (translation_x, "spatial"), "TranslationY": (translation_y, "spatial"),
    "CutOut": (cut_out, "spatial"), "CutMix": (cut_mix, "spatial"),
    "Brightness": (brightness, "visual"), "Redness": (redness, "visual"), "Greenness": (greenness, "visual"),
    "Blueness": (blueness, "visual"), "InstanceNoise": (instance_noise, "visual"), "MixUp": (mix_up, "visual"),
    "Standard": (standard, "spatial"),           # not one of the paper's 13: the flip + crop baseline
}
SPATIAL = tuple(k for k, (_, group) in AUGMENTATIONS.items() if group == "spatial")
VISUAL = tuple(k for k, (_, group) in AUGMENTATIONS.items() if group == "visual")
RGB_ONLY = ("Redness", "Greenness", "Blueness")


def check_strength(s) -> float:
    if isinstance(s, bool) or not isinstance(s, (int, float)) or not 0 <= s <= 1:
        raise CourseError(f"an augmentation strength λ_aug is a number in [0, 1], not {s!r}")
    return float(s)


class Augment:
    """The trainer's ``augment``: ``Augment("Translation", 0.2)``, or ops applied in order,
    ``Augment(["Translation", "Brightness"], [0.2, 0.3])``. ``strength`` can be set (one number for
    all ops, or one each) to anneal it; it is checkpointed. ``describe()`` gives the strengths it was
    built with, so annealing does not change a run's identity."""

    def __init__(self, names, strengths):
        self.names = [names] if isinstance(names, str) else list(names)
        for name in self.names:
            if name not in AUGMENTATIONS:
                raise CourseError(f"unknown augmentation {name!r}; choose from {', '.join(AUGMENTATIONS)}")
        self._initial = self._check(strengths)
        self._strengths = list(self._initial)

    def _check(self, strengths) -> list[float]:
        s = list(strengths) if isinstance(strengths, (list, tuple)) else [strengths] * len(self.names)
        if len(s) != len(self.names):
            raise CourseError(f"{len(self.names)} augmentations {self.names} need as many strengths, not {len(s)}")
        return [check_strength(v) for v in s]

    @property
    def strength(self):
        return self._strengths[0] if len(self._strengths) == 1 else list(self._strengths)

    @strength.setter
    def strength(self, value):
        self._strengths = self._check(value)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        for name, s in zip(self.names, self._strengths):
            x = AUGMENTATIONS[name][0](x, s)
        return x

    def describe(self) -> dict:
        return {"augment": list(self.names), "strength": list(self._initial)}

    def state_dict(self) -> dict:
        return {"strength": list(self._strengths)}

    def load_state_dict(self, state: dict) -> None:
        self.strength = state["strength"]

    def __repr__(self) -> str:
        return f"Augment({self.names}, {self._strengths})"


class AnnealStrength:
    """Trainer callback: λ_aug goes linearly from ``start`` to ``end`` over ``steps`` generator steps and
    then stays; logged as ``aug_strength``. Stateless: step t uses ``value(t)`` (a resumed run gets it back
    from the Augment's own checkpointed strength)."""

    def __init__(self, augment: Augment, start: float, end: float, steps: int):
        if not isinstance(steps, int) or steps < 1:
            raise CourseError(f"steps must be a positive integer, not {steps!r}")
        self.augment, self.start, self.end, self.steps = augment, check_strength(start), check_strength(end), steps
        augment.strength = self.start

    def value(self, step: int) -> float:
        return self.start + (self.end - self.start) * min(step, self.steps) / self.steps

    def __call__(self, trainer, ctx) -> dict:
        used = self.value(trainer.step)                  # the step that just ran; trainer.step counts it next
        self.augment.strength = self.value(trainer.step + 1)
        return {"aug_strength": used}

    def describe(self) -> dict:
        return {"hook": "anneal λ_aug", "start": self.start, "end": self.end, "steps": self.steps}


class BalancedConsistency:
    """bCR (Zhao et al. 2020, arXiv 2002.04724, §3.1, Algorithm 1), a ``d_terms`` hook:
    λ_real·E‖D(x) − D(T(x))‖² + λ_fake·E‖D(G(z)) − D(T(G(z)))‖², on the un-augmented batches; λ = 10."""
    name = "bcr"

    def __init__(self, augment, lambda_real: float = 10.0, lambda_fake: float = 10.0):
        self.augment, self.lambda_real, self.lambda_fake = augment, lambda_real, lambda_fake

    def _gap(self, critic, x) -> torch.Tensor:
        return (critic(x) - critic(self.augment(x))).reshape(x.shape[0], -1).pow(2).sum(1).mean()

    def __call__(self, ctx) -> torch.Tensor:
        fake = ctx.fake.detach()                         # as in D's step
        return self.lambda_real * self._gap(ctx.critic, ctx.real) + self.lambda_fake * self._gap(ctx.critic, fake)

    def describe(self) -> dict:
        return {"hook": "bcr", "lambda_real": self.lambda_real, "lambda_fake": self.lambda_fake,
                "augment": describe(self.augment)}


# -- the contrastive loss (Zhao et al. 2020; SimCLR, Chen et al. 2020) ---------------------------

def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """SimCLR's NT-Xent (Chen et al. 2020, eq. 1) over N pairs: for each of the 2N views, −log of the softmax
    (cosine similarity / τ) of its other view against the 2N − 2 views of other images; mean over 2N."""
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = (z @ z.T / temperature).masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return F.cross_entropy(sim, target)


def _grey(y):
    return y if y.shape[1] == 1 else (y * y.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)


def colour_jitter(x, strength: float = 0.4, p: float = 0.8) -> torch.Tensor:
    """SimCLR's colour jitter (CIFAR: 0.4, p = 0.8) as torchvision defines it on [0, 1]: brightness ×b,
    contrast and saturation blends with factors in [1 − s, 1 + s], clipped after each; in that order
    (torchvision's is random); hue (0.1) and SimCLR's random greyscale are left out."""
    n, y = x.shape[0], (x + 1) / 2

    def factor():
        return _uniform(n, 1 - strength, 1 + strength, x).view(-1, 1, 1, 1)
    y = (y * factor()).clamp(0, 1)                                   # brightness
    mean = _grey(y).mean((1, 2, 3), keepdim=True)
    y = ((y - mean) * factor() + mean).clamp(0, 1)                   # contrast
    g = _grey(y)
    y = ((y - g) * factor() + g).clamp(0, 1)                         # saturation
    return torch.where(torch.rand(n, 1, 1, 1, device=x.device) < p, y * 2 - 1, x)


def simclr_augment(x, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)) -> torch.Tensor:
    """SimCLR's view: random resized crop (area ∈ ``scale``, SimCLR's default (0.08, 1); aspect ratio
    log-uniform in ``ratio``; bilinear), horizontal flip with p = ½, then ``colour_jitter``."""
    n = x.shape[0]
    area = _uniform(n, *scale, x)
    r = torch.exp(_uniform(n, math.log(ratio[0]), math.log(ratio[1]), x))
    w, h = (area * r).sqrt().clamp(max=1), (area / r).sqrt().clamp(max=1)
    flip = torch.where(torch.rand(n, device=x.device) < 0.5, -1.0, 1.0).to(x.dtype)
    cx, cy = _uniform(n, -1, 1, x) * (1 - w), _uniform(n, -1, 1, x) * (1 - h)     # the crop stays inside
    x = _affine(x, w * flip, h, cx, cy, padding="border")
    return colour_jitter(x)


class ContrastiveLoss(nn.Module):
    """A ``d_terms`` hook: weight · NT-Xent between two SimCLR views of each real image (and of each fake,
    detached, with ``fakes``), on a projection head (features → 128 → ReLU → 128) over ``D.features``;
    λ_Cntr = 0.1 in the paper. The head is trained with D's optimiser and checkpointed."""
    name = "contrastive"

    def __init__(self, feature_dim: int, weight: float = 0.1, temperature: float = 0.1, fakes: bool = True,
                 hidden: int = 128, out_dim: int = 128):
        super().__init__()
        self.head = nn.Sequential(nn.Linear(feature_dim, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))
        self.weight, self.temperature, self.fakes = weight, temperature, fakes

    def pair_loss(self, D, x) -> torch.Tensor:
        h = self.head(D.features(simclr_augment(torch.cat([x, x]))))   # both views in one pass
        return nt_xent(*h.chunk(2), temperature=self.temperature)

    def forward(self, ctx) -> torch.Tensor:
        loss = self.pair_loss(ctx.D, ctx.real)
        if self.fakes:
            loss = loss + self.pair_loss(ctx.D, ctx.fake.detach())
        return self.weight * loss

    def describe(self) -> dict:
        return {"hook": "contrastive", "weight": self.weight, "temperature": self.temperature,
                "fakes": self.fakes, "head": describe_module(self.head)}


def gallery(x: torch.Tensor, strengths=(0.1, 0.3, 0.5), seed: int = 0) -> dict[str, torch.Tensor]:
    """Every augmentation at each strength on the images ``x``: {name: (len(strengths)·N, C, H, W)}, one row
    of N per strength (``save_image(t, nrow=N)``); colour ops are left out on grey images. The draws come
    from ``seed`` inside ``fork_rng``: the global RNG is left exactly as it was."""
    out = {}
    with torch.no_grad(), torch.random.fork_rng(devices=[x.device] if x.device.type == "cuda" else []):
        torch.manual_seed(seed)
        for name, (fn, _) in AUGMENTATIONS.items():
            if name not in RGB_ONLY or x.shape[1] == 3:
                out[name] = torch.cat([fn(x, s) for s in strengths])
    return out


def selection_seed(seed: int) -> int:
    """The training seed of the sweep that picks "the best augmentation" for a run of seed ``seed``: derived
    from it (so a rerun picks the same), and never a seed a measured run uses (63 bits, not 0, 1, 2, ...), so
    the runs that measure the winner are not the runs it was picked on (no winner's curse)."""
    return seeding.derive(seed, "augmentation selection")


def leak_statistic(images: torch.Tensor, name: str) -> torch.Tensor:
    """Per image, the quantity a visual augmentation moves: mean brightness (Brightness), or one channel's
    mean minus the other two's (Redness, Greenness, Blueness). Its spread over a generator's samples,
    against the real data's, shows an augmentation "leaking" into what G makes (the paper's §3.1)."""
    x = images.float()
    if name == "Brightness":
        return x.mean((1, 2, 3))
    if name in RGB_ONLY:
        if x.shape[1] != 3:
            raise CourseError(f"{name} needs RGB images, not {x.shape[1]}-channel ones")
        c = RGB_ONLY.index(name)
        others = [i for i in range(3) if i != c]
        return x[:, c].mean((1, 2)) - x[:, others].mean((1, 2, 3))
    raise CourseError(f"no leak statistic for {name!r}; use Brightness, {', '.join(RGB_ONLY)}")
