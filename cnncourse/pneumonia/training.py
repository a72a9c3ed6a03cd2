"""Train the pneumonia classifier: imbalance handling, two phases, checkpoints that survive a crash.

The lab notebook writes these steps out in its own cells; here each is one public function, so
that :func:`train` (the reference the batch job ``python -m cnncourse lab pneumonia`` and the
tests use) is the same recipe:

- **imbalance**: :func:`class_weights` ``n / (2 n_c)`` (each class contributes half of the loss)
  and the matching :func:`initial_bias` (the log-odds the weighted loss starts from), so the
  first epochs are not spent learning the class ratio;
- :func:`build_model`: the backbone with its own preprocessing, frozen and called with
  ``training=False``, under a pooling + dropout + sigmoid head that starts at the initial bias;
- :func:`compile_model`: Adam, binary cross-entropy and the metrics the lab reports;
- :func:`phase_callbacks`: the best checkpoint on validation ROC-AUC, early stopping, a CSV log
  and **BackupAndRestore**, so a run killed in the middle (a Colab disconnect) continues from its
  last finished epoch when started again with the same ``run_dir`` and settings (a changed
  setting trains anew and says which, see :func:`fingerprint`);
- :func:`fit_phase`: ``model.fit`` with the class weights; **phase 1** trains only the head;
- :func:`start_fine_tuning`: unfreeze the backbone's top layers (batch norm kept frozen) and
  recompile at a learning rate 100x lower; then **phase 2**.

:func:`train` adds what a batch job needs: **mixed precision** (float16 compute, float32 head)
and **XLA** when a GPU is present, a ``tf.distribute`` strategy chosen by :func:`pick_strategy`,
and a run folder that is resumed or loaded instead of trained again.
``backbone="baseline"`` trains a small CNN from scratch in one phase instead (the comparison the
lab needs: what does pretraining buy?).
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cnncourse import config
from cnncourse import validation as check
from cnncourse.pneumonia.defaults import FULL_DEFAULTS
from cnncourse.pneumonia.layout import labels_of


def class_weights(labels) -> dict[int, float]:
    """``{0: w0, 1: w1}`` with ``w_c = n / (2 n_c)``: both classes weigh the same in the loss.

    >>> class_weights([0, 1, 1, 1])
    {0: 2.0, 1: 0.6666666666666666}
    """
    y = np.asarray(labels).astype(int).ravel()
    if y.size == 0 or not set(np.unique(y)) <= {0, 1}:
        raise ValueError("labels must be a non-empty sequence of 0/1, got values "
                         f"{sorted(set(y.tolist()))[:5]}")
    counts = np.bincount(y, minlength=2)
    if counts.min() == 0:
        raise ValueError("both classes must be present to weight them, got counts "
                         f"{counts.tolist()}")
    return {c: float(len(y) / (2 * counts[c])) for c in (0, 1)}


def initial_bias(labels, weights: dict[int, float] | None = None) -> float:
    """Log-odds of the positive class as the loss sees it: ``log(w1 * n1 / (w0 * n0))``.

    Without class weights this is ``log(positives / negatives)`` (1.06 for the Kaggle training
    set); a sigmoid head starting there predicts the class ratio from the first step. With the
    balanced weights of :func:`class_weights` the weighted classes are even and it is 0.
    """
    y = np.asarray(labels).astype(int).ravel()
    n0, n1 = int((y == 0).sum()), int((y == 1).sum())
    if n0 == 0 or n1 == 0:
        raise ValueError(f"both classes must be present, got {n0} negatives and {n1} positives")
    w = weights or {0: 1.0, 1: 1.0}
    return float(np.log(w[1] * n1 / (w[0] * n0)))


def _tpu_strategy():
    import tensorflow as tf

    on_tpu_vm = bool(glob.glob("/dev/accel*") or glob.glob("/dev/vfio/[0-9]*"))
    if not (on_tpu_vm or os.environ.get("TPU_NAME") or os.environ.get("COLAB_TPU_ADDR")):
        return None  # asking a resolver elsewhere would wait for a metadata server
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
            tpu="local" if on_tpu_vm else None)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError):
        return None


def pick_strategy(devices=None):
    """The ``tf.distribute`` strategy for this machine.

    A TPU -> ``TPUStrategy``; several GPUs -> ``MirroredStrategy`` over them (one model copy per
    GPU, gradients averaged); otherwise the default strategy (one device). ``devices``: logical
    devices (or their names) to consider instead of the GPUs, e.g. two logical CPUs in a test.
    """
    import tensorflow as tf

    if devices is None:
        tpu = _tpu_strategy()
        if tpu is not None:
            return tpu
        devices = tf.config.list_logical_devices("GPU")
    names = [d if isinstance(d, str) else d.name for d in devices]
    if len(names) > 1:
        return tf.distribute.MirroredStrategy(names)
    return tf.distribute.get_strategy()


def describe_strategy(strategy) -> str:
    """E.g. ``MirroredStrategy over 2 devices`` or ``default strategy (1 device)``."""
    name = type(strategy).__name__
    replicas = strategy.num_replicas_in_sync
    if name.startswith("_Default"):
        return "default strategy (1 device)"
    return f"{name} over {replicas} device{'s' if replicas > 1 else ''}"


def baseline_cnn(image_size: int = 224, name: str = "baseline_cnn"):
    """A small CNN trained from scratch (about 50k parameters); takes [0, 255] pixels.

    Four blocks of 3x3 convolution, batch norm, ReLU and 2x2 max pooling (16, 32, 64, 64
    filters), global average pooling, dropout and one sigmoid unit: the from-scratch reference
    for transfer learning. Batch norm uses momentum 0.9 instead of Keras's 0.99: with a few
    hundred images an epoch has only a few steps, and the moving averages used at validation
    time would need dozens of epochs to settle at 0.99.
    """
    import keras
    from keras import layers

    inputs = keras.Input((image_size, image_size, 3), name="image")
    x = layers.Rescaling(1 / 255, name="rescale")(inputs)
    for block, filters in enumerate((16, 32, 64, 64), start=1):
        x = layers.Conv2D(filters, (3, 3), padding="same", use_bias=False,
                          name=f"block{block}_conv")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"block{block}_bn")(x)
        x = layers.ReLU(name=f"block{block}_relu")(x)
        x = layers.MaxPooling2D((2, 2), name=f"block{block}_pool")(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = layers.Dropout(0.3, name="dropout")(x)
    outputs = layers.Dense(1, activation="sigmoid", dtype="float32", name="head")(x)
    return keras.Model(inputs, outputs, name=name)


# ----------------------------------------------------------------------------- the lab's steps

def build_model(backbone, image_size: int, *, bias: float = 0.0, weights="imagenet-or-random",
                dropout: float = 0.2):
    """Phase 1's model, not compiled yet, and where its weights came from: ``(model, source)``.

    For a pretrained ``backbone`` (a name from ``cnncourse.transfer.BACKBONES``, your own
    ``keras.Model``, or a function that returns one) this is the lab's transfer model
    (``cnncourse.transfer.build_transfer_model``): [0, 255] pixels -> the backbone's own
    preprocessing -> the backbone, frozen and called with ``training=False`` -> global average
    pooling -> dropout -> one sigmoid unit whose bias starts at ``bias`` (:func:`initial_bias`).
    ``"baseline"`` gives :func:`baseline_cnn` with the same initial bias.
    """
    import keras

    from cnncourse import transfer

    if isinstance(backbone, str) and backbone == "baseline":
        model = baseline_cnn(image_size)
        model.get_layer("head").bias.assign([bias])
        return model, "trained from scratch"
    if callable(backbone) and not isinstance(backbone, (str, keras.Model)):
        backbone = backbone()
    return transfer.build_transfer_model(backbone, (image_size, image_size, 3), weights=weights,
                                         dropout=dropout, output_bias=bias, return_source=True)


def compile_model(model, learning_rate: float, jit_compile: bool = False) -> None:
    """Compile as both phases do: Adam at ``learning_rate``, binary cross-entropy, and the
    metrics the lab reports: accuracy, ROC-AUC (``auc``) and PR-AUC (``pr_auc``)."""
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="binary_crossentropy",
        metrics=[keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(name="auc"),
                 keras.metrics.AUC(curve="PR", name="pr_auc")],
        jit_compile=jit_compile,
    )


def phase_callbacks(phase_dir, patience: int, best_so_far: float | None = None,
                    extra=()) -> list:
    """The callbacks of one phase, writing into ``phase_dir``: the best weights on validation
    ROC-AUC (``best.weights.h5``; only epochs that beat ``best_so_far``, e.g. phase 1's best, are
    saved), early stopping after ``patience`` epochs without improvement, a CSV log, ``extra``
    callbacks, and ``BackupAndRestore`` (last: it records an epoch once the others have)."""
    import keras

    phase_dir = Path(phase_dir)
    return [
        keras.callbacks.ModelCheckpoint(str(phase_dir / "best.weights.h5"), monitor="val_auc",
                                        mode="max", save_best_only=True, save_weights_only=True,
                                        initial_value_threshold=best_so_far),
        keras.callbacks.EarlyStopping(monitor="val_auc", mode="max", patience=patience),
        keras.callbacks.CSVLogger(str(phase_dir / "history.csv"), append=True),
        *extra,
        keras.callbacks.BackupAndRestore(str(phase_dir / "backup")),
    ]


def fit_phase(model, train_ds, val_ds, epochs: int, class_weight, callbacks, verbose="auto"):
    """``model.fit`` for one phase, with the class weights; returns the History."""
    with warnings.catch_warnings():
        # The datasets skip unreadable files, so their length is only known after one pass;
        # Keras then says "Your input ran out of data" once. That is expected here.
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        return model.fit(train_ds, validation_data=val_ds, epochs=epochs, class_weight=class_weight,
                         callbacks=callbacks, verbose=verbose, shuffle=False)


def start_fine_tuning(model, n_layers: int, learning_rate: float, jit_compile: bool = False):
    """Phase 2's start: the top ``n_layers`` of the backbone become trainable (all of it when it
    has fewer), batch-norm layers stay frozen (``cnncourse.transfer.unfreeze_top``), and the
    model is recompiled at ``learning_rate`` (a changed ``trainable`` flag takes effect at the
    next ``compile``). Returns the model."""
    from cnncourse import transfer

    check.integer("n_layers", n_layers, minimum=0)
    transfer.unfreeze_top(model, min(n_layers, len(transfer.get_backbone(model).layers)))
    compile_model(model, learning_rate, jit_compile)
    return model


def trainable_parameters(model) -> int:
    """How many numbers the next ``fit`` will change."""
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


# ----------------------------------------------------------------------------- the batch job

@dataclass(kw_only=True)
class TrainResult:
    """What :func:`train` produced. ``history``: one row per epoch, both phases, column
    ``phase``."""

    model: object
    history: object  # pandas.DataFrame
    run_dir: Path
    best_val_auc: float
    weights_source: str
    strategy: str
    mixed_precision: bool
    jit_compile: bool
    seconds: float
    notes: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class _Hardware:
    """How :func:`train` uses the machine: the strategy and the GPU speed-ups."""

    strategy: object
    mixed_precision: bool
    jit_compile: bool

    @classmethod
    def choose(cls, strategy, mixed_precision: bool | None, jit_compile: bool | None):
        import tensorflow as tf

        gpus = bool(tf.config.list_physical_devices("GPU"))
        return cls(strategy=strategy or pick_strategy(),
                   mixed_precision=gpus if mixed_precision is None else bool(mixed_precision),
                   jit_compile=gpus if jit_compile is None else bool(jit_compile))

    def describe(self) -> str:
        def on(flag):
            return "on" if flag else "off"

        return (f"{describe_strategy(self.strategy)}, mixed precision "
                f"{on(self.mixed_precision)}, XLA {on(self.jit_compile)}")


def _read_history(csv_path: Path):
    """A phase's CSV log, one row per epoch (a repeated epoch, from a resumed run, keeps its last
    row)."""
    import pandas as pd

    if not csv_path.exists() or csv_path.stat().st_size == 0:
        return pd.DataFrame()
    table = pd.read_csv(csv_path)
    return table.drop_duplicates("epoch", keep="last").sort_values("epoch").reset_index(drop=True)


def _architecture(model) -> str:
    """The model's weights, in order, by kind and shape: equal for rebuilt copies of the same model
    (layer names Keras numbers automatically may differ), different when the weights would not
    fit."""
    weights = ";".join(f"{w.name}{tuple(w.shape)}" for w in model.weights)
    return hashlib.sha1(f"{tuple(model.inputs[0].shape)}|{weights}".encode()).hexdigest()


#: Arguments of :func:`train` that change how a run is carried out, not what it learns: where it
#: is stored, what is shown, the device strategy and the speed-ups chosen for the hardware at hand
#: (so a run started on a GPU can be resumed or loaded on another machine). Every other argument
#: is part of the run's fingerprint; a test checks that the two together are train's signature.
RUN_OPTIONS = ("run_dir", "verbose", "cache", "strategy", "mixed_precision", "jit_compile",
               "callbacks")
#: Arguments the from-scratch baseline does not use (one phase, its own dropout, no pretrained
#: weights).
_UNUSED_BY_BASELINE = ("fine_tune_epochs", "fine_tune_layers", "fine_tune_learning_rate", "dropout",
                       "weights")


def _describe_files(files) -> str:
    digest = hashlib.sha1("\n".join(str(f) for f in files).encode()).hexdigest()
    return f"{len(files)} files, sha1 {digest[:12]}"


def _describe_backbone(value) -> str:
    name = getattr(value, "name", None) or getattr(value, "__name__", type(value).__name__)
    return f"custom ({name})"


def fingerprint(arguments: dict, model, weights_source: str) -> dict:
    """What a run's result depends on, JSON-ready: every argument of :func:`train` except
    :data:`RUN_OPTIONS`, with the file lists reduced to their count and a hash, plus the model's
    architecture and where its weights came from. A run folder is resumed or loaded only when the
    stored fingerprint is equal; otherwise :func:`train` says which entries differ and trains anew.
    """
    is_baseline = isinstance(arguments["backbone"], str) and arguments["backbone"] == "baseline"
    settings = {}
    for name, value in arguments.items():
        if name in RUN_OPTIONS:
            continue
        if name in ("train_files", "val_files"):
            value = _describe_files(value)
        elif is_baseline and name in _UNUSED_BY_BASELINE:
            value = None
        elif name == "backbone" and not isinstance(value, str):
            value = _describe_backbone(value)
        elif name == "weights" and value is not None:
            value = str(value)
        settings[name] = value
    settings.update(architecture=_architecture(model), weights_source=weights_source)
    return json.loads(json.dumps(settings))  # as it will read back from train_state.json


def _differences(stored: dict, current: dict) -> list[str]:
    """``name: old -> new`` for every fingerprint entry that differs (new entries included)."""
    missing = "(not recorded)"
    return [f"{name}: {stored.get(name, missing)} -> {current.get(name, missing)}"
            for name in list(current) + [k for k in stored if k not in current]
            if stored.get(name, missing) != current.get(name, missing)]


def _load_weights(model, path: Path) -> None:
    with warnings.catch_warnings():  # the file also holds optimizer slots the fresh optimizer lacks
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        model.load_weights(str(path))


class _RunFolder:
    """``run_dir``: train_state.json, phase1/ and phase2/ (backup, best checkpoint, CSV log),
    model.keras.

    A folder whose state was written for other settings (see :func:`fingerprint`) is cleared, so
    only a run with the same settings is resumed; ``note`` says which settings differed.
    """

    def __init__(self, run_dir: Path, fingerprint: dict):
        self.dir = run_dir
        self.path = run_dir / "train_state.json"
        self.state = json.loads(self.path.read_text()) if self.path.exists() else {}
        self.note = None
        if self.state.get("fingerprint") != fingerprint:
            if self.state:
                changed = _differences(self.state.get("fingerprint", {}), fingerprint)
                self.note = (f"{run_dir} holds a run with other settings ({'; '.join(changed)}): "
                             "training anew there.")
                print(self.note)
            for old in ("phase1", "phase2", "model.keras", "history.csv"):
                target = run_dir / old
                if target.is_dir():
                    shutil.rmtree(target, ignore_errors=True)
                else:
                    target.unlink(missing_ok=True)
            self.state = {}
            self.save(fingerprint=fingerprint)

    def save(self, **values) -> None:
        self.state.update(values)
        self.path.write_text(json.dumps(self.state, indent=1))

    def phase_dir(self, phase: int) -> Path:
        folder = self.dir / f"phase{phase}"
        folder.mkdir(exist_ok=True)
        return folder

    def history(self):
        """Both phases' CSV logs as one table: epoch (1, 2, ... over both), phase, phase_epoch,
        metrics."""
        import pandas as pd

        frames = []
        for phase in (1, 2):
            table = _read_history(self.dir / f"phase{phase}" / "history.csv")
            if len(table):
                frames.append(table.rename(columns={"epoch": "phase_epoch"}).assign(phase=phase))
        history = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        if len(history):
            history.insert(0, "epoch", np.arange(1, len(history) + 1))
        return history


@dataclass(kw_only=True)
class _Phase:
    """What one phase of :func:`train` needs besides the model."""

    train_ds: object
    val_ds: object
    class_weight: dict | None
    patience: int
    verbose: object
    callbacks: tuple
    notes: list[str]


def _run_phase(model, phase_dir: Path, phase: _Phase, epochs: int, best_so_far, label: str):
    """One phase with resume: returns the phase's best validation ROC-AUC (or ``best_so_far``)."""
    metadata = phase_dir / "backup" / "training_metadata.json"
    if metadata.exists():
        done = json.loads(metadata.read_text())["epoch"]
        note = (f"{label}: resuming after epoch {done} of {epochs} (BackupAndRestore in "
                f"{phase_dir / 'backup'})")
        print(note)
        phase.notes.append(note)
        previous = _read_history(phase_dir / "history.csv")
        if len(previous):
            best_so_far = max(best_so_far or -np.inf, float(previous["val_auc"].max()))
    callbacks = phase_callbacks(phase_dir, phase.patience, best_so_far, phase.callbacks)
    fit_phase(model, phase.train_ds, phase.val_ds, epochs, phase.class_weight, callbacks,
              phase.verbose)
    history = _read_history(phase_dir / "history.csv")
    if (phase_dir / "best.weights.h5").exists():
        _load_weights(model, phase_dir / "best.weights.h5")
    return float(history["val_auc"].max()) if len(history) else best_so_far


