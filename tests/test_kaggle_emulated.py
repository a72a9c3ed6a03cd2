"""pn.download against the emulated Kaggle service (tests/emulated): the real ``kaggle`` client,
talking HTTP to a loopback server, for each answer the real service gives.

The successful download and the cut-off one need the emulated 5,856-image archive and run in
``make test-online`` (tests/test_online.py); the failures here need no archive and take seconds.
"""

import json
import sys
from pathlib import Path

import pytest

from cnncourse import doctor
from cnncourse import pneumonia as pn
from cnncourse.pneumonia import getdata as dl

sys.path.insert(0, str(Path(__file__).parent / "emulated"))
import emulated_network as emu  # noqa: E402

pytest.importorskip("kaggle")


@pytest.fixture
def kaggle_service(monkeypatch, tmp_path):
    """Start the emulated service in a given mode; credentials cleared, HOME and cache in tmp."""
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "kaggle-config"))
    monkeypatch.setenv("CNNCOURSE_CACHE_DIR", str(tmp_path / "cache"))
    # no archive is built here
    monkeypatch.setenv("CNNCOURSE_EMULATED_CACHE", str(tmp_path / "emulated"))

    import kagglesdk.kaggle_env as endpoints

    real = dict(endpoints._env_to_endpoint)

    def start(mode="ok"):
        emu.serve_kaggle(mode)
        return tmp_path / "dest"

    yield start
    emu.start_kaggle("offline")  # stops the server
    endpoints._env_to_endpoint.update(real)  # the client points at kaggle.com again


REJECTED = [{"KAGGLE_API_TOKEN": "KGAT_not-the-right-token-123"},
            {"KAGGLE_USERNAME": emu.USERNAME, "KAGGLE_KEY": "wrong-key-0123456789"}]


def _fails_with(dest, *phrases):
    with pytest.raises(pn.DataUnavailable) as info:
        pn.download(dest, quiet=True)
    message = str(info.value)
    for phrase in phrases:
        assert phrase in message, message
    assert emu.TOKEN not in message and emu.KEY not in message
    assert not (dest / "chest_xray").exists() and not list(dest.glob(".partial-*"))
    return message


@pytest.mark.parametrize("credentials", REJECTED, ids=["token", "legacy key"])
def test_wrong_credentials_are_rejected_with_what_to_do(kaggle_service, monkeypatch, credentials):
    dest = kaggle_service("ok")
    for name, value in credentials.items():
        monkeypatch.setenv(name, value)
    message = _fails_with(dest, "401", "Create a new token", "kaggle.com/settings")
    assert not any(secret in message for secret in credentials.values() if secret != emu.USERNAME)


def test_terms_not_accepted_gives_403_and_the_dataset_page(kaggle_service, monkeypatch):
    dest = kaggle_service("403")
    monkeypatch.setenv("KAGGLE_API_TOKEN", emu.TOKEN)
    _fails_with(dest, "403", "accept the dataset's terms", dl.DATASET_URL)


def test_no_network(kaggle_service, monkeypatch):
    dest = kaggle_service("offline")
    monkeypatch.setenv("KAGGLE_API_TOKEN", emu.TOKEN)
    _fails_with(dest, "Could not reach Kaggle", "internet connection")


def test_too_little_disk_space_stops_before_any_connection(kaggle_service, monkeypatch):
    dest = kaggle_service("ok")
    monkeypatch.setenv("KAGGLE_API_TOKEN", emu.TOKEN)
    free = type("Usage", (), {"total": 10**10, "used": 10**10 - 10**9, "free": 10**9})()
    monkeypatch.setattr(dl.shutil, "disk_usage", lambda path: free)
    monkeypatch.setattr(dl, "_kaggle_api",
                        lambda found: pytest.fail("connected despite too little disk space"))
    _fails_with(dest, "Not enough disk space", "1.0 GB free", "2.5 GB")


def test_the_lab_without_credentials_stops_and_says_where_to_set_them(kaggle_service):
    dest = kaggle_service("ok")
    _fails_with(dest, "KAGGLE_API_TOKEN", "Notebook access", "~/.kaggle/access_token")
    with pytest.raises(pn.DataUnavailable):
        pn.find_data()  # the default never falls back to synthetic data


def _check_kaggle_online():
    return doctor.run_check("Kaggle credentials",
                            lambda: doctor.check_kaggle_credentials(online=True))


@pytest.mark.parametrize("credentials", REJECTED, ids=["token", "legacy key"])
def test_doctor_reports_rejected_credentials_as_invalid_with_what_to_do(kaggle_service, monkeypatch,
                                                                         credentials):
    kaggle_service("ok")
    for name, value in credentials.items():
        monkeypatch.setenv(name, value)
    result = _check_kaggle_online()
    assert result.status == "FAILED", result
    for phrase in ("401", "Create a new token", "https://www.kaggle.com/settings"):
        assert phrase in result.detail, result.detail
    secret = credentials.get("KAGGLE_KEY") or credentials["KAGGLE_API_TOKEN"]
    assert secret not in result.detail + json.dumps(result.facts)


def test_doctor_without_a_connection_to_kaggle_says_it_could_not_validate(kaggle_service,
                                                                         monkeypatch):
    kaggle_service("offline")
    monkeypatch.setenv("KAGGLE_API_TOKEN", emu.TOKEN)
    result = _check_kaggle_online()
    assert result.status == "not checked" and "could not be reached" in result.detail, result
    assert emu.TOKEN not in result.detail
