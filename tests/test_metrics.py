import math

import pytest
import torch
from torch import nn

from gancourse import CourseError, data
from gancourse.instruments import extractors, metrics


class OneHot(nn.Module):
    """A fake extractor: the class is the image's mean pixel bucket; logits are ±10 one-hot."""
    num_features = 10

    def forward(self, x):
        k = (x.float().mean((1, 2, 3)) / 25.6).long().clamp(0, 9)
        return nn.functional.one_hot(k, 10).float() * 20 - 10


def _images_of_classes(classes):
    return torch.stack([torch.full((1, 8, 8), int(c * 25.6 + 12), dtype=torch.uint8) for c in classes])


def test_inception_score_counts_confident_classes():
    ex = extractors.Extractor("one-hot", OneHot(), OneHot())
    uniform = _images_of_classes(torch.arange(1000) % 10)
    single = _images_of_classes(torch.zeros(1000))
    assert 9.3 < metrics.inception_score(uniform, ex)[0] <= 10.001  # p(y) is estimated per split of 100
    assert metrics.inception_score(single, ex)[0] == pytest.approx(1, rel=1e-3)


def test_fid_zero_for_same_distribution_and_named():
    ex = extractors.Extractor("one-hot", OneHot(), OneHot())
    a = _images_of_classes(torch.arange(1000) % 10)
    b = _images_of_classes(torch.arange(1000) % 5)
    same, diff = metrics.image_metrics(a, a.flip(0), ex), metrics.image_metrics(a, b, ex)
    assert same["fid"] == pytest.approx(0, abs=1e-3) and diff["fid"] > 1
    assert "one-hot" in metrics.format_metrics(diff) and "IS" in metrics.format_metrics(diff)


