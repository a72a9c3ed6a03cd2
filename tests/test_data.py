"""load_mnist: shapes and dtypes like keras.datasets, the official class counts, clear errors."""

import gzip
import shutil

import numpy as np
import pytest

from cnncourse import data

OFFICIAL_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def sample():
    return data.load_mnist("sample", verbose=False)


def test_sample_shapes_and_dtypes_match_keras_datasets(sample):
    (x_train, y_train), (x_test, y_test) = sample
    assert x_train.shape == (8000, 28, 28) and y_train.shape == (8000,)
    assert x_test.shape == (2000, 28, 28) and y_test.shape == (2000,)
    for array in (x_train, y_train, x_test, y_test):
        assert array.dtype == np.uint8


def test_sample_holds_the_official_mnist_test_class_counts(sample):
    (_, y_train), (_, y_test) = sample
    counts = np.bincount(np.concatenate([y_train, y_test]), minlength=10)
    assert counts.tolist() == OFFICIAL_TEST_COUNTS


def test_sample_split_is_stratified_disjoint_and_fixed(sample):
    (x_train, y_train), (x_test, y_test) = sample
    test_counts = np.bincount(y_test, minlength=10)
    np.testing.assert_allclose(test_counts, np.array(OFFICIAL_TEST_COUNTS) * 0.2, atol=1)
    assert not np.array_equal(y_train[:50], np.sort(y_train[:50])), \
        "training order must be shuffled"
    train_rows = {row.tobytes() for row in x_train}
    # MNIST has a few duplicate digits
    assert sum(row.tobytes() in train_rows for row in x_test) <= 5
    (x_train2, y_train2), _ = data.load_mnist("sample", verbose=False)
    assert np.array_equal(x_train, x_train2) and np.array_equal(y_train, y_train2)


def test_sample_images_are_real_digits(sample):
    """The raw IDX bytes decoded independently (no cnncourse code) give the same pixels."""
    (x_train, _), (x_test, _) = sample
    idx = data.config.data_dir() / "mnist-sample" / "t10k-images-idx3-ubyte.gz"
    raw = gzip.decompress(idx.read_bytes())
    first = np.frombuffer(raw[16 : 16 + 784], dtype=np.uint8).reshape(28, 28)
    assert any(np.array_equal(first, img) for img in np.concatenate([x_train, x_test]))
    assert 30 < x_train.mean() < 40  # MNIST's mean grey level is about 33


def test_auto_falls_back_to_the_sample_and_says_so(monkeypatch, capsys):
    def offline():
        raise Exception("URL fetch failure on https://storage.googleapis.com/: "
                        "None -- Name or service not known")

    monkeypatch.setattr(data, "_load_mnist_keras", offline)
    (x_train, _), _ = data.load_mnist()
    out = capsys.readouterr().out
    assert len(x_train) == 8000
    assert "OFFLINE SAMPLE" in out and "8,000" in out


def test_keras_source_without_internet_explains_what_to_do(monkeypatch):
    def offline():
        raise OSError("no network")

    monkeypatch.setattr(data, "_load_mnist_keras", offline)
    with pytest.raises(data.DatasetError, match="load_mnist\\('sample'\\)"):
        data.load_mnist("keras")


def test_auto_prefers_keras_when_it_answers(monkeypatch, capsys):
    fake = ((np.zeros((60000, 28, 28), np.uint8), np.zeros(60000, np.uint8)),
            (np.zeros((10000, 28, 28), np.uint8), np.zeros(10000, np.uint8)))
    monkeypatch.setattr(data, "_load_mnist_keras", lambda: fake)
    assert data.load_mnist() is fake
    assert "full dataset" in capsys.readouterr().out


def test_unknown_source_is_rejected():
    with pytest.raises(ValueError, match="source must be one of"):
        data.load_mnist("kaggle")


@pytest.fixture()
def sample_copy(tmp_path, monkeypatch):
    folder = tmp_path / "mnist-sample"
    shutil.copytree(data.config.data_dir() / "mnist-sample", folder)
    monkeypatch.setenv("CNNCOURSE_DATA_DIR", str(tmp_path))
    return folder


def test_truncated_file_names_the_file(sample_copy):
    path = sample_copy / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(data.DatasetError, match="t10k-images-idx3-ubyte.gz"):
        data.load_mnist("sample", verbose=False)


def test_corrupt_content_names_the_file(sample_copy):
    path = sample_copy / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(path.read_bytes()))
    raw[100] = (raw[100] + 1) % 10
    path.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(data.DatasetError, match="t10k-labels-idx1-ubyte.gz.*corrupt"):
        data.load_mnist("sample", verbose=False)


def test_missing_file_says_how_to_restore(sample_copy):
    (sample_copy / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(data.DatasetError, match="missing"):
        data.load_mnist("sample", verbose=False)


def test_try_online_bounds_the_wait_and_reports(capsys):
    import socket

    seen = {}

    def loader():
        seen["timeout"] = socket.getdefaulttimeout()
        raise TimeoutError("timed out")

    assert data.try_online(loader, "Something", timeout_s=3) is None
    assert seen["timeout"] == 3
    assert "Something: not available (TimeoutError" in capsys.readouterr().out
