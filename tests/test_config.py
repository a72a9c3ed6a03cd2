"""Fast-mode switch, folders and seeding."""

import numpy as np
import pytest

from cnncourse import config


@pytest.mark.parametrize("value, fast", [("1", True), ("true", True), ("0", False), ("", False),
                                         ("no", False)])
def test_fast_mode_follows_the_environment(monkeypatch, value, fast):
    monkeypatch.setenv("CNNCOURSE_FAST", value)
    assert config.fast_mode() is fast
    assert config.pick(full=10, fast=2) == (2 if fast else 10)
    assert config.mode_name() == ("fast" if fast else "full")


def test_fast_mode_off_when_unset(monkeypatch):
    monkeypatch.delenv("CNNCOURSE_FAST", raising=False)
    assert config.fast_mode() is False


def test_nonsense_fast_value_is_an_error(monkeypatch):
    monkeypatch.setenv("CNNCOURSE_FAST", "maybe")
    with pytest.raises(ValueError, match="CNNCOURSE_FAST must be 1 or 0"):
        config.fast_mode()


def test_folders(monkeypatch, tmp_path):
    assert (config.data_dir() / "mnist-sample" / "README.md").exists()
    monkeypatch.setenv("CNNCOURSE_CACHE_DIR", str(tmp_path / "c"))
    assert config.cache_dir() == tmp_path / "c" and (tmp_path / "c").is_dir()


def test_cache_folder_is_git_ignored():
    ignored = (config.REPO_ROOT / ".gitignore").read_text().split()
    assert "cache/" in ignored and "build/" in ignored


def test_seeding_makes_numpy_and_keras_reproducible():
    import keras

    def draw():
        return np.random.rand(3), keras.ops.convert_to_numpy(keras.random.normal((4,)))

    config.seed_everything(3)
    first = draw()
    config.seed_everything(3)
    second = draw()
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    with pytest.raises(ValueError, match="non-negative int"):
        config.seed_everything(-1)


@pytest.mark.parametrize("text, expected", [("3.10.0", (3, 10, 0)), ("2.19.0rc1", (2, 19, 0)),
                                            ("1.26", (1, 26)),
                                            ("3.8.0.dev2025", (3, 8, 0))])
def test_version_tuple_compares_releases_numerically(text, expected):
    assert config.version_tuple(text) == expected
    assert config.version_tuple("3.10.0") > config.version_tuple("3.9.2")  # not string order
    with pytest.raises(ValueError, match="expected a version"):
        config.version_tuple("unknown")
