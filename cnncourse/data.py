"""Datasets for the course: MNIST (full set online, shipped sample offline).

``load_mnist`` returns ``((x_train, y_train), (x_test, y_test))`` exactly like
``keras.datasets.mnist.load_data()``: uint8 images of shape (n, 28, 28), uint8 labels (n,).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import socket
from collections.abc import Callable
from pathlib import Path

import numpy as np

from cnncourse import config
from cnncourse import validation as check

#: The shipped offline sample: the official MNIST test set (CC BY-SA 3.0, see
#: data/mnist-sample/README.md): file name and SHA-256 of its decompressed bytes.
MNIST_SAMPLE_FILES = {
    "images": ("t10k-images-idx3-ubyte.gz",
               "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    "labels": ("t10k-labels-idx1-ubyte.gz",
               "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
}
SAMPLE_TEST_SIZE = 2000
MNIST_SOURCES = ("auto", "keras", "sample")


class DatasetError(RuntimeError):
    """A dataset file is missing, truncated or corrupt; the message names the file."""


@contextlib.contextmanager
def bounded_network_wait(timeout_s: float = 30.0):
    """Inside the block, a network read or connection that hangs gives up after ``timeout_s``.

    Offline a download usually fails at once; behind a firewall that drops packets it would
    wait for minutes without this (it sets the default socket timeout for the block).
    """
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout_s)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def try_online(loader: Callable, what: str, timeout_s: float = 30.0):
    """Call ``loader()`` (a download) with a bounded network wait; None when it fails.

    Prints one line saying what could not be had and why.
    """
    try:
        with bounded_network_wait(timeout_s):
            return loader()
    # downloads fail in many ways: URLError, OSError, Exception("URL fetch failure")
    except Exception as exc:
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        print(f"{what}: not available ({type(exc).__name__}: {reason})")
        return None


def _read_idx(path: Path, expected_sha256: str | None = None) -> np.ndarray:
    """Read a gzip-compressed IDX file (the original MNIST format) into a uint8 array."""
    if not path.exists():
        raise DatasetError(f"MNIST sample file is missing: {path}. "
                           "Restore it with `git checkout -- data/`.")
    try:
        raw = gzip.decompress(path.read_bytes())
    except (OSError, EOFError) as exc:
        raise DatasetError(f"{path} is not a readable gzip file ({exc}); "
                           "it is truncated or corrupt.") from exc
    if expected_sha256 is not None and hashlib.sha256(raw).hexdigest() != expected_sha256:
        raise DatasetError(f"{path} does not match the official MNIST checksum; "
                           "the file is corrupt.")
    if len(raw) < 8 or raw[:2] != b"\x00\x00" or raw[2] != 0x08:
        raise DatasetError(f"{path} is not an IDX file of unsigned bytes "
                           f"(bad magic number {raw[:4]!r}).")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if len(raw) != header + int(np.prod(shape)):
        raise DatasetError(
            f"{path} is truncated: header says shape {shape} ({int(np.prod(shape))} bytes), "
            f"file holds {len(raw) - header} bytes of data."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape).copy()


def _stratified_split(y: np.ndarray, test_size: int,
                      seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test) with each class in proportion; fixed for a given seed."""
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    quota = counts * test_size / len(y)
    n_test = np.floor(quota).astype(int)
    n_test[np.argsort(-(quota - n_test), kind="stable")[: test_size - n_test.sum()]] += 1
    train, test = [], []
    for cls, k in zip(classes, n_test, strict=True):
        idx = rng.permutation(np.flatnonzero(y == cls))
        test.append(idx[:k])
        train.append(idx[k:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def load_mnist_sample(folder: Path | None = None):
    """The 10,000 shipped MNIST digits split 8,000 train / 2,000 test (stratified, always the
    same)."""
    folder = Path(folder) if folder is not None else config.data_dir() / "mnist-sample"
    x = _read_idx(folder / MNIST_SAMPLE_FILES["images"][0], MNIST_SAMPLE_FILES["images"][1])
    y = _read_idx(folder / MNIST_SAMPLE_FILES["labels"][0], MNIST_SAMPLE_FILES["labels"][1])
    if x.shape[1:] != (28, 28) or len(x) != len(y):
        raise DatasetError(f"MNIST sample in {folder}: images {x.shape} and labels {y.shape} "
                           "do not match.")
    train, test = _stratified_split(y, SAMPLE_TEST_SIZE)
    return (x[train], y[train]), (x[test], y[test])


def _load_mnist_keras():
    import keras

    return keras.datasets.mnist.load_data()


def load_mnist(source: str = "auto", verbose: bool = True):
    """MNIST as ``((x_train, y_train), (x_test, y_test))``, uint8, like keras.datasets.

    source: ``"keras"`` the full 60k/10k set (downloaded once into ~/.keras/datasets),
    ``"sample"`` the 10,000 real digits shipped in data/ (8,000 train / 2,000 test),
    ``"auto"`` keras when it can be had, otherwise the sample. One line on screen says which.
    """
    check.one_of("source", source, MNIST_SOURCES)
    data = None
    if source in ("auto", "keras"):
        data = try_online(_load_mnist_keras, "Full MNIST (keras.datasets)")
        if data is None and source == "keras":
            raise DatasetError(
                "Could not download MNIST through keras.datasets (no internet?). "
                "Use load_mnist('sample') for the 10,000 digits shipped with the course, "
                "or put mnist.npz into ~/.keras/datasets/."
            )
    if data is not None:
        if verbose:
            print("MNIST: full dataset from keras.datasets (60,000 train / 10,000 test).")
        return data
    data = load_mnist_sample()
    if verbose:
        print(
            "MNIST: OFFLINE SAMPLE - 10,000 real digits shipped in data/ split 8,000 train / "
            "2,000 test (not the full 60k set; accuracies are not comparable with full-MNIST "
            "figures)."
        )
    return data


def mnist_source_available() -> dict[str, bool]:
    """Which MNIST sources can be used without a download: the keras cache and the shipped
    sample."""
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    sample = config.data_dir() / "mnist-sample"
    sample_files = [sample / name for name, _ in MNIST_SAMPLE_FILES.values()]
    return {
        "keras cache (~/.keras/datasets/mnist.npz)":
            (keras_home / "datasets" / "mnist.npz").exists(),
        "shipped sample (data/mnist-sample)": all(path.exists() for path in sample_files),
    }