@pytest.fixture(scope="module")
def course_extractor(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    train = data.load_images("mnist", "train", root, "smoke")
    test = data.load_images("mnist", "test", root, "smoke")
    return extractors.course_classifier(train, test, root, epochs=2, progress=False), train, test, root


def test_course_classifier_separates_real_from_noise_and_is_cached(course_extractor):
    ex, train, test, root = course_extractor
    assert "course CNN on mnist" in ex.name and "not Inception" in ex.name
    real = metrics.image_metrics(test.images[:500], train.images[:500], ex)
    noise = metrics.image_metrics(test.images[:500], torch.randint(0, 256, (500, 1, 28, 28), dtype=torch.uint8), ex)
    assert real["fid"] < 0.1 * noise["fid"]
    assert real["is"] > 3 * noise["is"]
    cached = list((root / "extractors").glob("mnist-cnn-*.pt"))
    assert len(cached) == 1
    again = extractors.course_classifier(train, test, root, epochs=2, progress=False)
    assert again.name == ex.name  # loaded, not retrained


def test_corrupt_cached_extractor_names_the_fix(course_extractor):
    ex, train, test, root = course_extractor
    (cached,) = (root / "extractors").glob("mnist-cnn-*.pt")
    good = cached.read_bytes()
    cached.write_bytes(b"garbage")
    try:
        with pytest.raises(CourseError, match="delete it"):
            extractors.course_classifier(train, test, root, epochs=2, progress=False)
    finally:
        cached.write_bytes(good)


def test_torchscript_extractor(tmp_path):
    class Pool(nn.Module):
        def forward(self, x):
            assert x.shape[1:] == (3, 299, 299) and x.min() >= -1 and x.max() <= 1
            return x.mean((2, 3)).repeat(1, 683)[:, :2048]

    path = tmp_path / "net.pt"
    torch.jit.script(Pool()).save(str(path))
    ex = extractors.get_extractor(f"torchscript:{path}")
    assert ex.logits is None and ex.features(torch.zeros(2, 1, 28, 28, dtype=torch.uint8)).shape == (2, 2048)
    m = metrics.image_metrics(torch.randint(0, 256, (40, 1, 28, 28), dtype=torch.uint8),
                              torch.randint(0, 256, (40, 1, 28, 28), dtype=torch.uint8), ex)
    assert "is" not in m and "TorchScript" in m["extractor"]


def test_inception_errors_name_the_fix(monkeypatch, tmp_path):
    with pytest.raises(CourseError, match="not found"):
        extractors.inception(str(tmp_path / "missing.pth"))
    import torch_fidelity.feature_extractor_inceptionv3 as fe

    def offline(*a, **k):
        raise OSError("network is unreachable")

    monkeypatch.setattr(fe, "load_state_dict_from_url", offline)
    with pytest.raises(CourseError, match="inception:/path"):
        extractors.inception()


def test_unknown_extractor():
    with pytest.raises(CourseError, match="course"):
        extractors.get_extractor("vgg")


def test_mode_coverage():
    grid = data.grid25()
    full = metrics.mode_coverage(grid.sample(5000), grid)
    assert full["modes"] == 25 and full["kl_to_uniform"] < 0.05
    assert full["hq"] == pytest.approx(1 - math.exp(-4.5), abs=0.01)  # P(r ≤ 3σ) of a 2D Gaussian
    collapsed = metrics.mode_coverage(grid.centers[3].repeat(100, 1) + 0.01, grid)
    assert collapsed["modes"] == 1 and collapsed["kl_to_uniform"] == pytest.approx(torch.log(torch.tensor(25.0)).item())
    far = metrics.mode_coverage(torch.full((10, 2), 1.0), grid)
    assert far["modes"] == 0 and far["hq"] == 0


def test_nearest_neighbour_distance():
    ref = torch.eye(3).view(3, 1, 1, 3)
    q = torch.tensor([[1.0, 0, 0], [0, 0, 2]]).view(2, 1, 1, 3)
    assert torch.allclose(metrics.nearest_neighbour_distance(q, ref), torch.tensor([0.0, 1.0]))


def test_ms_ssim_pairs_is_one_for_copies_and_lower_for_varied_sets():
    same = torch.full((20, 3, 32, 32), 100, dtype=torch.uint8)
    same[:, :, ::2] = 200                                                # one striped image, 20 times
    assert metrics.ms_ssim_pairs(same, n_pairs=50) == pytest.approx(1.0, abs=1e-3)
    g = torch.Generator().manual_seed(0)
    varied = torch.randint(0, 256, (20, 3, 32, 32), generator=g, dtype=torch.uint8)
    assert metrics.ms_ssim_pairs(varied, n_pairs=50) < 0.2
    assert metrics.ms_ssim_pairs(varied, n_pairs=50, seed=3) == metrics.ms_ssim_pairs(varied, n_pairs=50, seed=3)


def test_kid_and_is_do_not_depend_on_the_global_rng():
    """torchmetrics draws KID subsets and IS splits from the global RNG: ours come from the seed."""
    ex = extractors.Extractor("one-hot", OneHot(), OneHot())
    a = _images_of_classes(torch.arange(600) % 10)
    b = _images_of_classes(torch.arange(600) % 7)
    torch.manual_seed(1)
    m1 = metrics.image_metrics(a, b, ex, kid_subset=100, seed=5)
    torch.manual_seed(2)
    m2 = metrics.image_metrics(a, b, ex, kid_subset=100, seed=5)
    m3 = metrics.image_metrics(a, b, ex, kid_subset=100, seed=6)
    assert m1 == m2 and m1["kid"] != m3["kid"]


def test_sample_quality_draws_are_distinct_and_repeatable():
    from gancourse.nn import models
    from gancourse import training

    class Bucket(nn.Module):                      # a "generator" whose samples are one mean-pixel class each
        z_dim = 1

        def __init__(self):
            super().__init__()
            self.unused = nn.Parameter(torch.zeros(1))

        def forward(self, z):
            return (z.tanh().view(-1, 1, 1, 1) * torch.ones(1, 1, 8, 8)) * 0.99

    tr = training.Trainer(Bucket(), models.MLPDiscriminator(2, 4), progress=False, seed=0)
    ex = extractors.Extractor("one-hot", OneHot(), OneHot())
    real = data.ImageSet("x", "test", _images_of_classes(torch.arange(400) % 10), torch.zeros(400).long(), "test")
    first = metrics.sample_quality(tr, real, ex, 100, 3)
    torch.rand(5)
    again = metrics.sample_quality(tr, real, ex, 100, 3)
    assert first == again                                            # same draws, whatever ran between
    assert len({d["fid"] for d in first}) == 3                       # three distinct draws
    mean = metrics.mean_over_draws(first)
    assert mean["draws"] == 3 and mean["fid_sd"] > 0 and "± " in metrics.format_metrics(mean)
    assert "× 3 draws" in metrics.format_metrics(mean)
