"""Lab 3: diagnosing pneumonia from chest X-rays (Kermany et al. 2018).

One submodule per step of the lab, all names importable from here:

- ``getdata``: Kaggle credentials and download (:func:`download`), :func:`find_data` (real data,
  or labelled synthetic demo data); ``extract``: :func:`safe_extract`
- ``auditing``: :func:`audit` - counts, image modes and sizes, unreadable files, duplicates,
  patients
- ``layout``: :func:`patient_id`, :func:`list_images`, :func:`label_of` for the Kaggle layout
- ``split``: :func:`split_train_val` - stratified by class, grouped by patient
- ``pipeline``: :func:`make_dataset` - tf.data from files, cached, augmented
- ``training``: the lab's steps (:func:`build_model`, :func:`compile_model`,
  :func:`phase_callbacks`, :func:`fit_phase`, :func:`start_fine_tuning`) and :func:`train`, which
  composes them - class weights, two phases, checkpoints, resume, strategies
- ``evaluation``: :func:`evaluate` - threshold on validation, test metrics with intervals
- ``figures``: :func:`evaluation_figures` (ROC, PR, confusion), :func:`gradcam_examples`
- ``demo``: :func:`make_demo_xrays` - synthetic X-rays for runs without the real data
- ``lab``: :func:`run_lab`, :func:`lab_command` - the whole lab as a batch job
- ``defaults``: :data:`LAB_DEFAULTS`, :func:`lab_default` - the one table of the lab's settings

Submodules load on first use, so ``import cnncourse.pneumonia`` does not import TensorFlow.
(Modules are named for the step, functions for the action, so ``pneumonia.train`` is always the
function, never the module.)
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "getdata": ["DATASET", "DataUnavailable", "download", "find_data", "verify_dataset"],
    "extract": ["safe_extract", "UnsafeArchiveError"],
    "layout": ["CLASSES", "SPLITS", "KAGGLE_COUNTS", "patient_id", "label_of", "labels_of",
               "list_images"],
    "auditing": ["audit", "AuditReport"],
    "split": ["split_train_val", "patients_in_both"],
    "pipeline": ["make_dataset", "xray_augmentation", "decode_and_resize"],
    "demo": ["make_demo_xrays", "is_demo", "DEMO_LABEL"],
    "training": ["train", "TrainResult", "class_weights", "initial_bias", "pick_strategy",
                 "baseline_cnn", "build_model", "compile_model", "phase_callbacks", "fit_phase",
                 "start_fine_tuning", "trainable_parameters"],
    "evaluation": ["evaluate", "Evaluation", "binary_metrics", "choose_threshold", "roc_curve",
                   "roc_auc",
                 "average_precision", "bootstrap_ci"],
    "figures": ["evaluation_figures", "gradcam_examples"],
    "lab": ["run_lab", "lab_command"],
    "defaults": ["LAB_DEFAULTS", "lab_default"],
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
