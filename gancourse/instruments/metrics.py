"""Sample-quality metrics.

Images: FID (Heusel et al. 2017), KID (Bińkowski et al. 2018) and the Inception Score
(Salimans et al. 2016, IS = exp E_x KL(p(y|x) || p(y))), computed by torchmetrics with a
pluggable feature extractor (see ``gancourse.extractors``). Every result carries its extractor's name.

Diversity: mean MS-SSIM between random pairs of generated images (Odena et al. 2017; PGGAN's Table 1),
through torchmetrics.

2D mixtures: modes covered and % high-quality samples (a sample within 3σ of its nearest mode),
as in the unrolled-GAN / VEEGAN / PacGAN benchmarks.
"""
from __future__ import annotations

import warnings

import torch
from torch import nn
from torchmetrics.functional.image import multiscale_structural_similarity_index_measure
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.inception import InceptionScore
from torchmetrics.image.kid import KernelInceptionDistance

from .. import seeding
from .. import threads, timing
from ..progress import bar
from ..data import ImageSet, Mixture, to_uint8
from .extractors import Extractor

# torchmetrics warns that KID/IS keep all features in memory: at the course's sample counts they fit.
warnings.filterwarnings("ignore", message=r"Metric `(Kernel Inception Distance|InceptionScore)` will save all")


