"""data_scripts/fetch.py on local files: synthetic originals with their checksums, the real
MNIST files beside the checkout, corrupt files, image folders, and downloads from a loopback server."""
import functools
import gzip
import hashlib
import http.server
import pickle
import tarfile
import threading

import numpy as np
import pytest
from PIL import Image

from data_scripts import fetch
from gancourse import data


def _idx(path, arr):
    header = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + arr.astype(np.uint8).tobytes())
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def fake_mnist(tmp_path, monkeypatch):
    """A miniature MNIST in the original IDX format, with its checksums patched in."""
    src = tmp_path / "src"
    src.mkdir()
    rng = np.random.RandomState(0)
    sums, splits = {}, {}
    for split, (img, lab, _) in fetch.MNIST_SPLITS.items():
        n = 20 if split == "train" else 10
        sums[img] = _idx(src / img, rng.randint(0, 256, (n, 28, 28)))
        sums[lab] = _idx(src / lab, rng.randint(0, 10, (n,)))
        splits[split] = (img, lab, n)
    monkeypatch.setattr(fetch, "MNIST_FILES", sums)
    monkeypatch.setattr(fetch, "MNIST_SPLITS", splits)
    return src


def test_mnist_from_local_originals(fake_mnist, tmp_path):
    root = tmp_path / "data"
    assert fetch.main(["mnist", "--data-root", str(root), "--from", str(fake_mnist)]) == 0
    train = data.load_images("mnist", "train", root, "course")
    assert len(train) == 20 and "md5-verified" in train.source
    assert len(data.load_images("mnist", "test", root, "course")) == 10


def test_corrupt_file_is_named_and_not_kept(fake_mnist, tmp_path, capsys):
    bad = fake_mnist / "t10k-images-idx3-ubyte.gz"
    bad.write_bytes(bad.read_bytes()[:-7])  # truncated
    root = tmp_path / "data"
    assert fetch.main(["mnist", "--data-root", str(root), "--from", str(fake_mnist)]) == 1
    err = capsys.readouterr().err
    assert "t10k-images-idx3-ubyte.gz" in err and fetch.MNIST_FILES["t10k-images-idx3-ubyte.gz"] in err
    raw = root / "mnist" / "raw"
    assert not (raw / "t10k-images-idx3-ubyte.gz").exists()
    assert not list(raw.glob("*.part")), "a partial file was left behind"


def test_real_mnist_test_files(shared_data, tmp_path, capsys):
    """The real MNIST test files (original IDX, real checksums); the train images are not there."""
    root = tmp_path / "data"
    assert fetch.main(["mnist", "--data-root", str(root), "--from", str(shared_data / "mnist")]) == 0
    assert "train-images-idx3-ubyte.gz" in capsys.readouterr().out  # says what was missing
    test = data.load_images("mnist", "test", root, "course")
    assert len(test) == 10000 and test.labels[:5].tolist() == [7, 2, 1, 0, 4]


def test_cifar_from_original_tarball(tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    rng = np.random.RandomState(0)
    with tarfile.open(src / fetch.CIFAR_FILE, "w:gz") as tar:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            blob = pickle.dumps({b"data": rng.randint(0, 256, (4, 3072)).astype(np.uint8),
                                 b"labels": list(rng.randint(0, 10, 4))})
            p = tmp_path / name
            p.write_bytes(blob)
            tar.add(p, arcname=f"cifar-10-batches-py/{name}")
    monkeypatch.setattr(fetch, "CIFAR_MD5", hashlib.md5((src / fetch.CIFAR_FILE).read_bytes()).hexdigest())
    root = tmp_path / "data"
    assert fetch.main(["cifar10", "--data-root", str(root), "--from", str(src)]) == 0
    ds = data.load_images("cifar10", "train", root, "course", verbose=False)
    assert len(ds) == 20 and ds.shape == (3, 32, 32)


def test_cifar_from_image_folder(tmp_path, monkeypatch):
    src = tmp_path / "jpeg"
    monkeypatch.setattr(fetch, "CIFAR_COUNTS", {"train": 20, "test": 10})
    for split, n in (("train", 20), ("test", 10)):
        for i in range(n):
            cls = fetch.CIFAR_CLASSES[i % 10]
            (src / split / cls).mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (32, 32), (i * 10, 0, 0)).save(src / split / cls / f"{i:04d}.png")
    root = tmp_path / "data"
    assert fetch.main(["cifar10", "--data-root", str(root), "--from", str(src)]) == 0
    ds = data.load_images("cifar10", "test", root, "course", verbose=False)
    assert len(ds) == 10 and "re-encoding" in ds.source
    assert sorted(ds.labels.tolist()) == list(range(10))


def test_image_folder_with_wrong_count_is_refused(tmp_path):
    src = tmp_path / "jpeg" / "train" / "cat"
    src.mkdir(parents=True)
    Image.new("RGB", (32, 32)).save(src / "0.png")
    assert fetch.main(["cifar10", "--data-root", str(tmp_path / "d"), "--from", str(tmp_path / "jpeg")]) == 1
    assert not (tmp_path / "d" / "cifar10" / "train.npz").exists()


def test_missing_from_folder(tmp_path, capsys):
    assert fetch.main(["mnist", "--from", str(tmp_path / "nope")]) == 2
    assert "no such folder" in capsys.readouterr().err


@pytest.fixture
def server(tmp_path):
    """A loopback HTTP server over tmp_path/www."""
    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield www, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


def test_download_tries_the_next_mirror_and_verifies(server, tmp_path):
    www, url = server
    (www / "b").mkdir()
    (www / "b" / "f.gz").write_bytes(b"payload")
    good = hashlib.md5(b"payload").hexdigest()
    out = fetch.download("f.gz", good, tmp_path / "dl", [url + "a/", url + "b/"])  # a/ is a 404
    assert out.read_bytes() == b"payload"
    with pytest.raises(fetch.FetchError, match="expected 0+"):
        fetch.download("f.gz", "0" * 32, tmp_path / "dl2", [url + "b/"])
    assert not any((tmp_path / "dl2").iterdir())
    with pytest.raises(fetch.FetchError, match="--from DIR"):
        fetch.download("f.gz", good, tmp_path / "dl3", [url + "a/"])


def test_packaged_mnist_train_stands_in_when_asked(shared_data, tmp_path):
    root = tmp_path / "data"
    argv = ["mnist", "--data-root", str(root), "--from", str(shared_data / "mnist"), "--packaged-mnist-train"]
    assert fetch.main(argv) == 0
    train = data.load_images("mnist", "train", root, "course", verbose=False)
    assert len(train) == 5000 and "SUBSET" in train.source
    assert len(data.load_images("mnist", "test", root, "course", verbose=False)) == 10000


def test_an_unreadable_image_in_an_image_folder_is_named_and_nothing_is_written(tmp_path, monkeypatch):
    from PIL import Image
    monkeypatch.setattr(fetch, "CIFAR_COUNTS", {"train": 3, "test": 3})
    for i, cls in enumerate(fetch.CIFAR_CLASSES[:3]):
        (tmp_path / "src" / "train" / cls).mkdir(parents=True)
        Image.new("RGB", (32, 32)).save(tmp_path / "src" / "train" / cls / f"{i}.jpg")
    (tmp_path / "src" / "train" / "bird" / "2.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(fetch.FetchError, match=r"2.jpg .* is not a readable image.*fetch.py cifar10"):
        fetch.fetch_cifar10(tmp_path / "data", tmp_path / "src")
    assert not (tmp_path / "data" / "cifar10" / "train.npz").exists()
