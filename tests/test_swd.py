import numpy as np
import pytest
import torch

from gancourse.instruments import swd


def test_pyramid_reconstructs_the_image():
    x = torch.rand(2, 3, 32, 32) * 255
    pyr = swd.laplacian_pyramid(x, 2)
    assert [p.shape[-1] for p in pyr] == [32, 16]
    assert torch.allclose(swd.pyr_up(pyr[1]) + pyr[0], x, atol=1e-3)


def test_blur_matches_a_direct_convolution_with_mirror_edges():
    scipy_ndimage = pytest.importorskip("scipy.ndimage")
    x = torch.rand(1, 1, 16, 16)
    ours = swd.pyr_down(x)[0, 0].numpy()
    ref = scipy_ndimage.convolve(x[0, 0].numpy(), swd.KERNEL.numpy(), mode="mirror")[::2, ::2]
    assert np.allclose(ours, ref, atol=1e-6)


def test_descriptors_are_patches_of_the_images():
    x = torch.arange(2 * 3 * 16 * 16, dtype=torch.float32).view(2, 3, 16, 16)
    d = swd.descriptors(x, per_image=5, generator=torch.Generator().manual_seed(0))
    assert d.shape == (10, 3, 7, 7)
    for i, patch in enumerate(d):
        img = x[i // 5]
        y0, x0 = [int(v) for v in ((patch[0, 0, 0] % 256) // 16, (patch[0, 0, 0] % 256) % 16)]
        assert torch.equal(patch, img[:, y0:y0 + 7, x0:x0 + 7])


def test_resolutions():
    assert swd.resolutions(32) == [32, 16] and swd.resolutions(128) == [128, 64, 32, 16]


def test_sliced_wasserstein_of_shifted_sets():
    a = torch.randn(4000, 3)
    assert swd.sliced_wasserstein(a, a) == 0
    # shifting by v moves every projection on direction d by <v, d>: mean |<v, d>| over unit d
    shifted = swd.sliced_wasserstein(a, a + torch.tensor([1.0, 0.0, 0.0]), repeats=8)
    assert shifted == pytest.approx(0.5, abs=0.08)  # E|d_1| for a uniform unit vector in 3D is 1/2


def _smooth_images(g, n=64):
    base = torch.rand(n, 3, 8, 8, generator=g)
    real = torch.nn.functional.interpolate(base, size=32, mode="bilinear") * 255
    return (real + torch.randn(real.shape, generator=g) * 8).clamp(0, 255).to(torch.uint8)


def test_swd_sees_noise_at_the_finest_level():
    g = torch.Generator().manual_seed(0)
    real_a, real_b = _smooth_images(g), _smooth_images(g)          # two samples of one distribution
    noisy = (real_b.float() + torch.randn(real_b.shape, generator=g) * 40).clamp(0, 255).to(torch.uint8)
    same, damaged = swd.swd(real_a, real_b, per_image=32, device="cpu"), swd.swd(real_a, noisy, per_image=32, device="cpu")
    assert set(same) == {32, 16, "avg"}
    assert damaged[32] > 1.5 * same[32], "pixel noise shows at the finest level"
    with pytest.raises(ValueError):
        swd.swd(real_a, real_b[:10])


def _digits(n=200):
    """Real images (sklearn's 8×8 digits, upscaled to 32×32 grey): structure at every level."""
    datasets = pytest.importorskip("sklearn.datasets")
    x = torch.from_numpy(datasets.load_digits().images[:n]).float().unsqueeze(1) * (255 / 16)
    return torch.nn.functional.interpolate(x, size=32, mode="bilinear").round().to(torch.uint8)


def test_damage_kinds_move_the_levels_the_paper_says():
    x = _digits(300)
    out = swd.damage_response(x[:150], x[150:], {"blur": (0.75, 1.5), "colour": (0.1, 0.3)}, seed=0)
    blur, cast = out["blur"], out["colour"]
    assert blur["rises"] and cast["rises"]
    assert blur["rise"][32] > blur["rise"][16] and blur["as_predicted"]      # blur removes fine detail
    assert cast["rise"][16] > cast["rise"][32] and cast["as_predicted"]      # a per-image cast moves the low-pass level
    assert blur["swd"][-1] == swd.swd(x[:150], swd.damage(x[150:], "blur", 1.5), seed=0)


def test_damage_response_flags_a_damage_that_does_not_rise():
    x = _digits(300)
    out = swd.damage_response(x[:150], x[150:], {"noise": (0.1, 0.0)}, seed=0)   # the second "strength" undoes it
    assert not out["noise"]["rises"]


def test_a_constant_shift_is_invisible_to_swd():
    x = _digits(300)
    a, b = x[:150], x[150:]
    # keep away from the clamp at 255 so the shift stays a pure shift
    b = (b.float() * 0.8).round().to(torch.uint8)
    a = (a.float() * 0.8).round().to(torch.uint8)
    plain, shifted = swd.swd(a, b, seed=0), swd.swd(a, swd.damage(b, "shift", 0.1), seed=0)
    assert shifted["avg"] == pytest.approx(plain["avg"], rel=0.02)


def test_damage_rejects_unknown_kinds():
    with pytest.raises(ValueError, match="blur, noise, colour or shift"):
        swd.damage(torch.zeros(1, 1, 8, 8, dtype=torch.uint8), "rotate", 1.0)


def test_cpu_sort_path_equals_torch_sort():
    x = torch.randn(5, 300)
    assert torch.equal(swd._sort_rows(x), x.sort(-1).values)


def test_the_cpu_sort_is_the_same_at_any_thread_count():
    x = torch.randn(37, 500)
    before = torch.get_num_threads()
    try:
        results = []
        for n in (1, 2, 3):
            torch.set_num_threads(n)
            results.append(swd._sort_rows(x))
    finally:
        torch.set_num_threads(before)
    assert all(torch.equal(r, x.sort(-1).values) for r in results)


def test_a_reference_gives_swd_bit_for_bit_against_many_sets():
    x = _digits(400)
    real, fakes = x[:100], [x[100:200], x[200:300], swd.damage(x[300:], "blur", 1.0)]
    ref = swd.Reference(real, seed=5, device="cpu")
    assert [ref.compare(f) for f in fakes] == [swd.swd(real, f, seed=5, device="cpu") for f in fakes]
    assert all(len(kept) == 4 for kept in ref.sorted)              # the real side's sorts were kept
    small = swd.Reference(real, seed=5, device="cpu", keep_bytes=0)  # too big to keep: recomputed
    assert small.sorted == [None, None] and small.compare(fakes[0]) == ref.compare(fakes[0])
    with pytest.raises(ValueError, match="one shape"):
        ref.compare(x[:50])


def test_kept_projections_are_not_reused_under_other_directions():
    a, b = torch.randn(2000, 5), torch.randn(2000, 5) + 0.3
    kept: dict = {}
    first = swd.sliced_wasserstein(a, b, generator=torch.Generator().manual_seed(0), sorted_a=kept)
    other = swd.sliced_wasserstein(a, b, generator=torch.Generator().manual_seed(1), sorted_a=kept)
    assert other == swd.sliced_wasserstein(a, b, generator=torch.Generator().manual_seed(1))
    assert first == swd.sliced_wasserstein(a, b, generator=torch.Generator().manual_seed(0))