class _Precomputed(nn.Module):
    """An identity 'network' for torchmetrics: the features were computed once already."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, x):
        return x


@timing.timed("evaluation")
@torch.no_grad()
@threads.evaluation(thread_free=True)
def image_metrics(real_u8: torch.Tensor, fake_u8: torch.Tensor, extractor: Extractor, device="cpu",
                  batch_size: int = 500, kid_subset: int = 1000, seed: int = 0) -> dict:
    """FID, KID (mean, std over subsets) and, if the extractor has logits, IS of ``fake_u8``.

    Both inputs are uint8 (N, C, H, W). Returns a dict that names the extractor. Every image goes
    through the extractor once (FID, KID and IS share its features and logits). KID's subsets and
    IS's splits are random: they are drawn from ``seed``, never from the global RNG.
    """
    out = {"extractor": extractor.name, "n_real": len(real_u8), "n_fake": len(fake_u8)}
    has_is = extractor.logits is not None
    f_real = extractor.extract(real_u8, device, batch_size)
    f_fake, l_fake = extractor.extract(fake_u8, device, batch_size, logits=True) if has_is else \
        (extractor.extract(fake_u8, device, batch_size), None)
    n_feat = f_real.shape[1]
    fid = FrechetInceptionDistance(feature=_Precomputed(n_feat)).to(device)
    kid = KernelInceptionDistance(feature=_Precomputed(n_feat),
                                  subset_size=min(kid_subset, len(real_u8) // 2, len(fake_u8) // 2)).to(device)
    for m in (fid, kid):
        m.update(f_real, real=True)
        m.update(f_fake, real=False)
    out["fid"] = fid.compute().item()
    with seeding.evaluation(seed, "kid subsets"):
        kid_mean, kid_std = kid.compute()
    out["kid"], out["kid_std"] = kid_mean.item(), kid_std.item()
    if has_is:
        out["is"], out["is_std"] = _inception_score_of_logits(l_fake, device, seed=seed)
    return out


def _inception_score_of_logits(logits: torch.Tensor, device="cpu", splits: int = 10, seed: int = 0):
    metric = InceptionScore(feature=_Precomputed(logits.shape[1]), splits=splits).to(device)
    metric.update(logits)
    with seeding.evaluation(seed, "inception score splits"):
        mean, std = metric.compute()
    return mean.item(), std.item()


@timing.timed("evaluation")
@torch.no_grad()
@threads.evaluation(thread_free=True)
def inception_score(images_u8: torch.Tensor, extractor: Extractor, device="cpu", batch_size: int = 500,
                    splits: int = 10, seed: int = 0) -> tuple[float, float]:
    """IS = exp(E_x KL(p(y|x) || p(y))), mean and std over ``splits`` random splits (Salimans et al.
    2016); the splits are drawn from ``seed``."""
    extractor.logits.to(device).eval()
    logits = torch.cat([extractor.logits(chunk.to(device)) for chunk in images_u8.split(batch_size)])
    return _inception_score_of_logits(logits, device, splits, seed)


@threads.evaluation()
def sample_quality(trainer, real: ImageSet, extractor: Extractor, n: int, draws: int, device="cpu",
                   name: str = "image metrics") -> list[dict]:
    """``image_metrics`` of ``n`` EMA samples against ``n`` real images, on ``draws`` independent
    draws: each draw takes other noise and (when the real set is larger than ``n``) another real
    subset, both derived from the trainer's seed. The spread over draws is the evaluation's noise."""
    out = []
    for d in bar(range(draws), desc=f"{name} ({getattr(trainer, 'desc', '')})", enabled=getattr(trainer, "progress", True)):
        ref = real.images if len(real) <= n else real.subset(n, seeding.derive(trainer.seed, name, "real", d)).images
        fake = to_uint8(trainer.sample(n, name=name, draw=d)).cpu()
        out.append(image_metrics(ref[:n], fake, extractor, device, seed=seeding.derive(trainer.seed, name, d)))
    return out


def real_quality(reference: ImageSet, second: ImageSet, extractor: Extractor, n: int, draws: int, device="cpu",
                 seed: int = 0, name: str = "real metrics") -> list[dict]:
    """``image_metrics`` of ``n`` images of ``second`` against ``n`` of ``reference`` (two real sets: the
    floor a generator is measured against), on ``draws`` draws of the subsets."""
    out = []
    for d in bar(range(draws), desc=name):
        pick = lambda s, tag: (s.images if len(s) <= n else s.subset(n, seeding.derive(seed, name, tag, d)).images)[:n]
        out.append(image_metrics(pick(reference, "a"), pick(second, "b"), extractor, device,
                                 seed=seeding.derive(seed, name, d)))
    return out


class QualityCurve:
    """Trainer callback: FID (and IS, if the extractor has logits) of ``n`` EMA samples against ``real``
    every ``every`` steps — one fixed draw, so the points of one run and of several runs compare;
    evaluation time is not training time. ``records`` keeps them."""

    def __init__(self, real_u8: torch.Tensor, extractor: Extractor, n: int, every: int, device="cpu"):
        self.real, self.extractor, self.n, self.every, self.device = real_u8[:n], extractor, n, every, device
        self.records: list[dict] = []

    def __call__(self, trainer, ctx) -> dict | None:
        if (trainer.step + 1) % self.every:
            return None
        with trainer.paused():
            fake = to_uint8(trainer.sample(self.n, name="quality curve")).cpu()
            m = image_metrics(self.real, fake, self.extractor, self.device, seed=seeding.derive(trainer.seed, "curve"))
        rec = {"step": trainer.step + 1, "time": round(trainer.clock(), 3), "fid": m["fid"], **({"is": m["is"]} if "is" in m else {})}
        self.records.append(rec)
        return {"fid": m["fid"]}

    def state_dict(self) -> dict:
        return {"records": self.records}

    def load_state_dict(self, state: dict) -> None:
        self.records = list(state["records"])


def mean_over_draws(draws: list[dict]) -> dict:
    """One dict from several draws of ``image_metrics``: each number's mean, and its sd as ``<key>_sd``."""
    out = dict(draws[0])
    for key, v in draws[0].items():
        if isinstance(v, float):
            vals = torch.tensor([d[key] for d in draws], dtype=torch.float64)
            out[key] = vals.mean().item()
            out[f"{key}_sd"] = vals.std().item() if len(vals) > 1 else 0.0
    out["draws"] = len(draws)
    return out


