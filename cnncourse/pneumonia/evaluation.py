"""Honest evaluation: fix the decision threshold on validation, then look at the test set once.

The threshold-dependent metrics are written out in NumPy (so you can read how each is computed);
the ROC curve, ROC-AUC and average precision are scikit-learn's, the one implementation the
package uses (the figures in :mod:`cnncourse.pneumonia.figures` and :mod:`cnncourse.plots` too).
With PNEUMONIA as the positive class:

- sensitivity (recall) = TP / (TP + FN): the share of pneumonia cases found;
- specificity = TN / (TN + FP): the share of normal X-rays called normal;
- precision (positive predictive value) = TP / (TP + FP); F1 = their harmonic mean with recall;
- ROC-AUC: the probability that a random pneumonia image scores higher than a random normal one
  (independent of any threshold), with a bootstrap 95% interval, because 624 test images leave
  real uncertainty; PR-AUC (average precision), which, unlike ROC-AUC, depends on prevalence.

:func:`choose_threshold` picks the threshold on the **validation** images by a rule stated in
advance: by default the highest threshold that still finds at least 95% of the pneumonia cases
(missing a pneumonia is worse than a false alarm that a radiologist then rules out), placed
halfway to the next lower validation score. Choosing the
threshold, or the checkpoint, on the test set (as Kermany et al. did) makes test numbers optimistic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cnncourse import validation as check

THRESHOLD_RULES = ("sensitivity", "youden")


def _binary_inputs(y_true, y_prob) -> tuple[np.ndarray, np.ndarray]:
    y = check.binary_labels("y_true", y_true)
    p = check.numeric_array("y_prob", y_prob).astype(float).ravel()
    if y.shape != p.shape:
        raise ValueError(f"y_true and y_prob must be of equal length, got {y.shape} and {p.shape}")
    if np.isnan(p).any():
        raise ValueError("y_prob contains NaN: the model diverged or the inputs were broken")
    return y, p


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den else 0.0


def binary_metrics(y_true, y_prob, threshold: float = 0.5) -> dict:
    """Accuracy, sensitivity, specificity, precision, F1 and the counts, predicting 1 when
    p >= threshold.

    ``confusion`` is ``[[TN, FP], [FN, TP]]`` (rows: true NORMAL, PNEUMONIA), like scikit-learn's.
    A ratio with a zero denominator is reported as 0.
    """
    y, p = _binary_inputs(y_true, y_prob)
    predicted = (p >= threshold).astype(int)
    tp = int(((predicted == 1) & (y == 1)).sum())
    tn = int(((predicted == 0) & (y == 0)).sum())
    fp = int(((predicted == 1) & (y == 0)).sum())
    fn = int(((predicted == 0) & (y == 1)).sum())
    sensitivity, precision = _ratio(tp, tp + fn), _ratio(tp, tp + fp)
    return {
        "threshold": float(threshold), "n": int(y.size), "accuracy": _ratio(tp + tn, y.size),
        "sensitivity": sensitivity, "specificity": _ratio(tn, tn + fp), "precision": precision,
        "f1": _ratio(2 * precision * sensitivity, precision + sensitivity),
        "tp": tp, "fp": fp, "tn": tn, "fn": fn, "confusion": [[tn, fp], [fn, tp]],
    }


def roc_curve(y_true, y_prob) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(fpr, tpr, thresholds)`` at every distinct score, highest threshold first (starting at
    +inf)."""
    from sklearn import metrics

    y, p = _binary_inputs(y_true, y_prob)
    fpr, tpr, thresholds = metrics.roc_curve(y, p, drop_intermediate=False)
    thresholds[0] = np.inf  # scikit-learn < 1.3 starts at max(score) + 1
    return fpr, tpr, thresholds


def roc_auc(y_true, y_prob) -> float:
    """Area under the ROC curve = P(score of a random positive > score of a random negative),
    ties 1/2."""
    from sklearn import metrics

    y, p = _binary_inputs(y_true, y_prob)
    n1, n0 = int(y.sum()), int((1 - y).sum())
    if n1 == 0 or n0 == 0:
        raise ValueError(f"ROC-AUC needs both classes, got {n1} positives and {n0} negatives")
    return float(metrics.roc_auc_score(y, p))


