"""Split the training folder into training and validation sets without leaking patients.

Many patients have several X-rays. A random split by image puts images of the same patient on
both sides, and the validation score then partly measures how well the network recognises a
patient it has already seen. :func:`split_train_val` keeps every patient on one side, and keeps
the class proportions (stratified). The Kaggle ``val/`` folder (16 images) is too small to
choose a model or a threshold with, so it is not used for that.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cnncourse import validation as check
from cnncourse.pneumonia.layout import CLASSES, label_of, list_images, patient_id


def patients_in_both(files_a, files_b) -> list[str]:
    """Patient ids that have images in both lists (should be empty for a sound split)."""
    return sorted({patient_id(p) for p in files_a} & {patient_id(p) for p in files_b})


def split_train_val(data_dir, val_fraction: float = 0.15, seed: int = 0,
                    exclude=()) -> tuple[list[Path], list[Path]]:
    """``(train_files, val_files)``: the images of ``data_dir/train``, grouped by patient.

    Within each class, patients are shuffled (``seed``) and moved to validation until about
    ``val_fraction`` of that class's images are there, so both sides keep the class balance and
    no patient is on both sides. ``exclude``: paths to leave out (e.g. ``audit(...).unreadable``).
    """
    check.number("val_fraction", val_fraction, 0, 1, "()")
    excluded = {Path(p).resolve() for p in exclude}
    files = [p for p in list_images(data_dir, "train") if p.resolve() not in excluded]
    rng = np.random.default_rng(seed)
    train, val = [], []
    for label, name in enumerate(CLASSES):
        groups: dict[str, list[Path]] = {}
        for path in files:
            if label_of(path) == label:
                groups.setdefault(patient_id(path), []).append(path)
        if len(groups) < 2:
            raise ValueError(f"need at least 2 {name} patients in {data_dir}/train to split, "
                             f"found {len(groups)}")
        target = val_fraction * sum(map(len, groups.values()))
        taken = 0
        for patient in rng.permutation(sorted(groups)):
            images = groups[patient]
            # Take the patient if that brings the validation count closer to the target.
            if taken < target and abs(taken + len(images) - target) <= abs(taken - target):
                val.extend(images)
                taken += len(images)
            else:
                train.extend(images)
        if taken == 0:  # every patient was larger than the target: take the smallest one
            smallest = min(groups, key=lambda p: (len(groups[p]), p))
            val.extend(groups[smallest])
            train[:] = [p for p in train if p not in groups[smallest]]
    return sorted(train), sorted(val)
