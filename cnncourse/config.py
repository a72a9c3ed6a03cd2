"""Course-wide settings: fast mode, data and cache folders, seeding.

Fast mode (``CNNCOURSE_FAST=1``, set by ``make test`` and CI) shrinks epochs and data
so the whole course runs on a 2-core CPU in minutes. Full mode is the default.

>>> pick(full=12, fast=2) in (12, 2)
True
"""

from __future__ import annotations

import os
import re
from pathlib import Path

#: The course repository; notebooks' Colab set-up cells and README links use this URL
#: (``python -m cnncourse set-repo URL`` rewrites them all for a fork).
REPO_URL = "https://github.com/cnncourse/cnncourse"
#: The branch with the student edition (no solutions, no hidden tests), published from main by
#: .github/workflows/student-edition.yml; the Colab links and set-up cells open it
#: (``set-repo URL --student-branch NAME`` changes it everywhere).
STUDENT_BRANCH = "student"

PACKAGE_DIR = Path(__file__).resolve().parent
#: The repository checkout the package was installed from (None for a wheel install).
REPO_ROOT = PACKAGE_DIR.parent if (PACKAGE_DIR.parent / "pyproject.toml").exists() else None


def fast_mode() -> bool:
    """True when ``CNNCOURSE_FAST`` is set to 1/true/yes (read at every call)."""
    value = os.environ.get("CNNCOURSE_FAST", "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"CNNCOURSE_FAST must be 1 or 0 (or true/false), got {value!r}")


def demo_fallback() -> bool:
    """True when ``CNNCOURSE_DEMO_FALLBACK=1``: the lab falls back to synthetic demo X-rays, saying
    so, when the real data cannot be had. ``python -m cnncourse course`` sets it, so that a full
    course run without Kaggle credentials finishes (labelled synthetic) instead of stopping."""
    return os.environ.get("CNNCOURSE_DEMO_FALLBACK", "").strip() == "1"


def pick(full, fast):
    """Return ``fast`` in fast mode and ``full`` otherwise,
    e.g. ``epochs = pick(full=12, fast=2)``."""
    return fast if fast_mode() else full


def mode_name() -> str:
    """'fast' or 'full', for labelling numbers on screen."""
    return "fast" if fast_mode() else "full"


def data_dir() -> Path:
    """Folder of the small data the course ships (``CNNCOURSE_DATA_DIR`` overrides)."""
    if "CNNCOURSE_DATA_DIR" in os.environ:
        return Path(os.environ["CNNCOURSE_DATA_DIR"]).expanduser()
    if REPO_ROOT is not None:
        return REPO_ROOT / "data"
    return PACKAGE_DIR / "data"


def cache_dir() -> Path:
    """Folder for downloads and generated data, git-ignored (``CNNCOURSE_CACHE_DIR`` overrides).

    In a checkout it is ``cache/`` at the repository root, otherwise ``~/.cache/cnncourse``.
    The folder is created on first use. It holds the chest X-ray download and the lab's training
    runs, so pointing ``CNNCOURSE_CACHE_DIR`` at a folder that outlives the machine (Google Drive
    on Colab: the lab's Drive cell does this) lets a new machine find the data and resume the runs.
    """
    if "CNNCOURSE_CACHE_DIR" in os.environ:
        path = Path(os.environ["CNNCOURSE_CACHE_DIR"]).expanduser()
    elif REPO_ROOT is not None:
        path = REPO_ROOT / "cache"
    else:
        path = Path.home() / ".cache" / "cnncourse"
    path.mkdir(parents=True, exist_ok=True)
    return path


def version_tuple(version: str) -> tuple[int, ...]:
    """The leading release numbers of a version string: ``"3.10.0rc1"`` -> ``(3, 10, 0)``.

    >>> version_tuple("2.19.0") < version_tuple("2.20")
    True
    """
    match = re.match(r"\d+(\.\d+)*", version.strip())
    if match is None:
        raise ValueError(f"expected a version such as '3.10.0', got {version!r}")
    return tuple(int(part) for part in match.group(0).split("."))


def seed_everything(seed: int = 0) -> int:
    """Seed Python, NumPy and the Keras backend (``keras.utils.set_random_seed``) so that
    ``keras.random`` draws, weight initialisations and shuffles repeat; returns the seed."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    import keras

    keras.utils.set_random_seed(seed)
    if version_tuple(keras.__version__) < (3, 13):
        _reset_global_seed_generator()
    return seed


def _reset_global_seed_generator() -> None:
    """Keras < 3.13 only: ``set_random_seed`` keeps the global ``SeedGenerator`` that
    ``keras.random`` uses without a seed, so draws after re-seeding do not repeat. Drop it, as
    Keras 3.13+ does itself; it is recreated from the Python seed just set. The only private
    Keras API in the package, for frozen old releases; tests/test_config.py fails if it stops
    working."""
    from keras.src.backend.common import global_state

    global_state.set_global_attribute("global_seed_generator", None)
