"""Where Kaggle credentials come from, without ever reading the secret out loud.

The forms the ``kaggle`` package (1.8 and newer, declared as the course's dependency) accepts:
``KAGGLE_USERNAME`` + ``KAGGLE_KEY``, a token string in ``KAGGLE_API_TOKEN`` (the current form,
from https://www.kaggle.com/settings), a token file ``~/.kaggle/access_token`` (always in the
home folder: the client does not look for it in ``KAGGLE_CONFIG_DIR``), the legacy
``kaggle.json`` in ``KAGGLE_CONFIG_DIR`` (default ``~/.kaggle``), then Colab secrets of the
environment variables' names (copied into the environment by :func:`export_colab_secrets`,
since ``import kaggle`` reads only the environment and files).
"""

from __future__ import annotations

import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

COLAB_SECRET_NAMES = ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN")

HOW_TO_GET_CREDENTIALS = (
    "Kaggle credentials not found. Create an API token at https://www.kaggle.com/settings "
    "(API > Create New Token), then give it to the course in one of these ways: set "
    "KAGGLE_API_TOKEN to the token (or save it in ~/.kaggle/access_token, chmod 600); or, with a "
    "legacy kaggle.json, put it in ~/.kaggle/ (chmod 600 ~/.kaggle/kaggle.json) or set "
    "KAGGLE_USERNAME and KAGGLE_KEY. On Colab: key icon in the left bar > Add new secret named "
    "KAGGLE_API_TOKEN (or KAGGLE_USERNAME and KAGGLE_KEY) and switch 'Notebook access' on for "
    "this notebook, then run the cell again."
)


@dataclass(frozen=True)
class CredentialSource:
    """Where credentials were found; ``warning`` flags e.g. a kaggle.json readable by others."""

    kind: str
    where: str
    warning: str | None = None

    def __str__(self) -> str:
        text = f"{self.kind} ({self.where})"
        return f"{text} - WARNING: {self.warning}" if self.warning else text


def kaggle_config_dir() -> Path:
    """``KAGGLE_CONFIG_DIR`` or ``~/.kaggle``: where the client looks for ``kaggle.json``."""
    return Path(os.environ.get("KAGGLE_CONFIG_DIR", Path.home() / ".kaggle")).expanduser()


def _credential_files() -> list[Path]:
    """The token file (only ever read from ``~/.kaggle``) and ``kaggle.json``, in the client's
    order."""
    return [Path.home() / ".kaggle" / "access_token", kaggle_config_dir() / "kaggle.json"]


def _group_or_world_readable(path: Path) -> bool:
    return os.name == "posix" and bool(path.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH))


def _colab_secret(name: str) -> str | None:
    if "google.colab" not in sys.modules:
        return None
    try:
        from google.colab import userdata  # type: ignore[import-not-found]

        return userdata.get(name)
    except Exception:  # secret missing or notebook access not granted
        return None


def find_kaggle_credentials(include_colab: bool = True) -> CredentialSource | None:
    """Return where Kaggle credentials are configured, or None. Never returns the key itself."""
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return CredentialSource("environment", "KAGGLE_USERNAME + KAGGLE_KEY")
    if os.environ.get("KAGGLE_API_TOKEN"):
        return CredentialSource("environment", "KAGGLE_API_TOKEN")
    for path in _credential_files():
        if path.is_file():
            warning = None
            if _group_or_world_readable(path):
                warning = f"{path} is readable by other users; run: chmod 600 {path}"
            return CredentialSource("file", str(path), warning)
    if include_colab and any(_colab_secret(n) for n in COLAB_SECRET_NAMES):
        return CredentialSource("Colab secrets", ", ".join(COLAB_SECRET_NAMES))
    return None


def export_colab_secrets() -> list[str]:
    """Copy Kaggle secrets from Colab's secret store into the environment; returns the names
    copied."""
    copied = []
    for name in COLAB_SECRET_NAMES:
        value = _colab_secret(name)
        if value and not os.environ.get(name):
            os.environ[name] = value
            copied.append(name)
    return copied


def _secret_values() -> list[str]:
    """The configured secret values (environment and token files), to blank them out of messages."""
    values = [os.environ.get(name, "") for name in ("KAGGLE_KEY", "KAGGLE_API_TOKEN")]
    token_file, kaggle_json = _credential_files()
    try:
        values.append(token_file.read_text(encoding="utf-8").strip())
    except OSError:
        pass
    try:
        import json

        values.append(str(json.loads(kaggle_json.read_text(encoding="utf-8")).get("key", "")))
    except (OSError, ValueError, AttributeError):
        pass
    return [v for v in values if len(v) >= 8]


def redact(text: str) -> str:
    """``text`` with every configured Kaggle key or token replaced by ``***``.

    Use it on anything built from an exception or a response before showing it: libraries
    sometimes put request headers or URLs with the token into their error messages.
    """
    for secret in _secret_values():
        text = text.replace(secret, "***")
    return text
