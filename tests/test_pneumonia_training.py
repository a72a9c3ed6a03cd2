"""The chest X-ray lab's training side: two phases, a killed run that resumes, strategies, the CLI.

Networks here are tiny (a two-convolution backbone on 32x32 images) so each test takes seconds;
subprocesses block the network, so nothing is downloaded even on a machine that is online.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from cnncourse import pneumonia as pn

SECRET = "0123456789abcdef0123456789abcdef"

# Prepended to every subprocess: no network (as on an offline machine), quiet TensorFlow.
NO_NETWORK = textwrap.dedent("""
    import os, socket, sys
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    def _no_network(*args, **kwargs):
        print("NETWORK USED", file=sys.stderr)
        raise socket.gaierror(-2, "Name or service not known")
    socket.getaddrinfo = _no_network
    socket.socket.connect = _no_network
""")

TINY_BACKBONE = textwrap.dedent("""
    import keras
    def tiny_backbone():
        inputs = keras.Input((32, 32, 3))
        x = keras.layers.Rescaling(1 / 255, name="rescale")(inputs)
        x = keras.layers.Conv2D(8, (3, 3), name="conv1")(x)
        x = keras.layers.BatchNormalization(name="bn1")(x)
        x = keras.layers.ReLU(name="relu1")(x)
        x = keras.layers.Conv2D(8, (3, 3), name="conv2")(x)
        return keras.Model(inputs, x, name="tiny_backbone")
