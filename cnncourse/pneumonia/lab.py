"""The whole lab as a batch job: ``python -m cnncourse lab pneumonia``.

data (Kaggle, or labelled demo X-rays with ``--demo``) -> audit -> patient-grouped split ->
two-phase training -> threshold on validation -> test metrics -> figures, all written to a run
folder::

    model.keras     the trained model (best validation ROC-AUC)
    config.json     settings, data source, versions, device, strategy, timings
    history.csv     one row per epoch, both phases
    metrics.json    threshold and rule, validation and test metrics (with the data label)
    audit.csv       one row per image file: split, class, patient, size, mode, readable
    history.html, roc.html, pr.html, confusion.html
                    (plotly; plotly.min.js alongside, works offline)
    gradcam.png     Grad-CAM for true positives, false positives, false negatives

Run it again with the same ``--out`` to resume an interrupted run.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

from cnncourse import config
from cnncourse.pneumonia.defaults import FULL_DEFAULTS, lab_default

FAST_DEMO = {"n_per_class": {"NORMAL": 30, "PNEUMONIA": 87}, "size_range": (256, 400),
             "defects": True}


def _write_figure(fig, path: Path) -> None:
    fig.write_html(path, include_plotlyjs="directory")  # plotly.min.js once, next to the pages


def _write_results(out: Path, result, evaluation, backbone: str, synthetic: bool) -> None:
    """metrics.json and the figures of the run folder."""
    from cnncourse import plots
    from cnncourse.pneumonia.figures import evaluation_figures, gradcam_examples

    label = evaluation.data_label
    metrics = {"synthetic_data": synthetic, "weights": result.weights_source,
               **evaluation.to_dict()}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    _write_figure(plots.plot_history(result.history, metrics=("loss", "auc"),
                                     title=f"Training history ({label})"), out / "history.html")
    for name, fig in evaluation_figures(evaluation, backbone).items():
        _write_figure(fig, out / f"{name}.html")
    gradcam_examples(result.model, evaluation).savefig(out / "gradcam.png", dpi=100)


def _versions() -> dict:
    """Python, TensorFlow and Keras versions and the GPUs, for config.json."""
    import keras
    import tensorflow as tf

    return {"python": platform.python_version(), "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "gpus": [d.name for d in tf.config.list_physical_devices("GPU")]}


def run_lab(data_dir=None, out=None, *, backbone: str = FULL_DEFAULTS["backbone"],
            image_size: int | None = None, epochs: int | None = None,
            fine_tune_epochs: int | None = None, batch_size: int = FULL_DEFAULTS["batch_size"],
            demo: bool = False, fine_tune_layers: int = FULL_DEFAULTS["fine_tune_layers"],
            target_sensitivity: float = 0.95, seed: int = 0) -> Path:
    """Run the lab end to end and return the run folder (see the module docstring).

    ``demo=True`` falls back to synthetic demo X-rays when the real data cannot be had; without
    it, missing data or credentials raise ``DataUnavailable``. Epochs and image size left at None
    come from :data:`~cnncourse.pneumonia.defaults.LAB_DEFAULTS` for the current mode (full:
    6 + 10 epochs at 224 px; fast, ``CNNCOURSE_FAST=1``: 1 + 1 epochs at 96 px).
    """
    from cnncourse.pneumonia.auditing import audit
    from cnncourse.pneumonia.evaluation import evaluate
    from cnncourse.pneumonia.getdata import find_data
    from cnncourse.pneumonia.layout import list_images
    from cnncourse.pneumonia.split import split_train_val
    from cnncourse.pneumonia.training import train

    start = time.perf_counter()
    given = {"epochs": epochs, "fine_tune_epochs": fine_tune_epochs, "image_size": image_size}
    settings = {k: v if v is not None else lab_default(k) for k, v in given.items()}
    data_path, data_label = find_data(data_dir, demo=None if demo else False,
                                      demo_options=FAST_DEMO if config.fast_mode() else None)
    synthetic = "SYNTHETIC" in data_label
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = Path(out) if out is not None else Path("runs") / f"pneumonia-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    print(f"Run folder: {out} (run again with --out {out} to resume if interrupted)")
    print(f"Data: {data_label} in {data_path}; {config.mode_name()} mode")

    report = audit(data_path, progress=True)
    print(report.summary())
    report.files.to_csv(out / "audit.csv", index=False)
    train_files, val_files = split_train_val(data_path, val_fraction=0.15, seed=seed,
                                             exclude=report.unreadable)
    test_files = list_images(data_path, "test")
    unused = len(list_images(data_path, "val"))
    print(f"Split: {len(train_files)} training / {len(val_files)} validation images "
          f"(grouped by patient), {len(test_files)} test images (used once, at the end); "
          f"the {unused}-image val/ folder is not used for selection.")

    result = train(train_files, val_files, backbone=backbone, image_size=settings["image_size"],
                   batch_size=batch_size, epochs=settings["epochs"],
                   fine_tune_epochs=settings["fine_tune_epochs"],
                   fine_tune_layers=fine_tune_layers, run_dir=out, seed=seed)
    evaluation = evaluate(result.model, val_files, test_files,
                          target_sensitivity=target_sensitivity,
                          batch_size=batch_size, seed=seed, data_label=data_label)
    print(evaluation.summary())

    _write_results(out, result, evaluation, backbone, synthetic)

    run_config = {
        "lab": "pneumonia", "data": data_label, "synthetic_data": synthetic,
        "data_dir": str(data_path),
        "mode": config.mode_name(), "backbone": backbone, "batch_size": batch_size, **settings,
        "fine_tune_layers": fine_tune_layers, "target_sensitivity": target_sensitivity,
        "seed": seed,
        "weights": result.weights_source, "strategy": result.strategy,
        "mixed_precision": result.mixed_precision,
        "xla": result.jit_compile, "train_images": len(train_files), "val_images": len(val_files),
        "test_images": len(test_files), "unreadable_files": [str(p) for p in report.unreadable],
        **_versions(), "training_seconds": round(result.seconds, 1),
        "total_seconds": round(time.perf_counter() - start, 1),
        "resumed": result.notes,
    }
    (out / "config.json").write_text(json.dumps(run_config, indent=1))
    label = " - SYNTHETIC demo data, not a medical result" if synthetic else ""
    print(f"Done in {run_config['total_seconds']:.0f} s{label}. Results in {out}/")
    return out


def lab_command(args) -> int:
    """``python -m cnncourse lab pneumonia``: exit code 0, or 2 with what to do when data is
    missing."""
    from cnncourse.pneumonia.getdata import DataUnavailable

    try:
        run_lab(args.data_dir, args.out, backbone=args.backbone, image_size=args.image_size,
                epochs=args.epochs, fine_tune_epochs=args.fine_tune_epochs,
                batch_size=args.batch_size, demo=args.demo)
    except DataUnavailable as exc:
        print(f"{exc}\nOr run the lab on synthetic demo X-rays: "
              "python -m cnncourse lab pneumonia --demo",
              file=sys.stderr)
        return 2
    return 0