def _check_arguments(train_files, val_files, backbone, epochs, fine_tune_epochs, patience,
                     resize) -> tuple[list[str], list[str]]:
    """The file lists as strings, after checking :func:`train`'s arguments."""
    from cnncourse.backbones import BACKBONES
    from cnncourse.pneumonia.pipeline import RESIZE_MODES

    train_files, val_files = [str(f) for f in train_files], [str(f) for f in val_files]
    if not train_files or not val_files:
        raise ValueError("need training and validation files, got "
                         f"{len(train_files)} and {len(val_files)}")
    check.integer("epochs", epochs)
    check.integer("fine_tune_epochs", fine_tune_epochs, minimum=0)
    check.integer("patience", patience)
    check.one_of("resize", resize, RESIZE_MODES)
    if isinstance(backbone, str) and backbone != "baseline" and backbone.lower() not in BACKBONES:
        raise ValueError(f"backbone must be 'baseline', one of {sorted(BACKBONES)} or a "
                         f"keras.Model, got {backbone!r}")
    return train_files, val_files


def _build_on(hardware: _Hardware, backbone, image_size: int, **options):
    """:func:`build_model` inside the strategy's scope, under mixed precision when chosen."""
    import keras

    previous_policy = keras.config.dtype_policy()
    with hardware.strategy.scope():
        if hardware.mixed_precision:
            keras.config.set_dtype_policy("mixed_float16")
        try:
            return build_model(backbone, image_size, **options)
        finally:
            keras.config.set_dtype_policy(previous_policy)


