"""Callbacks the notebooks share, so that every ``model.fit`` stops and saves the same way.

The notebooks keep ``model.compile(...)`` and ``model.fit(...)`` in plain sight (they are the
lesson); this module only removes the repetition around them::

    history = model.fit(x, y, epochs=20, validation_split=0.1,
                        callbacks=callbacks.standard_callbacks(patience=3))

``standard_callbacks`` stops when the validation loss has not improved for ``patience`` epochs
and puts back the weights of the best epoch, so the model evaluated afterwards is the best one
seen, not the last one. With ``checkpoint="best.keras"`` it also saves that best model to disk.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import keras

from cnncourse import validation as check

__all__ = ["early_stopping", "best_checkpoint", "standard_callbacks", "best_epoch"]


def early_stopping(patience: int = 3, monitor: str = "val_loss") -> keras.callbacks.EarlyStopping:
    """Stop when ``monitor`` has not improved for ``patience`` epochs; restore the best weights.

    ``restore_best_weights=True`` matters: without it the model keeps the weights of the last
    epoch, which are ``patience`` epochs past the best one. Keras 3 puts the best weights back
    at the end of training whether it stopped early or ran every epoch
    (``EarlyStopping.on_train_end``).
    """
    if not isinstance(monitor, str) or not monitor:
        raise ValueError(f"monitor must be a metric name such as 'val_loss', got {monitor!r}")
    return keras.callbacks.EarlyStopping(
        monitor=monitor, patience=check.integer("patience (epochs)", patience, minimum=0),
        restore_best_weights=True, verbose=0,
    )


def best_checkpoint(path, monitor: str = "val_loss") -> keras.callbacks.ModelCheckpoint:
    """Save the model to ``path`` whenever ``monitor`` improves (``.keras`` file, or
    ``.weights.h5`` for the weights only). The folder is created if needed."""
    path = Path(path)
    if path.name.endswith(".weights.h5"):
        weights_only = True
    elif path.suffix == ".keras":
        weights_only = False
    else:
        raise ValueError("checkpoint path must end in .keras (whole model) or .weights.h5 "
                         f"(weights), got {str(path)!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    return keras.callbacks.ModelCheckpoint(
        str(path), monitor=monitor, save_best_only=True, save_weights_only=weights_only, verbose=0
    )


def standard_callbacks(patience: int = 3, checkpoint=None, monitor: str = "val_loss") -> list:
    """The course's default callbacks: early stopping on the validation loss with the best
    weights restored, plus a checkpoint of the best model when ``checkpoint`` is a path.

    ``model.fit`` needs validation data (``validation_split`` or ``validation_data``) for them.
    """
    callbacks = [early_stopping(patience=patience, monitor=monitor)]
    if checkpoint is not None:
        callbacks.append(best_checkpoint(checkpoint, monitor=monitor))
    return callbacks


def best_epoch(history, monitor: str = "val_loss") -> int:
    """The epoch (counted from 1) with the best ``monitor`` value: the one early stopping restores.

    ``history`` is a keras History or its ``.history`` dict. Losses are minimised, anything
    else (accuracy, AUC ...) maximised.
    """
    values = history.history if hasattr(history, "history") else history
    if not isinstance(values, Mapping) or monitor not in values:
        held = sorted(values) if isinstance(values, Mapping) else type(history).__name__
        raise ValueError(f"history has no {monitor!r} (it holds {held}); "
                         "did fit get validation data?")
    series = list(values[monitor])
    if not series:
        raise ValueError(f"history[{monitor!r}] is empty")
    pick = min if "loss" in monitor else max
    return series.index(pick(series)) + 1
