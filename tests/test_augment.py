"""Image augmentations for GAN training (Zhao et al. 2020), bCR, the contrastive loss and NT-Xent."""
import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gancourse import CourseError, data, training
from gancourse.papers import augment
from gancourse.papers.augment import AUGMENTATIONS, Augment
from gancourse.nn.models.sngan import SNDCGANDiscriminator, SNDCGANGenerator

NAMES = list(AUGMENTATIONS)
PAPER = [n for n in NAMES if n != "Standard"]


def smooth_images(n=64, channels=3, size=32, seed=0):
    """Low-frequency images in [−1, 1]: shifting or zooming them changes pixels in proportion."""
    g = torch.Generator().manual_seed(seed)
    return F.interpolate(torch.rand(n, channels, 4, 4, generator=g) * 2 - 1, size=size, mode="bilinear",
                         align_corners=False)


@pytest.mark.parametrize("name", NAMES)
def test_every_augmentation_keeps_shape_dtype_device_and_is_differentiable(name):
    fn = AUGMENTATIONS[name][0]
    torch.manual_seed(0)
    for dtype in (torch.float32, torch.float64):
        x = smooth_images(8).to(dtype).requires_grad_(True)
        y = fn(x, 0.3)
        assert y.shape == x.shape and y.dtype == x.dtype and y.device == x.device
        (y * torch.randn_like(y)).sum().backward()
        assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


