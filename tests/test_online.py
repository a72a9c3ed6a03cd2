"""The online branch of every notebook and the lab, executed against the emulated network.

Run by ``make test-online`` (``CNNCOURSE_TEST_ONLINE=1``; skipped otherwise). Each notebook runs in
fast mode in a kernel whose environment switches the emulation on (tests/emulated: stand-ins of
MNIST, CIFAR-10, IMDB, cats vs dogs, ImageNet weight files and the Kaggle service), with its own
fresh ``KERAS_HOME``, so every download goes through the real ``keras.utils.get_file`` and the
real ``kaggle`` client. Every download prints "emulated online: stand-in for <url>" in the
notebook, which labels the run on screen; nothing in ``cnncourse`` knows about the emulation.

A cell "of the online branch" is a cell that used the network during its execution: a download,
a cached download handed out by ``get_file`` (ImageNet weights in fast mode), or a call to the
Kaggle service. Their number per notebook is printed and must be more than zero.

``python -m cnncourse doctor --online`` runs here too, as a subprocess on an empty Keras cache:
every dataset and weight file must be reported ok and the emulated token valid.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
EMULATED = ROOT / "tests" / "emulated"
sys.path.insert(0, str(EMULATED))
import emulated_network as emu  # noqa: E402

pytestmark = pytest.mark.skipif(os.environ.get("CNNCOURSE_TEST_ONLINE") != "1",
                                reason="emulated-online run: make test-online "
                                       "(CNNCOURSE_TEST_ONLINE=1)")

#: Files the fast-mode branches use only when cached (fast mode never downloads them itself):
#: fetched through the emulated network into the notebook's KERAS_HOME before it runs.
PREFETCH = {
    "05_transfer_learning": [
        ("cats_and_dogs_filtered",
         "https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip", True),
        ("mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_160_no_top.h5",
         "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"
         "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_160_no_top.h5", False),
    ],
    "07_what_cnns_learn": [
        ("mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5",
         "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"
         "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5", False),
    ],
}

# longest first, so that two workers finish together
NOTEBOOKS = ["labs/lab3_pneumonia.ipynb", "notebooks/03_mnist_convnet_vs_mlp.ipynb",
             "notebooks/04_alexnet_vgg.ipynb", "notebooks/05_transfer_learning.ipynb",
             "notebooks/07_what_cnns_learn.ipynb", "notebooks/06_modern_architectures.ipynb",
             "notebooks/08_cnn_for_text.ipynb", "notebooks/00_setup_and_tools.ipynb"]

#: What each notebook must print when it took the online branch.
ONLINE_LINES = {
    "00_setup_and_tools": "MNIST: full dataset from keras.datasets",
    "03_mnist_convnet_vs_mlp": "full MNIST",
    "04_alexnet_vgg": "Training data: CIFAR-10",
    "05_transfer_learning": "frozen MobileNetV2 + new head",
    "06_modern_architectures": "MNIST: full dataset from keras.datasets",
    "07_what_cnns_learn": "Grad-CAM",
    "08_cnn_for_text": "IMDB movie reviews from keras.datasets",
    "lab3_pneumonia": "Data: Kaggle chest X-rays",
}


@pytest.fixture(scope="session")
def emulated(tmp_path_factory):
    """Environment for kernels (and this process) with the emulated network switched on."""
    base = tmp_path_factory.mktemp("online")
    (base / "home").mkdir()
    env = {
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(EMULATED), str(ROOT), os.environ.get("PYTHONPATH")])
        ),
        "CNNCOURSE_EMULATED_NETWORK": "1",
        "CNNCOURSE_EMULATED_KAGGLE": "ok",
        "CNNCOURSE_FAST": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "HOME": str(base / "home"),
        "KAGGLE_CONFIG_DIR": str(base / "home" / ".kaggle"),
        "KAGGLE_API_TOKEN": emu.TOKEN,
        "CNNCOURSE_CACHE_DIR": str(base / "cnncourse-cache"),
    }
    with pytest.MonkeyPatch.context() as mp:
        for name in ("KAGGLE_USERNAME", "KAGGLE_KEY", "MPLBACKEND"):
            mp.delenv(name, raising=False)
        for name, value in env.items():
            mp.setenv(name, value)
        emu.install()
        yield base


def _lines(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: Path(p).stem)
def test_online_branch_runs(emulated, path, monkeypatch):
    from nbclient import NotebookClient

    name = Path(path).stem
    keras_home = emulated / f"keras-{name}"
    log = emulated / f"network-{name}.log"
    # get_file falls back to /tmp/.keras when the folder is not there (not writable)
    keras_home.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    monkeypatch.setenv("CNNCOURSE_EMULATED_LOG", str(log))
    import keras

    for fname, origin, extract in PREFETCH.get(name, []):
        keras.utils.get_file(fname, origin=origin, extract=extract, cache_dir=str(keras_home),
                             cache_subdir="datasets" if extract else "models")
    if name == "lab3_pneumonia":
        # the slowest stand-in, built once (here, not inside the kernel's server)
        emu.cached_kaggle_archive()
    log.unlink(missing_ok=True)  # count only what the notebook itself does

    nb = nbformat.read(ROOT / path, as_version=4)
    if name == "lab3_pneumonia":  # what a student does in the settings cell to use the real data
        settings = next(i for i, c in enumerate(nb.cells)
                        if "USE_DEMO_DATA = config.fast_mode()" in c.source)
        nb.cells.insert(settings + 1, nbformat.v4.new_code_cell("USE_DEMO_DATA = False"))
    online_cells = []
    before = {}

    def on_execute(cell, cell_index):
        before[cell_index] = _lines(log)

    def on_executed(cell, cell_index, execute_reply):
        if _lines(log) > before[cell_index]:
            online_cells.append(cell_index)

    client = NotebookClient(nb, timeout=900, kernel_name="python3", on_cell_execute=on_execute,
                            on_cell_executed=on_executed,
                            resources={"metadata": {"path": str((ROOT / path).parent)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    outputs = [out for cell in nb.cells if cell.cell_type == "code"
               for out in cell.get("outputs", [])]
    text = "\n".join(out.get("text", "") if isinstance(out.get("text", ""), str) else ""
                     for out in outputs)
    used = []
    if log.exists():
        used = sorted({line.split("\t")[3] for line in log.read_text().splitlines()})
    report = {"notebook": name, "online_cells": len(online_cells), "cells": online_cells,
              "seconds": round(seconds, 1), "network": used}
    print(json.dumps(report))
    (ROOT / "build").mkdir(exist_ok=True)
    with open(ROOT / "build" / "test-online.jsonl", "a") as f:  # make test-online prints it
        f.write(json.dumps(report) + "\n")
    assert online_cells, f"{name}: no cell used the (emulated) network"
    assert "emulated online: stand-in for" in text, \
        f"{name}: the run is not labelled emulated online on screen"
    assert ONLINE_LINES[name] in text, f"{name}: did not print {ONLINE_LINES[name]!r}"
    shutil.rmtree(keras_home, ignore_errors=True)


def test_download_cut_off_halfway_says_so_and_keeps_nothing(emulated, monkeypatch, tmp_path):
    from cnncourse import pneumonia as pn

    emu.cached_kaggle_archive()
    emu.serve_kaggle("cutoff")
    import kaggle.api.kaggle_api_extended  # noqa: F401  (the module, not kaggle.api the instance)

    client = sys.modules["kaggle.api.kaggle_api_extended"]
    # the client's 5 retries, without the waits
    monkeypatch.setattr(client.time, "sleep", lambda seconds: None)
    with pytest.raises(pn.DataUnavailable, match="cut off before it finished") as info:
        pn.download(tmp_path / "dest", quiet=True)
    assert emu.TOKEN not in str(info.value)
    dest = tmp_path / "dest"
    assert not (dest / "chest_xray").exists() and not list(dest.glob(".partial-*"))
    emu.serve_kaggle("ok")
    data = pn.download(dest, quiet=True)  # and the next try works
    assert pn.verify_dataset(data)
    assert not (data / "chest_xray").exists() and not list(data.rglob("._*"))


#: Every download doctor checks, and the ones the course uses them for (independent of
#: doctor.DOWNLOADS).
DOCTOR_DOWNLOADS = ["MNIST (keras.datasets)", "CIFAR-10 (keras.datasets)",
                    "IMDB reviews (keras.datasets)",
                    "IMDB word index (keras.datasets)", "Cats vs dogs photos (get_file)",
                    "MobileNetV2 weights, 224 px, no top", "MobileNetV2 weights, 96 px, no top",
                    "MobileNetV2 weights, 160 px, no top", "MobileNetV2 weights, with classifier",
                    "ImageNet class names"]


def test_doctor_online_reports_every_download_and_the_credentials(emulated, tmp_path):
    """``python -m cnncourse doctor --online --json`` on a machine with an empty Keras cache and a
    valid Kaggle token: every dataset and weight file downloaded, loaded and checksummed, the
    credentials validated by one authenticated call (the file listing). A wrong token:
    tests/test_kaggle_emulated.py."""
    # the file listing reads it: built here, not inside doctor's bounded wait
    emu.cached_kaggle_archive()
    (tmp_path / "keras").mkdir()
    env = {**os.environ, "KERAS_HOME": str(tmp_path / "keras"),
           "CNNCOURSE_CACHE_DIR": str(tmp_path / "cache"),
           "CNNCOURSE_EMULATED_LOG": str(tmp_path / "network.log")}
    report = tmp_path / "doctor.json"
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "cnncourse", "doctor", "--online", "--json",
                          str(report)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    print(f"doctor --online against the emulated network: {time.perf_counter() - start:.0f} s")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    rows = {row["check"]: row for row in json.loads(report.read_text())["checks"]}
    for name in DOCTOR_DOWNLOADS:
        row = rows[name]
        assert row["status"] == "ok", row
        files = row["facts"]["files"]
        assert files and all(f["bytes"] > 0 and len(f["sha256"]) == 64 for f in files), row
    real_index = (EMULATED / "imagenet_class_index.json").read_bytes()
    # the MD5 Keras pins
    assert hashlib.md5(real_index).hexdigest() == "c2c37ea517e94d9795004a39431a14cb"
    class_names = rows["ImageNet class names"]["facts"]["files"][0]
    assert class_names["sha256"] == hashlib.sha256(real_index).hexdigest()
    credentials = rows["Kaggle credentials"]
    assert credentials["status"] == "ok"
    assert credentials["detail"].startswith("valid (environment: KAGGLE_API_TOKEN)")
    assert emu.TOKEN not in report.read_text() + run.stdout + run.stderr
    calls = [line.split("\t") for line in (tmp_path / "network.log").read_text().splitlines()]
    kaggle_calls = [call[3] for call in calls if call[2] == "kaggle"]
    assert kaggle_calls[-1].endswith("/datasets.DatasetApiService/ListDatasetFiles")
    # never the 1.2 GB
    assert not any("DownloadDataset" in call or "archive.zip" in call for call in kaggle_calls)
