"""The lab's default settings, in one table: read by :func:`~cnncourse.pneumonia.run_lab`,
:func:`~cnncourse.pneumonia.train`, the CLI's ``lab`` help and the lab notebook's settings cell.

A pair is ``(full, fast)``: the value for a real run and the one for fast mode
(``CNNCOURSE_FAST=1``, the automatic tests); :func:`lab_default` picks by the current mode.
No TensorFlow import, so the CLI can show the defaults in its help at once.

Where the package used to disagree with itself (``fine_tune_layers`` 30 in ``train`` and 50 in
``run_lab`` and the notebook; 5 + 5 epochs in ``train``, 6 + 10 in the lab) the table keeps the
lab's values, the ones the notebook and the batch job were run and described with: 50 layers is
the top of MobileNetV2 (154 layers) from its last four inverted-residual blocks on, close to
TensorFlow's own fine-tuning tutorial (everything above layer 100); 6 + 10 epochs, with early
stopping, lets the fine-tuning phase find its best epoch.
"""

from __future__ import annotations

from cnncourse import config

__all__ = ["LAB_DEFAULTS", "FULL_DEFAULTS", "lab_default"]

LAB_DEFAULTS: dict[str, object] = {
    "backbone": "mobilenetv2",
    "image_size": (224, 96),
    "batch_size": 32,
    "baseline_epochs": (15, 4),  # the notebook's small CNN trained from scratch
    "epochs": (6, 1),  # phase 1: the new head on the frozen backbone
    "fine_tune_epochs": (10, 1),  # phase 2: the top layers of the backbone too
    "fine_tune_layers": 50,
    "learning_rate": 1e-3,  # phase 1: Adam's default, for a freshly initialised head
    "fine_tune_learning_rate": 1e-5,  # phase 2: 100x lower, pretrained weights change little
    "dropout": 0.2,  # before the head
    "patience": 3,  # early stopping: epochs without a better validation ROC-AUC
}


#: The full-mode values, for function signatures (fixed when the module is imported).
FULL_DEFAULTS: dict[str, object] = {
    name: value[0] if isinstance(value, tuple) else value for name, value in LAB_DEFAULTS.items()
}


def lab_default(name: str):
    """The default of setting ``name`` in the current mode (full or fast)."""
    if name not in LAB_DEFAULTS:
        raise KeyError(f"no lab default named {name!r}; the table has {sorted(LAB_DEFAULTS)}")
    value = LAB_DEFAULTS[name]
    return config.pick(*value) if isinstance(value, tuple) else value