def format_metrics(m: dict) -> str:
    """One line: FID, KID, IS, with the spread over draws where there were several; the extractor named.

    KID is an unbiased estimate of a squared distance, so for two sets from nearly the same
    distribution it scatters around 0 and can be negative."""
    def num(key, digits):
        sd = m.get(f"{key}_sd")
        return f"{m[key]:.{digits}f}" + (f" ± {sd:.{digits}f}" if sd is not None and m.get("draws", 1) > 1 else "")
    parts = [f"FID {num('fid', 2)}", f"KID {num('kid', 4)}"]
    if "is" in m:
        parts.append(f"IS {num('is', 2)}")
    over = f" × {m['draws']} draws" if m.get("draws", 1) > 1 else ""
    return f"{', '.join(parts)}  [{m['n_fake']:,} samples vs {m['n_real']:,} real{over}; extractor: {m['extractor']}]"


@timing.timed("evaluation")
@threads.evaluation()
def mode_coverage(samples: torch.Tensor, mix: Mixture, n_sigma: float = 3.0, min_count: int = 1) -> dict:
    """Modes covered and the share of high-quality samples.

    A sample is high quality if it lies within ``n_sigma``·σ of its nearest mode; a mode is covered
    if at least ``min_count`` high-quality samples fall on it (VEEGAN's rule is min_count = 1).
    ``kl_to_uniform`` is KL(mode histogram of high-quality samples || uniform), 0 when balanced.
    """
    samples = samples.detach().float().cpu()
    dist = torch.cdist(samples, mix.centers.float())
    nearest_d, nearest = dist.min(1)
    hq = nearest_d <= n_sigma * mix.std
    counts = torch.bincount(nearest[hq], minlength=len(mix.centers))
    k = len(mix.centers)
    if counts.sum() > 0:
        p = counts.float() / counts.sum()
        kl = float((p[p > 0] * (p[p > 0] * k).log()).sum())
    else:
        kl = float("nan")
    return {"modes": int((counts >= min_count).sum()), "n_modes": k,
            "hq": float(hq.float().mean()), "kl_to_uniform": kl, "counts": counts.tolist()}


@timing.timed("evaluation")
@torch.no_grad()
@threads.evaluation()
def nearest_neighbour_distance(queries: torch.Tensor, reference: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """L2 distance from each query to its nearest reference (flattened images): a memorisation check."""
    ref = reference.flatten(1).float()
    return torch.cat([torch.cdist(q.flatten(1).float(), ref).min(1).values for q in queries.split(batch_size)])


# Wang et al.'s five scale weights; images of 32 px have room for three scales with a 7×7 window.
MS_SSIM_BETAS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


@timing.timed("evaluation")
@torch.no_grad()
@threads.evaluation(thread_free=True)
def ms_ssim_pairs(images_u8: torch.Tensor, n_pairs: int = 10000, seed: int = 0, device="cpu",
                  batch_size: int = 1000) -> float:
    """Mean MS-SSIM over ``n_pairs`` random pairs of distinct images: high when a set lacks variety.

    Below 128 px there is room for fewer than five scales: the weights kept are renormalised to sum
    to one, with a 7×7 Gaussian window (σ = 1.5) below 64 px and 11×11 above, as far as the size allows.
    """
    n, size = len(images_u8), images_u8.shape[-1]
    kernel = 7 if size < 64 else 11
    scales = 1
    while scales < len(MS_SSIM_BETAS) and size > (kernel - 1) * 2 ** scales:
        scales += 1
    betas = MS_SSIM_BETAS[:scales]
    betas = tuple(b / sum(betas) for b in betas)
    g = torch.Generator().manual_seed(seed)
    i = torch.randint(n, (n_pairs,), generator=g)
    j = (i + torch.randint(1, n, (n_pairs,), generator=g)) % n          # j ≠ i
    values = []
    for a, b in zip(i.split(batch_size), j.split(batch_size)):
        x, y = images_u8[a].to(device).float() / 255, images_u8[b].to(device).float() / 255
        values.append(multiscale_structural_similarity_index_measure(
            x, y, kernel_size=kernel, sigma=1.5, betas=betas, data_range=1.0, reduction="none"))
    return torch.cat(values).mean().item()