""")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("xrays")
    return pn.make_demo_xrays(root, n_per_class={"NORMAL": 14, "PNEUMONIA": 26}, test_per_class=8,
                              val_per_class=2, defects=True, size_range=(96, 160))


def _env(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAGGLE_")}
    env.update(HOME=str(tmp_path), KAGGLE_CONFIG_DIR=str(tmp_path / "no-kaggle"),
               KERAS_HOME=str(tmp_path / "keras"), CNNCOURSE_CACHE_DIR=str(tmp_path / "cache"),
               TF_CPP_MIN_LOG_LEVEL="3",
               MPLBACKEND="Agg", **extra)
    return env


def _python(code: str, tmp_path: Path, timeout=240, **env):
    return subprocess.run([sys.executable, "-c", NO_NETWORK + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=timeout,
                          env=_env(tmp_path, **env), cwd=tmp_path)


def test_two_phase_training_with_a_corrupt_file_and_rerun(data, tmp_path):
    exec(TINY_BACKBONE, globals())
    train_files = pn.list_images(data, "train")  # includes the truncated JPEG: skipped, no crash
    val_files = pn.list_images(data, "test")
    settings = dict(image_size=32, batch_size=8, epochs=2, fine_tune_epochs=1, fine_tune_layers=5,
                    run_dir=tmp_path / "run", verbose=0)
    result = pn.train(train_files, val_files, backbone=tiny_backbone(), **settings)  # noqa: F821
    h = result.history
    assert h.phase.tolist() == [1, 1, 2] and h.epoch.tolist() == [1, 2, 3]
    assert {"loss", "auc", "val_auc", "val_pr_auc"} <= set(h.columns)
    assert 0 <= result.best_val_auc <= 1 and result.best_val_auc == pytest.approx(h.val_auc.max())
    assert (tmp_path / "run" / "model.keras").exists() and not result.mixed_precision
    base = result.model.get_layer("tiny_backbone")
    # phase 2 unfroze the top, batch norm kept frozen
    assert base.get_layer("conv2").trainable and not base.get_layer("bn1").trainable
    again = pn.train(train_files, val_files, backbone=tiny_backbone(), **settings)  # noqa: F821
    assert "already complete" in again.notes[0] and len(again.history) == 3
    images = np.zeros((2, 32, 32, 3), "float32")
    np.testing.assert_allclose(again.model.predict(images, verbose=0),
                               result.model.predict(images, verbose=0), rtol=1e-5)
    # Evaluation on a test list that contains the corrupt file: it is skipped and named.
    broken = pn.audit(data).unreadable
    evaluation = pn.evaluate(result.model, val_files, val_files + broken, n_bootstrap=50,
                             data_label="demo")
    assert evaluation.skipped_files == broken and evaluation.test["n"] == len(val_files)
    assert 0 <= evaluation.test["roc_auc"] <= 1 and evaluation.table().columns[0] == "test (demo)"
    figure = pn.gradcam_examples(result.model, evaluation, n=2)
    assert figure.cases and all(kind in ("true positive", "false positive", "false negative")
                                for kind, _, _ in figure.cases)


def test_the_steps_train_composes_on_a_tiny_backbone(tmp_path):
    import keras

    model, source = pn.build_model(_tiny_model(), 32, bias=0.5, dropout=0.3)
    assert source == "given model" and model.output_shape == (None, 1)
    # phase 1: only the head learns, 8 pooled features -> one unit: 8 weights + 1 bias
    assert pn.trainable_parameters(model) == 9
    assert float(model.get_layer("head").bias.numpy()[0]) == pytest.approx(0.5)
    assert model.get_layer("dropout").rate == 0.3
    calls = [node for layer in model.get_config()["layers"] if layer["name"] == "tiny_backbone"
             for node in layer["inbound_nodes"]]
    assert [node["kwargs"]["training"] for node in calls] == [False]  # inference mode
    pn.compile_model(model, 1e-3)
    assert model.get_compile_config()["loss"] == "binary_crossentropy"
    assert pn.start_fine_tuning(model, 5, 1e-5) is model
    # phase 2: the top 5 layers (rescale, conv1, bn1, relu1, conv2) but batch norm:
    # conv1 3*3*3*8 + 8, conv2 3*3*8*8 + 8, and the head
    assert pn.trainable_parameters(model) == (216 + 8) + (576 + 8) + 9
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(1e-5)
    callbacks = pn.phase_callbacks(tmp_path, patience=2, best_so_far=0.7)
    assert [type(c).__name__ for c in callbacks] == ["ModelCheckpoint", "EarlyStopping",
                                                     "CSVLogger", "BackupAndRestore"]
    assert {callbacks[0].monitor, callbacks[1].monitor} == {"val_auc"}
    assert callbacks[0].best == 0.7 and callbacks[1].patience == 2


RESUMABLE_RUN = TINY_BACKBONE + textwrap.dedent("""
    import sys, time
    from cnncourse import pneumonia as pn

    class Slow(keras.callbacks.Callback):  # gives the test time to kill us between epochs
        def on_epoch_end(self, epoch, logs=None):
            print("EPOCH_END", epoch, flush=True)
            time.sleep(0.4)

    data, run = sys.argv[1], sys.argv[2]
    train, val = pn.split_train_val(data, 0.3, exclude=pn.audit(data).unreadable)
    result = pn.train(train, val, backbone=tiny_backbone, image_size=32, batch_size=8, epochs=3,
                      fine_tune_epochs=4, fine_tune_layers=5, patience=10, run_dir=run, verbose=0,
                      callbacks=[Slow()])
    print("DONE", len(result.history), "|".join(result.notes), flush=True)