@pytest.mark.parametrize("name", PAPER)
def test_strength_zero_is_the_identity(name):
    x = smooth_images(8)
    torch.manual_seed(0)
    assert torch.allclose(AUGMENTATIONS[name][0](x, 0.0), x, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_larger_strength_moves_images_more(name):
    x, moved = smooth_images(64), []
    for s in (0.1, 0.3, 0.5):
        torch.manual_seed(1)
        moved.append((AUGMENTATIONS[name][0](x, s) - x).abs().mean().item())
    assert 0 < moved[0] < moved[1] < moved[2], moved


def test_spatial_and_visual_groups_are_the_papers():
    assert set(augment.SPATIAL) == {"ZoomIn", "ZoomOut", "Translation", "TranslationX", "TranslationY",
                                    "CutOut", "CutMix", "Standard"}
    assert set(augment.VISUAL) == {"Brightness", "Redness", "Greenness", "Blueness", "InstanceNoise", "MixUp"}
    assert set(augment.SPATIAL) | set(augment.VISUAL) == set(NAMES) and len(PAPER) == 13


def test_translation_moves_whole_pixels_and_reflects_the_border():
    x = smooth_images(2)
    y = augment._translate(x, torch.tensor([3.0, -2.0]), torch.zeros(2))
    assert torch.allclose(y[0, ..., 3:], x[0, ..., :-3], atol=1e-6)          # shifted right by 3
    assert torch.allclose(y[0, ..., :3], x[0, ..., :3].flip(-1), atol=1e-6)  # the gap mirrors the edge
    assert torch.allclose(y[1, ..., :-2], x[1, ..., 2:], atol=1e-6)


def test_colour_ops_need_rgb_but_brightness_works_on_grey():
    grey = smooth_images(4, channels=1)
    for name in ("Redness", "Greenness", "Blueness"):
        with pytest.raises(CourseError, match="RGB.*Brightness"):
            AUGMENTATIONS[name][0](grey, 0.2)
    assert augment.brightness(grey, 0.2).shape == grey.shape
    rgb = smooth_images(4)
    torch.manual_seed(0)
    changed = (augment.greenness(rgb, 0.3) - rgb).abs().amax((0, 2, 3))
    assert changed[0] == 0 and changed[2] == 0 and changed[1] > 0           # only the green channel moves


def test_unknown_names_and_bad_strengths_are_refused_naming_the_choices():
    with pytest.raises(CourseError, match="unknown augmentation 'Zoom'.*ZoomIn.*MixUp"):
        Augment("Zoom", 0.1)
    for bad in (1.5, -0.1, "0.2", True):
        with pytest.raises(CourseError, match=r"\[0, 1\]"):
            Augment("ZoomIn", bad)
    with pytest.raises(CourseError, match="need as many strengths"):
        Augment(["ZoomIn", "CutOut"], [0.1, 0.2, 0.3])
    aug = Augment("ZoomIn", 0.1)
    with pytest.raises(CourseError, match=r"\[0, 1\]"):
        aug.strength = 2.0


def test_augment_composes_two_in_order_and_describes_its_construction():
    x = smooth_images(8)
    aug = Augment(["Translation", "Brightness"], [0.2, 0.3])
    torch.manual_seed(3)
    out = aug(x)
    torch.manual_seed(3)
    assert torch.equal(out, augment.brightness(augment.translation(x, 0.2), 0.3))
    assert aug.describe() == {"augment": ["Translation", "Brightness"], "strength": [0.2, 0.3]}
    aug.strength = 0.5                                  # one number sets both
    assert aug.strength == [0.5, 0.5]
    assert aug.describe()["strength"] == [0.2, 0.3]     # the identity is what it was built with
    other = Augment(["Translation", "Brightness"], [0.2, 0.3])
    other.load_state_dict(aug.state_dict())
    assert other.strength == [0.5, 0.5]
    assert Augment("CutOut", 0.25).strength == 0.25


def test_anneal_strength_is_linear_then_flat_and_logged():
    aug = Augment("Translation", 0.3)
    anneal = augment.AnnealStrength(aug, 0.0, 0.4, steps=4)
    assert aug.strength == 0.0                          # step 0 uses `start`
    assert [anneal.value(t) for t in (0, 1, 2, 4, 10)] == pytest.approx([0.0, 0.1, 0.2, 0.4, 0.4])
    rec = anneal(SimpleNamespace(step=1), None)         # after step 1: log its strength, set step 2's
    assert rec == {"aug_strength": pytest.approx(0.1)} and aug.strength == pytest.approx(0.2)
    assert not hasattr(anneal, "state_dict")
    with pytest.raises(CourseError, match="positive integer"):
        augment.AnnealStrength(aug, 0.0, 0.4, steps=0)
    with pytest.raises(CourseError, match=r"\[0, 1\]"):
        augment.AnnealStrength(aug, 0.0, 1.4, steps=3)


def _ctx(D, real, fake):
    return training.Step(0, real, fake, None, None, None, D)


def test_balanced_consistency_is_zero_for_the_identity_and_matches_a_hand_computation():
    torch.manual_seed(0)
    lin = nn.Linear(3 * 8 * 8, 1)
    D = lambda x: lin(x.flatten(1)).squeeze(1)          # noqa: E731  a linear D
    real, fake = torch.randn(5, 3, 8, 8), torch.randn(5, 3, 8, 8)
    assert augment.BalancedConsistency(lambda x: x)(_ctx(D, real, fake)).item() == 0
    assert augment.BalancedConsistency(Augment("Translation", 0.3))(_ctx(D, real, fake)).item() > 0
    # T(x) = x + 0.5: D(x) − D(T(x)) = −0.5 Σ w for every image, so each term is (0.5 Σ w)².
    bcr = augment.BalancedConsistency(lambda x: x + 0.5, lambda_real=2.0, lambda_fake=3.0)
    gap = (0.5 * lin.weight.sum()).pow(2)
    assert bcr(_ctx(D, real, fake)).item() == pytest.approx((2.0 + 3.0) * gap.item(), rel=1e-4)
    assert bcr.name == "bcr" and bcr.describe()["lambda_real"] == 2.0


def _nt_xent_by_hand(z1, z2, t):
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n, losses = len(z1), []
    for i in range(2 * n):
        pos = (i + n) % (2 * n)
        logits = torch.stack([z[i] @ z[k] / t for k in range(2 * n) if k != i])
        losses.append(-(z[i] @ z[pos] / t - torch.logsumexp(logits, 0)))
    return torch.stack(losses).mean()


def test_nt_xent_matches_its_definition_and_its_two_limits():
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(6, 10, generator=g), torch.randn(6, 10, generator=g)
    assert augment.nt_xent(z1, z2, 0.5).item() == pytest.approx(_nt_xent_by_hand(z1, z2, 0.5).item(), rel=1e-5)
    distinct = torch.eye(8)                              # identical views of orthogonal vectors
    assert augment.nt_xent(distinct, distinct, 0.1).item() < 1e-2
    r1, r2 = torch.randn(8, 8192, generator=g), torch.randn(8, 8192, generator=g)
    assert augment.nt_xent(r1, r2, 1.0).item() == pytest.approx(math.log(2 * 8 - 1), abs=0.05)


def test_simclr_views_are_differentiable_and_differ():
    torch.manual_seed(0)
    x = smooth_images(8).requires_grad_(True)
    v1, v2 = augment.simclr_augment(x), augment.simclr_augment(x)
    assert v1.shape == x.shape and not torch.allclose(v1, v2)
    assert v1.min() >= -1 and v1.max() <= 1
    v1.sum().backward()
    assert x.grad.abs().sum() > 0
    assert augment.simclr_augment(smooth_images(4, channels=1)).shape == (4, 1, 32, 32)


def test_contrastive_loss_is_a_module_whose_head_learns():
    torch.manual_seed(0)
    D = SNDCGANDiscriminator(width=4)
    loss_fn = augment.ContrastiveLoss(feature_dim=D.features(torch.zeros(1, 3, 32, 32)).shape[1])
    assert isinstance(loss_fn, nn.Module) and loss_fn.name == "contrastive"
    loss = loss_fn(_ctx(D, smooth_images(8), smooth_images(8, seed=1)))
    assert loss.dim() == 0 and loss.item() > 0
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in loss_fn.head.parameters())
    assert loss_fn.describe()["weight"] == 0.1