def _datasets(train_files, val_files, hardware: _Hardware, *, image_size, batch_size, augment,
              cache, resize, seed):
    """The training and validation pipelines, sharded by data over the strategy's replicas."""
    import tensorflow as tf

    from cnncourse.pneumonia.pipeline import make_dataset

    train_ds = make_dataset(train_files, image_size=image_size, batch_size=batch_size,
                            training=True, augment=augment, cache=cache, resize=resize, seed=seed)
    val_ds = make_dataset(val_files, image_size=image_size, batch_size=batch_size, cache=cache,
                          resize=resize)
    if hardware.strategy.num_replicas_in_sync > 1:
        options = tf.data.Options()
        shard = tf.data.experimental.AutoShardPolicy.DATA
        options.experimental_distribute.auto_shard_policy = shard
        train_ds, val_ds = train_ds.with_options(options), val_ds.with_options(options)
    return train_ds, val_ds


def _load_finished(run: _RunFolder, start: float) -> TrainResult:
    """The result of a finished run in the same folder with the same settings."""
    import keras

    note = (f"Training already complete in {run.dir} with the same settings: loading the saved "
            "model instead of training again.")
    print(note)
    s = run.state
    return TrainResult(model=keras.saving.load_model(run.dir / "model.keras"),
                       history=run.history(), run_dir=run.dir, best_val_auc=s["best_val_auc"],
                       weights_source=s["weights_source"], strategy=s["strategy"],
                       mixed_precision=s["mixed_precision"], jit_compile=s["jit_compile"],
                       seconds=time.perf_counter() - start, notes=[note])


