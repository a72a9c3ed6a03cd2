"""Figures of an evaluation: ROC, precision-recall and confusion matrix (plotly), and Grad-CAM
examples (matplotlib). The numbers come from :mod:`cnncourse.pneumonia.evaluation`; this module
only draws them, from the predictions and decoded test images the evaluation already holds.
"""

from __future__ import annotations

import numpy as np

from cnncourse.pneumonia.evaluation import Evaluation

__all__ = ["evaluation_figures", "gradcam_examples"]


def evaluation_figures(evaluation: Evaluation, name: str = "model") -> dict:
    """plotly figures: ``roc``, ``pr`` (with the operating point) and ``confusion``, titled with
    the data they were measured on. ``name``: the model's name in the legends."""
    from cnncourse import plots

    e = evaluation
    suffix = f" - {e.data_label}" if e.data_label else ""
    predicted = (e.p_test >= e.threshold).astype(int)
    return {
        "roc": plots.plot_roc(e.y_test, {name: e.p_test}, e.threshold,
                              title=f"ROC, test set{suffix}"),
        "pr": plots.plot_pr_curve(e.y_test, {name: e.p_test}, e.threshold,
                                  title=f"Precision-recall, test set{suffix}"),
        "confusion": plots.plot_confusion_matrix(
            e.y_test, predicted, ["NORMAL", "PNEUMONIA"],
            title=f"Confusion matrix at threshold {e.threshold:.3f}{suffix}"),
    }


def _cases(evaluation: Evaluation, n: int) -> dict[str, np.ndarray]:
    """Up to ``n`` test indices per kind of decision, the most confident first."""
    y, p, threshold = evaluation.y_test, evaluation.p_test, evaluation.threshold
    predicted = p >= threshold
    kinds = {
        "true positive": np.flatnonzero(predicted & (y == 1)),
        "false positive": np.flatnonzero(predicted & (y == 0)),
        "false negative": np.flatnonzero(~predicted & (y == 1)),
    }
    return {kind: idx[np.argsort(-np.abs(p[idx] - threshold))][:n] for kind, idx in kinds.items()}


def _images(model, evaluation: Evaluation) -> np.ndarray:
    """The decoded test images as the model takes them: float32 (n, H, W, 3) in [0, 255]."""
    if evaluation.test_images is None:
        raise ValueError("this evaluation holds no test images: make it with pn.evaluate")
    images = evaluation.test_images.astype("float32")
    return np.repeat(images, int(model.inputs[0].shape[-1]), axis=-1)


def gradcam_examples(model, evaluation: Evaluation, n: int = 3, layer_name: str | None = None,
                     size: float = 2.2):
    """Grad-CAM overlays for up to ``n`` true positives, false positives and false negatives.

    One row per kind, the most confident cases first; each title gives the probability of
    PNEUMONIA. The heatmaps show the evidence for PNEUMONIA (class 1) in every row, so a false
    negative shows what little the model found. Uses :func:`cnncourse.explain.grad_cam` (the
    last feature map by default) on the images :func:`~cnncourse.pneumonia.evaluate` decoded.
    Returns a matplotlib figure; ``fig.cases`` lists ``(kind, file, probability)``.
    """
    import matplotlib.pyplot as plt

    from cnncourse import explain

    p, files = evaluation.p_test, evaluation.test_files
    chosen = _cases(evaluation, n)
    images = _images(model, evaluation)
    shown = [kind for kind, idx in chosen.items() if len(idx)]
    rows = max(len(shown), 1)
    fig, axes = plt.subplots(rows, n, figsize=(size * n, size * 1.1 * rows + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    cases = []
    for row, kind in enumerate(shown):
        for col, i in enumerate(chosen[kind]):
            heatmap = explain.grad_cam(model, images[i], layer_name=layer_name, class_index=1)
            axes[row, col].imshow(explain.overlay_heatmap(images[i], heatmap))
            axes[row, col].set_title(f"{kind}\np={p[i]:.2f} {files[i].name[:18]}", fontsize=8)
            cases.append((kind, files[i], float(p[i])))
    missing = [kind for kind in chosen if kind not in shown]
    label = f" - {evaluation.data_label}" if evaluation.data_label else ""
    note = f"\n(no {' or '.join(missing)}s on the test set)" if missing else ""
    fig.suptitle(f"Grad-CAM evidence for PNEUMONIA (threshold {evaluation.threshold:.2f})"
                 f"{label}{note}", fontsize=10)
    fig.tight_layout()
    fig.cases = cases
    plt.close(fig)
    return fig