def test_contrastive_and_bcr_train_inside_the_trainer_and_resume(tmp_path):
    x = torch.rand(32, 3, 32, 32) * 2 - 1

    def trainer():
        torch.manual_seed(0)
        G, D = SNDCGANGenerator(z_dim=16, width=4), SNDCGANDiscriminator(width=4)
        aug = Augment("Translation", 0.2)
        contrastive = augment.ContrastiveLoss(feature_dim=4 * 4 * 32)
        tr = training.Trainer(G, D, loss="hinge", d_terms=[contrastive, augment.BalancedConsistency(aug)],
                              augment=aug, callbacks=[augment.AnnealStrength(aug, 0.0, 0.4, steps=4)],
                              out_dir=tmp_path, log_every=1, progress=False)
        return tr, aug, contrastive

    tr, aug, contrastive = trainer()
    head_ids = {id(p) for p in contrastive.head.parameters()}
    assert head_ids <= {id(p) for group in tr.opt_d.param_groups for p in group["params"]}
    before = [p.detach().clone() for p in contrastive.head.parameters()]
    history = tr.fit(data.batches(x, 8), 2)
    assert {"contrastive", "bcr", "aug_strength"} <= set(history[-1])
    assert [r["aug_strength"] for r in history] == pytest.approx([0.0, 0.1])
    assert any(not torch.equal(a, b) for a, b in zip(before, contrastive.head.parameters()))
    assert tr.identity["augment"] == {"augment": ["Translation"], "strength": [0.2]}
    tr2, aug2, contrastive2 = trainer()                 # resumes: the annealed strength and the head come back
    assert tr2.step == 2 and aug2.strength == pytest.approx(0.2)
    assert all(torch.equal(a, b) for a, b in zip(contrastive.head.parameters(), contrastive2.head.parameters()))


def test_gallery_shows_every_augmentation_and_leaves_the_global_rng_alone():
    x = smooth_images(4)
    state = torch.get_rng_state()
    pictures = augment.gallery(x)
    assert torch.equal(torch.get_rng_state(), state)
    assert set(pictures) == set(NAMES) and pictures["ZoomIn"].shape == (12, 3, 32, 32)
    assert torch.equal(augment.gallery(x)["CutOut"], pictures["CutOut"])   # the same picture every time
    assert set(augment.gallery(smooth_images(4, channels=1))) == set(NAMES) - set(augment.RGB_ONLY)


def test_the_selection_seed_is_fixed_by_the_run_and_never_a_measured_seed():
    """07 picks "the best augmentation" on a sweep trained with augment.selection_seed(seed), then measures the
    winner on runs of ``seed``: no measured seed (0, 1, 2, ...) is ever a selection seed, and a rerun picks the same."""
    picks = [augment.selection_seed(s) for s in range(1000)]
    assert picks == [augment.selection_seed(s) for s in range(1000)]
    assert len(set(picks)) == 1000 and not set(picks) & set(range(1000))