def average_precision(y_true, y_prob) -> float:
    """PR-AUC as average precision: sum over thresholds of (recall gained) x (precision there)."""
    from sklearn import metrics

    y, p = _binary_inputs(y_true, y_prob)
    if y.sum() == 0:
        raise ValueError("average precision needs at least one positive example")
    return float(metrics.average_precision_score(y, p))


def bootstrap_ci(y_true, y_prob, metric=roc_auc, n_resamples: int = 1000, level: float = 0.95,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of ``metric(y, p)``: resample the test images with replacement.

    Resamples that miss a class are drawn again. Says how much the number would move with
    another test set of the same size from the same hospital, not with another hospital.
    """
    y, p = _binary_inputs(y_true, y_prob)
    check.number("level", level, 0, 1, "()")
    if len(np.unique(y)) < 2:
        raise ValueError("a bootstrap interval of this metric needs both classes in y_true")
    rng = np.random.default_rng(seed)
    values = []
    while len(values) < n_resamples:
        idx = rng.integers(0, y.size, y.size)
        if 0 < y[idx].sum() < y.size:
            values.append(metric(y[idx], p[idx]))
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def choose_threshold(y_val, p_val, rule: str = "sensitivity",
                     target: float = 0.95) -> tuple[float, str]:
    """``(threshold, rule in words)`` chosen on validation predictions (predict 1 when
    p >= threshold).

    ``"sensitivity"``: the most specific operating point whose validation sensitivity is at least
    ``target``. ``"youden"``: the operating point maximising sensitivity + specificity - 1.
    Every threshold between the validation score that defines the operating point and the next
    lower score gives the same validation predictions; the midpoint of that gap is returned, so
    that the threshold does not sit right on one validation image (which would make the first
    similar test image fall on either side by chance).
    """
    y, p = _binary_inputs(y_val, p_val)
    check.one_of("rule", rule, THRESHOLD_RULES)
    check.number("target", target, 0, 1, "(]")
    fpr, tpr, thresholds = roc_curve(y, p)
    fpr, tpr, thresholds = fpr[1:], tpr[1:], thresholds[1:]  # drop the +inf start
    if rule == "sensitivity":
        # thresholds fall, sensitivity rises: the first that reaches it
        index = int(np.argmax(tpr >= target - 1e-12))
        text = (f"most specific threshold with validation sensitivity >= {target:.0%} "
                f"(reached {tpr[index]:.1%}, specificity {1 - fpr[index]:.1%})")
    else:
        index = int(np.argmax(tpr - fpr))
        text = (f"maximum of Youden's J = sensitivity + specificity - 1 on validation "
                f"({tpr[index] - fpr[index]:.3f})")
    lower = thresholds[index + 1] if index + 1 < len(thresholds) else thresholds[index] - 1e-3
    return float((thresholds[index] + lower) / 2), text


def predict_files(model, files, image_size: int | None = None, batch_size: int = 32,
                  resize: str = "pad", keep_images: bool = False):
    """``(probabilities, labels, kept_files)`` for image files; unreadable files are left out.
    ``resize``: as in training (``"pad"`` or ``"crop"``). ``keep_images=True`` adds a fourth
    item, the decoded images as uint8 ``(n, size, size, 1)`` (the X-rays are gray), so that
    figures need not decode them again."""
    from cnncourse.pneumonia.pipeline import make_dataset

    size = image_size or int(model.inputs[0].shape[1])
    probs, labels, kept, images = [], [], [], []
    for x, y, f in make_dataset(files, image_size=size, batch_size=batch_size, resize=resize,
                                cache=False, include_paths=True):
        probs.append(np.asarray(model(x, training=False), dtype=float).reshape(-1))
        labels.append(y.numpy().astype(int))
        kept.extend(Path(v.decode()) for v in f.numpy())
        if keep_images:
            images.append(np.asarray(x[..., :1]).astype(np.uint8))
    result = np.concatenate(probs), np.concatenate(labels), kept
    return (*result, np.concatenate(images)) if keep_images else result


@dataclass
class Evaluation:
    """The threshold chosen on validation and the test results at it."""

    threshold: float
    rule: str
    val: dict
    test: dict
    y_val: np.ndarray
    p_val: np.ndarray
    y_test: np.ndarray
    p_test: np.ndarray
    test_files: list[Path]
    data_label: str = ""
    skipped_files: list[Path] = field(default_factory=list)
    resize: str = "pad"
    test_images: np.ndarray | None = field(default=None, repr=False)  # uint8 (n, H, W, 1)

    def to_dict(self) -> dict:
        """JSON-ready: threshold, rule, data label, validation and test metrics."""
        return {"data": self.data_label, "threshold": self.threshold, "threshold_rule": self.rule,
                "validation": self.val, "test": self.test,
                "skipped_unreadable_files": [str(p) for p in self.skipped_files]}

    def table(self):
        """Test metrics as a one-column table, labelled with the data they were measured on."""
        import pandas as pd

        keys = ["accuracy", "sensitivity", "specificity", "precision", "f1", "roc_auc", "pr_auc"]
        rows = {k: self.test[k] for k in keys}
        low, high = self.test["roc_auc_ci95"]
        rows["roc_auc 95% CI"] = f"{low:.3f}-{high:.3f}"
        column = f"test ({self.data_label})" if self.data_label else "test"
        return pd.DataFrame({column: rows})

    def summary(self) -> str:
        t = self.test
        low, high = t["roc_auc_ci95"]
        label = f" [{self.data_label}]" if self.data_label else ""
        return (f"Test set{label}, n={t['n']}, threshold {self.threshold:.3f} ({self.rule}):\n"
                f"  accuracy {t['accuracy']:.3f}  sensitivity {t['sensitivity']:.3f}  specificity "
                f"{t['specificity']:.3f}  precision {t['precision']:.3f}  F1 {t['f1']:.3f}\n"
                f"  ROC-AUC {t['roc_auc']:.3f} (95% CI {low:.3f}-{high:.3f})  "
                f"PR-AUC {t['pr_auc']:.3f}\n"
                f"  confusion [[TN, FP], [FN, TP]] = {t['confusion']}")


def evaluate(model, val_files, test_files, *, rule: str = "sensitivity",
             target_sensitivity: float = 0.95, threshold: float | None = None,
             batch_size: int = 32, n_bootstrap: int = 1000, seed: int = 0,
             data_label: str = "", resize: str = "pad") -> Evaluation:
    """Choose the threshold on ``val_files`` (or take ``threshold``), then measure ``test_files``
    once.

    Returns an :class:`Evaluation`: test accuracy, sensitivity, specificity, precision, F1 at the
    threshold, ROC-AUC with a bootstrap 95% interval (``n_bootstrap`` resamples) and PR-AUC.
    ``data_label`` (e.g. "SYNTHETIC demo X-rays") is carried into every table and figure title.
    ``resize``: the resize mode the model was trained with (``pn.train``'s ``resize``).
    """
    p_val, y_val, _ = predict_files(model, val_files, batch_size=batch_size, resize=resize)
    if threshold is None:
        threshold, rule_text = choose_threshold(y_val, p_val, rule, target_sensitivity)
    else:
        rule_text = "fixed in advance"
    p_test, y_test, kept, images = predict_files(model, test_files, batch_size=batch_size,
                                                 resize=resize, keep_images=True)
    test = binary_metrics(y_test, p_test, threshold)
    test.update(roc_auc=roc_auc(y_test, p_test), pr_auc=average_precision(y_test, p_test),
                prevalence=float(y_test.mean()),
                roc_auc_ci95=list(bootstrap_ci(y_test, p_test, roc_auc, n_bootstrap, seed=seed)))
    kept_set = {Path(f).resolve() for f in kept}
    skipped = [Path(f) for f in test_files if Path(f).resolve() not in kept_set]
    return Evaluation(threshold=threshold, rule=rule_text,
                      val=binary_metrics(y_val, p_val, threshold),
                      test=test, y_val=y_val, p_val=p_val, y_test=y_test, p_test=p_test,
                      test_files=kept, data_label=data_label, skipped_files=skipped, resize=resize,
                      test_images=images)
