"""``python -m cnncourse doctor``: offline it checks only the cache, makes no connection and
exits 0; each online check is driven here by stand-ins for the download or the Kaggle client."""

import hashlib
import json
import os
import socket
import subprocess
import sys
import textwrap
import types

import pytest

from cnncourse import credentials, doctor
from cnncourse.pneumonia import getdata

SECRET = "0123456789abcdef0123456789abcdef"

# Prepended to every subprocess: any attempt to reach a host is reported on stderr and fails.
NO_NETWORK = textwrap.dedent("""
    import socket, sys
    def _no_network(*args, **kwargs):
        print("NETWORK USED", file=sys.stderr)
        raise socket.gaierror(-2, "Name or service not known")
    socket.getaddrinfo = _no_network
""")


def _env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAGGLE_")}
    env.update(HOME=str(tmp_path), KAGGLE_CONFIG_DIR=str(tmp_path / "no-kaggle"),
               KERAS_HOME=str(tmp_path / "keras"), CNNCOURSE_CACHE_DIR=str(tmp_path / "cache"),
               TF_CPP_MIN_LOG_LEVEL="3", MPLBACKEND="Agg", COLUMNS="120")
    return env


def _python(code, tmp_path, timeout=300):
    return subprocess.run([sys.executable, "-c", NO_NETWORK + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=timeout, env=_env(tmp_path),
                          cwd=tmp_path)


@pytest.mark.slow
def test_offline_doctor_reports_every_check_exits_0_and_connects_nowhere(tmp_path):
    report = tmp_path / "doctor.json"
    run = _python(f"""
        from cnncourse.cli import main
        raise SystemExit(main(["doctor", "--json", {str(report)!r}]))
    """, tmp_path)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "NETWORK USED" not in run.stderr
    checks = {c["check"]: c for c in json.loads(report.read_text())["checks"]}
    assert list(checks) == [name for name, _ in doctor.checks(online=False, timeout_s=1)]
    for item in doctor.DOWNLOADS:  # an empty Keras cache: one line each saying what was not checked
        assert checks[item.name]["status"] == "not checked"
        assert "--online" in checks[item.name]["detail"]
    assert checks["Kaggle credentials"]["status"] == "not checked"
    assert checks["chest X-rays (Kaggle)"]["status"] == "not checked"
    assert checks["versions"]["status"] == "ok" and checks["XLA"]["status"] == "ok"
    step, pipeline = checks["lab training step"], checks["lab input pipeline"]
    assert step["status"] == "ok" and step["facts"]["images_per_s"] > 0
    assert pipeline["status"] == "ok" and "demo X-rays" in pipeline["detail"]
    for name in checks:  # the table has one row per check
        assert any(line.startswith(name) for line in run.stdout.splitlines()), name


@pytest.mark.slow
def test_cached_files_offline_through_the_real_keras_calls(tmp_path):
    """Corrupt files fail; a weight file in Keras's format (written from the same architecture)
    loads."""
    weights, small = doctor.DOWNLOADS[5], doctor.DOWNLOADS[6]
    assert small.name == "MobileNetV2 weights, 96 px, no top"
    run = _python("""
        import json
        import h5py, keras
        from keras.src.legacy.saving.legacy_h5_format import save_weights_to_hdf5_group
        from cnncourse import doctor, transfer
        home = transfer.keras_home()
        for item in doctor.DOWNLOADS[:2] + doctor.DOWNLOADS[5:7]:
            path = home / item.files[0]
            path.parent.mkdir(parents=True, exist_ok=True)
            if item is doctor.DOWNLOADS[6]:
                model = keras.applications.MobileNetV2(weights=None, include_top=False,
                                                       input_shape=(96, 96, 3))
                with h5py.File(path, "w") as f:
                    save_weights_to_hdf5_group(f, model)
            elif item is not doctor.DOWNLOADS[1]:  # CIFAR-10 stays missing
                path.write_bytes(b"not the real file")
            result = doctor.run_check(item.name, lambda: doctor.check_download(item, online=False))
            print(json.dumps([result.status, result.detail, path.exists(), result.facts]))
    """, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stdout.strip().splitlines()[-4:]
    mnist, cifar, mobilenet, valid = (json.loads(line) for line in lines)
    # Keras removed the bad file
    assert mnist[0] == "FAILED" and "checksum" in mnist[1] and not mnist[2]
    assert cifar[0] == "not checked" and not cifar[2]
    assert mobilenet[0] == "FAILED"
    assert "does not load" in mobilenet[1] and weights.files[0] in mobilenet[1]
    assert valid[0] == "ok" and "loads into" in valid[1]
    (facts,) = valid[3]["files"]
    path = tmp_path / "keras" / small.files[0]
    assert facts["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert facts["bytes"] == path.stat().st_size
    assert "NETWORK USED" not in run.stderr


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    from cnncourse import transfer

    monkeypatch.setattr(transfer, "keras_home", lambda: tmp_path)
    return tmp_path


def _item(load, files=("datasets/thing.npz",)):
    return doctor.Download("thing", "notebook 99", files, load, "checked by the test")


def test_offline_a_missing_file_is_not_checked_and_not_loaded(keras_home):
    def load():
        raise AssertionError("must not be called")

    result = doctor.run_check("thing", lambda: doctor.check_download(_item(load), online=False))
    assert result.status == "not checked"
    assert "notebook 99" in result.detail and "--online" in result.detail


def test_offline_a_cached_file_is_loaded_without_network_and_hashed(keras_home):
    content = b"cached bytes" * 1000
    (keras_home / "datasets").mkdir()
    (keras_home / "datasets" / "thing.npz").write_bytes(content)

    def load():
        with pytest.raises(OSError):
            socket.getaddrinfo("example.org", 443)
        return "10 things"

    result = doctor.run_check("thing", lambda: doctor.check_download(_item(load), online=False))
    assert result.status == "ok" and result.detail.startswith("10 things")
    (facts,) = result.facts["files"]
    assert facts["bytes"] == len(content) and facts["sha256"] == hashlib.sha256(content).hexdigest()
    assert facts["sha256"][:12] in result.detail
    socket.getaddrinfo("localhost", 80)  # restored afterwards


def test_offline_a_file_keras_refuses_fails(keras_home):
    (keras_home / "datasets").mkdir()
    (keras_home / "datasets" / "thing.npz").write_bytes(b"truncated")

    # what keras.utils.get_file does with a cached file whose pinned hash differs, offline
    def load():
        print("A local file was found, but it seems to be incomplete or outdated because the "
              "sha256 file hash does not match the original value of abc so we will re-download "
              "the data.")
        raise Exception("URL fetch failure on https://example.org/thing.npz: None -- no network")

    result = doctor.run_check("thing", lambda: doctor.check_download(_item(load), online=False))
    assert result.status == "FAILED" and "checksum" in result.detail


def test_online_a_download_is_hashed_and_an_unreachable_one_is_not_checked(keras_home):
    def download():
        (keras_home / "datasets").mkdir(exist_ok=True)
        (keras_home / "datasets" / "thing.npz").write_bytes(b"downloaded")
        assert socket.getdefaulttimeout() == 7  # the wait is bounded
        return "downloaded thing"

    item = _item(download)
    result = doctor.run_check("thing",
                              lambda: doctor.check_download(item, online=True, timeout_s=7))
    assert result.status == "ok"
    assert result.facts["files"][0]["sha256"] == hashlib.sha256(b"downloaded").hexdigest()

    def unreachable():
        raise Exception("URL fetch failure on https://example.org/x.npz: None -- "
                        "[Errno -3] Temporary failure in name resolution")

    item = _item(unreachable, files=("datasets/other.npz",))
    result = doctor.run_check("other", lambda: doctor.check_download(item, online=True))
    assert result.status == "not checked"
    assert "unreachable ([Errno -3] Temporary failure" in result.detail


def test_every_course_download_lands_in_the_keras_cache_and_names_its_users():
    assert len({item.name for item in doctor.DOWNLOADS}) == len(doctor.DOWNLOADS)
    for item in doctor.DOWNLOADS:
        assert item.files and item.used_by
        assert all(f.startswith(("datasets/", "models/")) for f in item.files)


class FakeKaggle:
    """Stands in for an authenticated KaggleApi: answers dataset_list_files, or raises ``error``."""

    def __init__(self, error=None):
        self.error, self.calls = error, []

    def dataset_list_files(self, dataset, *args, **kwargs):
        self.calls.append(dataset)
        if self.error is not None:
            raise self.error
        return types.SimpleNamespace(files=["a", "b", "c"], error_message="")


class HttpError(Exception):
    def __init__(self, status, text):
        super().__init__(text)
        self.status = status


@pytest.fixture
def kaggle(monkeypatch):
    monkeypatch.setenv("KAGGLE_USERNAME", "student")
    monkeypatch.setenv("KAGGLE_KEY", SECRET)
    fake = FakeKaggle()
    monkeypatch.setattr(getdata, "_kaggle_api", lambda found: fake)
    return fake


def test_kaggle_credentials_offline_are_reported_but_not_used(kaggle):
    result = doctor.run_check("Kaggle", lambda: doctor.check_kaggle_credentials(online=False))
    assert result.status == "not checked"
    assert "KAGGLE_USERNAME" in result.detail and "--online" in result.detail
    assert kaggle.calls == []


def test_kaggle_credentials_online_one_metadata_call(kaggle):
    result = doctor.run_check("Kaggle", lambda: doctor.check_kaggle_credentials(online=True))
    assert result.status == "ok" and "3 files" in result.detail
    assert kaggle.calls == [getdata.DATASET]


@pytest.mark.parametrize(("error", "status", "says"), [
    (HttpError(401, f"401 Unauthorized for key {SECRET}"), "FAILED", "401"),
    (HttpError(403, "403 Forbidden"), "FAILED", "403"),
    (OSError("[Errno -2] Name or service not known"), "not checked", "internet"),
])
def test_kaggle_credentials_online_failures(kaggle, error, status, says):
    kaggle.error = error
    result = doctor.run_check("Kaggle", lambda: doctor.check_kaggle_credentials(online=True))
    assert result.status == status and says in result.detail
    assert SECRET not in json.dumps(result.facts) + result.detail


def test_no_kaggle_credentials_says_how_to_get_them(monkeypatch, tmp_path):
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path))
    result = doctor.run_check("Kaggle", lambda: doctor.check_kaggle_credentials(online=True))
    assert result.status == "not checked" and result.detail == credentials.HOW_TO_GET_CREDENTIALS


@pytest.mark.parametrize(("gpus", "status", "says"), [
    ([], "no", "no GPU"),
    ([{"device_name": "NVIDIA H200", "compute_capability": (9, 0)}], "ok", "9.0"),
    ([{"device_name": "Tesla P100", "compute_capability": (6, 0)}], "no", "6.0 < 7.0"),
])
def test_mixed_precision_needs_tensor_cores(monkeypatch, gpus, status, says):
    monkeypatch.setattr(doctor, "_gpu_details", lambda: gpus)
    result = doctor.run_check("mixed precision", doctor.check_mixed_precision)
    assert result.status == status and says in result.detail


def test_a_check_that_breaks_is_one_failed_row_with_its_output_kept():
    def broken():
        print("some progress output")
        raise ValueError("something broke\nsecond line")

    result = doctor.run_check("broken", broken)
    assert (result.status, result.detail) == ("FAILED", "ValueError: something broke")
    assert result.facts["output"] == "some progress output\n"
    assert doctor.format_row(result, width=60).startswith("broken")