""")


def test_killed_training_resumes_where_it_stopped(data, tmp_path):
    script = tmp_path / "run_training.py"
    script.write_text(NO_NETWORK + RESUMABLE_RUN)
    run = tmp_path / "run"
    cmd = [sys.executable, str(script), str(data), str(run)]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=_env(tmp_path))
    backup = run / "phase2" / "backup" / "training_metadata.json"
    deadline = time.time() + 180
    while time.time() < deadline and first.poll() is None:
        if backup.exists() and json.loads(backup.read_text() or "{}").get("epoch", 0) >= 1:
            break
        time.sleep(0.05)
    assert first.poll() is None, ("training ended before it could be killed:\n"
                                  + first.communicate()[1][-2000:])
    first.send_signal(signal.SIGKILL)  # no clean-up: like a Colab disconnect
    out, _ = first.communicate(timeout=30)
    assert "DONE" not in out and not (run / "model.keras").exists()
    done = json.loads(backup.read_text())["epoch"]

    second = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=_env(tmp_path))
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"Phase 2 (fine-tuning): resuming after epoch {done} of 4" in second.stdout
    assert second.stdout.count("EPOCH_END") == 4 - done  # phase 1 not repeated, phase 2 continued
    assert "DONE 7" in second.stdout  # 3 + 4 epochs in the history, none twice
    stored = json.loads((run / "train_state.json").read_text())["fingerprint"]
    history = pn.train.__globals__["_RunFolder"](run, stored).history()
    assert history.phase.tolist() == [1, 1, 1, 2, 2, 2, 2]
    assert history.phase_epoch.tolist() == [0, 1, 2, 0, 1, 2, 3]
    assert (run / "model.keras").exists() and not (run / "phase2" / "backup").exists()
    assert "NETWORK USED" not in second.stderr


def test_mirrored_strategy_over_two_logical_cpus(data, tmp_path):
    result = _python(TINY_BACKBONE + textwrap.dedent(f"""
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from cnncourse import pneumonia as pn
        from cnncourse.pneumonia.training import describe_strategy
        default = pn.pick_strategy()  # no GPU here: one device
        assert default.num_replicas_in_sync == 1, default
        mirrored = pn.pick_strategy(devices=tf.config.list_logical_devices("CPU"))
        assert type(mirrored).__name__ == "MirroredStrategy" and mirrored.num_replicas_in_sync == 2
        train = pn.list_images({str(data)!r}, "train")
        result = pn.train(train[::3], train[1::3], backbone=tiny_backbone, image_size=32,
                          batch_size=8, epochs=1, fine_tune_epochs=1, fine_tune_layers=5,
                          strategy=mirrored,
                          run_dir={str(tmp_path / "run")!r}, verbose=0)
        print("STRATEGY", result.strategy, describe_strategy(default), len(result.history))
    """), tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "STRATEGY MirroredStrategy over 2 devices default strategy (1 device) 2" in result.stdout


CLI = "from cnncourse.cli import main\nsys.exit(main({args!r}))\n"


def test_cli_demo_run_writes_the_run_folder(tmp_path):
    out = tmp_path / "run"
    # The small from-scratch CNN keeps this quick; the two phases of a pretrained backbone are
    # tested above and in labs/lab3_pneumonia.ipynb.
    args = ["lab", "pneumonia", "--demo", "--backbone", "baseline", "--image-size", "32",
            "--epochs", "2", "--batch-size", "16", "--out", str(out)]
    result = _python(CLI.format(args=args), tmp_path, CNNCOURSE_FAST="1")
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("model.keras", "config.json", "history.csv", "metrics.json", "audit.csv",
                 "history.html", "roc.html", "pr.html", "confusion.html", "gradcam.png",
                 "plotly.min.js"):
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["synthetic_data"] is True and "SYNTHETIC" in metrics["data"]
    test = metrics["test"]
    for key in ("accuracy", "sensitivity", "specificity", "precision", "f1", "roc_auc", "pr_auc"):
        assert 0 <= test[key] <= 1, key
    low, high = test["roc_auc_ci95"]
    assert 0 <= low <= test["roc_auc"] <= high <= 1
    assert sum(map(sum, test["confusion"])) == test["n"]
    config = json.loads((out / "config.json").read_text())
    assert config["synthetic_data"] and config["mode"] == "fast" and config["image_size"] == 32
    assert config["weights"] == "trained from scratch" and config["backbone"] == "baseline"
    assert "SYNTHETIC" in result.stdout and "NETWORK USED" not in result.stderr
    history = (out / "history.csv").read_text().splitlines()
    assert len(history) >= 2 and history[0].startswith("epoch,")


def test_cli_without_credentials_exits_2_without_touching_the_network(tmp_path):
    args = ["lab", "pneumonia", "--out", str(tmp_path / "run")]
    result = _python(CLI.format(args=args), tmp_path, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Kaggle credentials not found" in result.stderr and "--demo" in result.stderr
    assert "NETWORK USED" not in result.stderr and "Traceback" not in result.stderr
    nowhere = ["lab", "pneumonia", "--data-dir", str(tmp_path / "nowhere")]
    missing = _python(CLI.format(args=nowhere), tmp_path)
    assert missing.returncode == 2 and "does not hold the chest X-ray data" in missing.stderr


def test_cli_never_shows_the_key(tmp_path):
    args = ["lab", "pneumonia", "--out", str(tmp_path / "run")]
    result = _python(CLI.format(args=args), tmp_path, KAGGLE_USERNAME="student", KAGGLE_KEY=SECRET)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Could not reach Kaggle" in result.stderr
    assert SECRET not in result.stdout + result.stderr


# The settings issue 12 names as changing a run's result, each with a changed value.
RESULT_SETTINGS = {"backbone": "efficientnetb0", "weights": None, "image_size": 160,
                   "resize": "crop", "augment": False, "dropout": 0.5, "epochs": 7,
                   "learning_rate": 3e-4, "fine_tune_learning_rate": 3e-6, "patience": 5,
                   "fine_tune_epochs": 2, "fine_tune_layers": 10, "seed": 1, "batch_size": 16,
                   "use_class_weights": False}


def _default_arguments(files):
    import inspect

    arguments = {name: p.default for name, p in inspect.signature(pn.train).parameters.items()}
    arguments.update(train_files=files[:-2], val_files=files[-2:])
    return arguments


def _tiny_model():
    exec(TINY_BACKBONE, globals())
    return tiny_backbone()  # noqa: F821


def test_fingerprint_holds_every_argument_of_train_except_the_run_options(data):
    import inspect

    from cnncourse.pneumonia import training

    parameters = set(inspect.signature(pn.train).parameters)
    assert set(training.RUN_OPTIONS) <= parameters  # no stale names
    arguments = _default_arguments(pn.list_images(data, "train"))
    fingerprint = training.fingerprint(arguments, _tiny_model(), "imagenet")
    expected = parameters - set(training.RUN_OPTIONS) | {"architecture", "weights_source"}
    assert set(fingerprint) == expected
    assert set(RESULT_SETTINGS) | {"train_files", "val_files"} <= set(fingerprint)
    json.dumps(fingerprint)  # stored as JSON


@pytest.mark.parametrize("name", [*RESULT_SETTINGS, "train_files", "weights_source"])
def test_a_changed_setting_clears_a_finished_run_and_says_which(name, data, tmp_path, capsys):
    from cnncourse.pneumonia import training

    files = pn.list_images(data, "train")
    model = _tiny_model()
    before = training.fingerprint(_default_arguments(files), model, "imagenet")
    run = training._RunFolder(tmp_path, before)
    run.save(complete=True)
    (tmp_path / "model.keras").write_text("a finished run")
    assert training._RunFolder(tmp_path, before).state["complete"]  # same settings: kept

    arguments = _default_arguments(files)
    if name == "train_files":
        arguments["train_files"] = files[1:-2]  # one image less
    elif name in RESULT_SETTINGS:
        arguments[name] = RESULT_SETTINGS[name]
    after = training.fingerprint(arguments, model, "random (ImageNet weights unavailable)"
                                 if name == "weights_source" else "imagenet")
    again = training._RunFolder(tmp_path, after)
    assert "complete" not in again.state and not (tmp_path / "model.keras").exists()
    assert f"({name}: " in again.note or f"; {name}: " in again.note
    assert again.note in capsys.readouterr().out


def test_changed_dropout_retrains_and_unchanged_settings_load(data, tmp_path):
    train_files, val_files = pn.list_images(data, "train"), pn.list_images(data, "test")

    def run(dropout):
        return pn.train(train_files, val_files, backbone=_tiny_model, image_size=32, batch_size=8,
                        epochs=1, fine_tune_epochs=0, dropout=dropout, run_dir=tmp_path / "run",
                        verbose=0)

    first = run(0.2)
    assert first.notes == []
    changed = run(0.5)
    assert changed.notes and "dropout: 0.2 -> 0.5" in changed.notes[0]
    assert "training anew" in changed.notes[0]
    assert not any("already complete" in n for n in changed.notes) and len(changed.history) == 1
    assert changed.model.get_layer("dropout").rate == 0.5
    same = run(0.5)
    assert "already complete" in same.notes[0] and "same settings" in same.notes[0]
    assert same.model.get_layer("dropout").rate == 0.5