def _phase_one(model, run: _RunFolder, phase: _Phase, epochs: int, label: str) -> float | None:
    """Phase 1 (or the baseline's only phase), or its best weights when a run already did it."""
    if run.state.get("phase1_done"):
        note = (f"Phase 1 already done in {run.dir} with the same settings: loading its best "
                "weights.")
        print(note)
        phase.notes.append(note)
        _load_weights(model, run.dir / "phase1" / "best.weights.h5")
        return run.state["phase1_best"]
    best = _run_phase(model, run.phase_dir(1), phase, epochs, None, label)
    run.save(phase1_done=True, phase1_best=best)
    return best


def _phase_two(model, run: _RunFolder, phase: _Phase, hardware: _Hardware, best: float | None, *,
               epochs: int, n_layers: int, learning_rate: float) -> float | None:
    """Phase 2: fine-tune the top of the backbone; keeps phase 1's weights unless it does better."""
    phase2 = run.phase_dir(2)
    with hardware.strategy.scope():
        before = trainable_parameters(model)
        start_fine_tuning(model, n_layers, learning_rate, hardware.jit_compile)
    print(f"Phase 2: fine-tuning the top {n_layers} backbone layers (batch norm kept frozen): "
          f"{trainable_parameters(model):,} trainable parameters instead of {before:,}, "
          f"learning rate {learning_rate:g}")
    best2 = _run_phase(model, phase2, phase, epochs, best, "Phase 2 (fine-tuning)")
    if not (phase2 / "best.weights.h5").exists():  # fine-tuning never beat phase 1: keep phase 1
        _load_weights(model, run.dir / "phase1" / "best.weights.h5")
    return max(best, best2 if best2 is not None else best)


