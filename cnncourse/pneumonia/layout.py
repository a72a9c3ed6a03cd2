"""The Kaggle "Chest X-Ray Images (Pneumonia)" layout: splits, classes, labels, patient ids.

``chest_xray/{train,val,test}/{NORMAL,PNEUMONIA}/*.jpeg`` (Kermany et al. 2018, Cell). Label 1
means PNEUMONIA (the positive class: sensitivity is the share of pneumonia cases found).

>>> patient_id("person1_bacteria_1.jpeg"), patient_id("IM-0115-0001.jpeg")
('person1', 'IM-0115')
>>> patient_id("NORMAL2-IM-1427-0001.jpeg")
'NORMAL2-IM-1427'
"""

from __future__ import annotations

import re
from pathlib import Path

from cnncourse import validation as check

SPLITS = ("train", "val", "test")
CLASSES = ("NORMAL", "PNEUMONIA")  # label 0, label 1
IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")

#: Images per split and class in the Kaggle release (version 2).
KAGGLE_COUNTS = {
    "train": {"NORMAL": 1341, "PNEUMONIA": 3875},
    "val": {"NORMAL": 8, "PNEUMONIA": 8},
    "test": {"NORMAL": 234, "PNEUMONIA": 390},
}

# person1_bacteria_1.jpeg, person1_virus_6.jpeg: the patient is "person1".
_PERSON = re.compile(r"^(person\d+)_(?:bacteria|virus)_\d+$", re.IGNORECASE)
# IM-0115-0001.jpeg, NORMAL2-IM-1427-0001.jpeg: the study "IM-0115" / "NORMAL2-IM-1427", image 0001.
_STUDY = re.compile(r"^((?:NORMAL2-)?IM-\d+)-\d+$", re.IGNORECASE)


def patient_id(filename) -> str:
    """The patient (or study) an image belongs to, from its Kaggle file name.

    Pneumonia images carry a patient id (``person1_bacteria_1.jpeg`` -> ``person1``), normal
    ones a study id (``IM-0115-0001.jpeg`` -> ``IM-0115``, ``NORMAL2-IM-1427-0001.jpeg`` ->
    ``NORMAL2-IM-1427``). A name in neither style is its own group (its stem): such images
    cannot be grouped, so say so when it happens to many of them.
    """
    if not isinstance(filename, (str, Path)):
        raise TypeError(f"expected a file name or path, got {type(filename).__name__}")
    stem = Path(filename).stem
    if not stem:
        raise ValueError("expected an image file name like person1_bacteria_1.jpeg, "
                         f"got {filename!r}")
    for pattern in (_PERSON, _STUDY):
        found = pattern.match(stem)
        if found:
            return found.group(1)
    return stem


def label_of(path) -> int:
    """0 for an image in a NORMAL folder, 1 for PNEUMONIA (taken from the parent folder's name)."""
    folder = Path(path).parent.name.upper()
    if folder not in CLASSES:
        raise ValueError(f"expected an image inside a NORMAL or PNEUMONIA folder, got {path}")
    return CLASSES.index(folder)


def is_image(path: Path) -> bool:
    """A visible image file (not a macOS ``._`` resource fork or a hidden file)."""
    return (path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES
            and not path.name.startswith("."))


def list_images(data_dir, split: str) -> list[Path]:
    """Sorted image paths of one split, NORMAL first then PNEUMONIA."""
    check.one_of("split", split, SPLITS)
    root = Path(data_dir) / split
    if not root.is_dir():
        raise FileNotFoundError(f"no {split}/ folder in {data_dir}: expected the Kaggle layout "
                                "chest_xray/{train,val,test}/{NORMAL,PNEUMONIA}")
    return [p for cls in CLASSES for p in sorted((root / cls).glob("*")) if is_image(p)]


def labels_of(paths) -> list[int]:
    """``label_of`` for each path."""
    return [label_of(p) for p in paths]