def _finish(model, run: _RunFolder, *, best, source, hardware: _Hardware, start, notes):
    """Save the model and the history, mark the run complete, and say what it produced."""
    history = run.history()
    model.save(run.dir / "model.keras")
    history.to_csv(run.dir / "history.csv", index=False)
    strategy = describe_strategy(hardware.strategy)
    run.save(complete=True, best_val_auc=best, weights_source=source, strategy=strategy,
             mixed_precision=hardware.mixed_precision, jit_compile=hardware.jit_compile)
    return TrainResult(model=model, history=history, run_dir=run.dir, best_val_auc=best,
                       weights_source=source, strategy=strategy,
                       mixed_precision=hardware.mixed_precision, jit_compile=hardware.jit_compile,
                       seconds=time.perf_counter() - start, notes=notes)


def train(train_files, val_files, *, backbone=FULL_DEFAULTS["backbone"],
          image_size: int = FULL_DEFAULTS["image_size"],
          batch_size: int = FULL_DEFAULTS["batch_size"], epochs: int = FULL_DEFAULTS["epochs"],
          fine_tune_epochs: int = FULL_DEFAULTS["fine_tune_epochs"],
          fine_tune_layers: int = FULL_DEFAULTS["fine_tune_layers"],
          learning_rate: float = FULL_DEFAULTS["learning_rate"],
          fine_tune_learning_rate: float = FULL_DEFAULTS["fine_tune_learning_rate"],
          weights="imagenet-or-random", dropout: float = FULL_DEFAULTS["dropout"], run_dir=None,
          augment: bool = True, resize: str = "pad", use_class_weights: bool = True,
          patience: int = FULL_DEFAULTS["patience"], seed: int = 0, verbose="auto", cache=True,
          strategy=None, mixed_precision: bool | None = None, jit_compile: bool | None = None,
          callbacks=()) -> TrainResult:
    """Train on ``train_files``, select on ``val_files`` (validation ROC-AUC); see the module
    docstring.

    ``backbone``: a name from ``cnncourse.transfer.BACKBONES``, ``"baseline"``
    (:func:`baseline_cnn`, one phase), or your own backbone (frozen, then fine-tuned like a
    pretrained one): a function that returns a ``keras.Model`` (called inside the distribution
    strategy's scope), or the model itself (then create it inside ``strategy.scope()`` when you
    pass a multi-device strategy). ``resize``: ``"pad"`` or ``"crop"`` (see
    ``cnncourse.pneumonia.pipeline``; evaluate with the same). ``run_dir``: where checkpoints,
    backups and logs go (default ``<cache>/runs/pneumonia``); start again with the same
    ``run_dir`` and settings to resume a killed run; a finished run is loaded instead of
    retrained. Any change of a setting that changes the result (every argument but
    :data:`RUN_OPTIONS`, see :func:`fingerprint`) trains anew, saying which settings differ.
    ``mixed_precision`` / ``jit_compile``: None means "when a GPU is present". ``strategy``: None
    picks one with :func:`pick_strategy`. ``callbacks``: more Keras callbacks for both phases
    (e.g. TensorBoard).
    """
    arguments = dict(locals())  # every argument, before anything else is defined: see fingerprint()
    start = time.perf_counter()
    train_files, val_files = _check_arguments(train_files, val_files, backbone, epochs,
                                              fine_tune_epochs, patience, resize)
    arguments.update(train_files=train_files, val_files=val_files)
    is_baseline = isinstance(backbone, str) and backbone == "baseline"
    run_dir = Path(run_dir) if run_dir is not None else config.cache_dir() / "runs" / "pneumonia"
    run_dir.mkdir(parents=True, exist_ok=True)
    hardware = _Hardware.choose(strategy, mixed_precision, jit_compile)
    y_train = labels_of(train_files)
    weights_for_classes = class_weights(y_train) if use_class_weights else None
    bias = initial_bias(y_train, weights_for_classes)
    config.seed_everything(seed)
    model, source = _build_on(hardware, backbone, image_size, bias=bias, weights=weights,
                              dropout=dropout)
    with hardware.strategy.scope():
        compile_model(model, learning_rate, hardware.jit_compile)

    run = _RunFolder(run_dir, fingerprint(arguments, model, source))
    if run.state.get("complete") and (run_dir / "model.keras").exists():
        return _load_finished(run, start)
    train_ds, val_ds = _datasets(train_files, val_files, hardware, image_size=image_size,
                                 batch_size=batch_size, augment=augment, cache=cache,
                                 resize=resize, seed=seed)
    shown = {k: round(v, 3) for k, v in (weights_for_classes or {}).items()} or "off"
    print(f"Training {model.name} ({source}) on {len(train_files)} images, validating on "
          f"{len(val_files)}; class weights {shown}, initial bias {bias:.3f}; "
          f"{hardware.describe()}")
    phase = _Phase(train_ds=train_ds, val_ds=val_ds, class_weight=weights_for_classes,
                   patience=patience, verbose=verbose, callbacks=tuple(callbacks),
                   notes=[run.note] if run.note else [])
    best = _phase_one(model, run, phase, epochs, "Baseline" if is_baseline else "Phase 1 (head)")
    if not is_baseline and fine_tune_epochs > 0:
        best = _phase_two(model, run, phase, hardware, best, epochs=fine_tune_epochs,
                          n_layers=fine_tune_layers, learning_rate=fine_tune_learning_rate)
    return _finish(model, run, best=best, source=source, hardware=hardware, start=start,
                   notes=phase.notes)
