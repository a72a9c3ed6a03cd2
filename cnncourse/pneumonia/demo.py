"""Synthetic chest X-rays in the Kaggle layout, for running the lab without the real data.

They are NOT medical images: a bright torso, two dark lung fields, a spine, a heart shadow and
faint ribs, drawn from random shapes. "Pneumonia" images add bright patchy opacities inside the
lungs (one dense lobar patch, or many faint bilateral ones), so the two classes differ in a way
a network can learn. Each "patient" has its own anatomy and 1-4 images of it, named like the
real files, so patient leakage can be shown too. Every number measured on them must be
labelled synthetic.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from cnncourse import validation as check
from cnncourse.pneumonia.layout import CLASSES, KAGGLE_COUNTS, SPLITS

#: Printed wherever numbers measured on demo data appear.
DEMO_LABEL = "SYNTHETIC demo X-rays (not medical data)"
DEMO_MARKER = "SYNTHETIC_DEMO_DATA.txt"

DEFAULT_TRAIN = {"NORMAL": 60, "PNEUMONIA": 174}  # the Kaggle train imbalance, 1 : 2.9


def _counts(value, what: str) -> dict[str, int]:
    if isinstance(value, Mapping):
        counts = {c: value.get(c) for c in CLASSES}
    else:
        counts = dict.fromkeys(CLASSES, value)
    return {c: check.integer(f"{what} (an int or a mapping {{class: int}} for {CLASSES})", n)
            for c, n in counts.items()}


def _canvas(rng: np.random.Generator, anatomy: dict, sick: str | None,
            size: int = 128) -> np.ndarray:
    """One image on a size x size canvas, values 0-255; ``sick`` is None, 'bacteria' or 'virus'."""
    from scipy import ndimage

    yy, xx = np.mgrid[0:size, 0:size] / size
    shift = rng.normal(0, 0.015, 2)  # patient positioning differs between images
    y, x = yy - shift[0], xx - shift[1]

    def ellipse(cy, cx, ry, rx):
        return ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1

    a = anatomy
    img = np.full((size, size), 12.0)
    img[ellipse(0.6, 0.5, 0.55, a["torso"])] = 150
    lungs = (ellipse(0.5, 0.5 - a["gap"], a["lung_h"], a["lung_w"])
             | ellipse(0.5, 0.5 + a["gap"], a["lung_h"], a["lung_w"]))
    img[lungs] = 55
    for k in range(6):  # ribs: faint bright arcs across the lungs
        arc = np.abs(y - (0.22 + 0.09 * k) - 0.08 * np.cos((x - 0.5) * 4)) < 0.012
        img[arc & lungs] += 35
    img[np.abs(x - 0.5) < 0.045] = 185  # spine and mediastinum
    img[ellipse(0.66, 0.56, 0.12, a["heart"])] = 175
    if sick is not None:
        opacity = np.zeros_like(img)
        spots = a["spots"]
        if sick != "bacteria":
            spots = spots + [
                (rng.uniform(0.35, 0.7), 0.5 + s * a["gap"] + rng.normal(0, 0.05), 0.04)
                for s in (-1, 1, -1, 1)
            ]
        for cy, cx, r in spots:  # partly the same places in each image of a patient
            cy, cx = cy + rng.normal(0, 0.02), cx + rng.normal(0, 0.02)
            opacity += np.exp(-(((y - cy) ** 2 + (x - cx) ** 2) / (2 * r * r)))
        texture = ndimage.gaussian_filter(rng.normal(0, 1, img.shape), 2)
        img += (a["severity"] * opacity * (1 + 0.6 * texture)) * lungs
    img = ndimage.gaussian_filter(img, 1.5) * a["exposure"] + rng.normal(0, 3, img.shape)
    return np.clip(img, 0, 255)


def _anatomy(rng: np.random.Generator, sick: str | None) -> dict:
    gap = rng.uniform(0.17, 0.21)
    lung_w = rng.uniform(0.11, 0.14)
    spots = []
    if sick == "bacteria":  # one or two dense lobar consolidations
        spots = [(rng.uniform(0.45, 0.7), 0.5 + rng.choice([-1, 1]) * gap, rng.uniform(0.06, 0.09))
                 for _ in range(rng.integers(1, 3))]
    return {"gap": gap, "lung_w": lung_w, "lung_h": rng.uniform(0.26, 0.32),
            "torso": rng.uniform(0.42, 0.48), "heart": rng.uniform(0.09, 0.13),
            "exposure": rng.uniform(0.85, 1.1), "spots": spots,
            "severity": rng.uniform(70, 110) if sick == "bacteria" else rng.uniform(45, 70)}


def _save(pixels: np.ndarray, path: Path, size: tuple[int, int], rgb: bool) -> None:
    from PIL import Image

    image = Image.fromarray(pixels.astype(np.uint8), mode="L")
    image = image.resize(size, Image.Resampling.BICUBIC)
    (image.convert("RGB") if rgb else image).save(path, quality=90)


def make_demo_xrays(dest, n_per_class=None, seed: int = 0, *, test_per_class=None, val_per_class=8,
                    defects: bool = False, size_range=(320, 640)) -> Path:
    """Write synthetic chest X-rays to ``dest/chest_xray/{train,val,test}/{NORMAL,PNEUMONIA}``.

    ``n_per_class``: training images per class, an int (balanced) or ``{"NORMAL": n, "PNEUMONIA":
    m}``; by default 60 / 174, the Kaggle imbalance (1 : 2.9). ``test_per_class`` defaults to
    about a third of the training size in the Kaggle test proportions (234 : 390);
    ``val_per_class`` to 8 (the real val folder is that small). Images are grayscale JPEGs of
    random sizes within ``size_range`` pixels, a few saved as RGB like in the real data. Patients
    have 1-4 images each and never
    appear in two splits. ``defects=True`` adds what real downloads contain: one truncated
    (corrupt) JPEG in train/PNEUMONIA and one exact copy of a training image in test/NORMAL
    under another name. Returns the ``chest_xray`` folder; same seed, same files.
    """
    train = _counts(DEFAULT_TRAIN if n_per_class is None else n_per_class, "n_per_class")
    if test_per_class is None:  # about a third of the training size, in the Kaggle test proportions
        test_total = sum(KAGGLE_COUNTS["test"].values())
        train_total = sum(train.values())
        test_per_class = {
            c: max(4, round(0.35 * train_total * KAGGLE_COUNTS["test"][c] / test_total))
            for c in CLASSES
        }
    counts = {"train": train, "val": _counts(val_per_class, "val_per_class"),
              "test": _counts(test_per_class, "test_per_class")}
    low, high = size_range
    if not 64 <= low <= high:
        raise ValueError(
            f"size_range must be (low, high) with 64 <= low <= high, got {size_range!r}"
        )
    root = Path(dest) / "chest_xray"
    rng = np.random.default_rng(seed)
    next_patient = {"NORMAL": 1, "PNEUMONIA": 1}
    written: dict[tuple[str, str], list[Path]] = {}
    virus_counter = 0
    for split in SPLITS:
        for cls in CLASSES:
            folder = root / split / cls
            folder.mkdir(parents=True, exist_ok=True)
            paths = written.setdefault((split, cls), [])
            while len(paths) < counts[split][cls]:
                pid = next_patient[cls]
                next_patient[cls] += 1
                sick = None if cls == "NORMAL" else ("bacteria" if rng.random() < 0.65 else "virus")
                anatomy = _anatomy(rng, sick)
                n_images = min(int(rng.integers(1, 5 if sick else 3)),
                               counts[split][cls] - len(paths))
                width = int(rng.integers(low, high + 1))
                height = int(width * rng.uniform(0.75, 1.05))
                for k in range(1, n_images + 1):
                    if sick is None:
                        study = f"NORMAL2-IM-{pid:04d}" if pid % 3 == 0 else f"IM-{pid:04d}"
                        name = f"{study}-{k:04d}.jpeg"
                    else:
                        virus_counter += 1
                        name = f"person{pid}_{sick}_{virus_counter if sick == 'virus' else k}.jpeg"
                    path = folder / name
                    pixels = _canvas(rng, anatomy, sick)
                    _save(pixels, path, (width, height), rgb=rng.random() < 0.05)
                    paths.append(path)
    if defects:
        broken = root / "train" / "PNEUMONIA" / f"person{next_patient['PNEUMONIA']}_bacteria_1.jpeg"
        data = written["train", "PNEUMONIA"][0].read_bytes()
        broken.write_bytes(data[: len(data) // 3])  # a download cut short
        copy = root / "test" / "NORMAL" / f"IM-{next_patient['NORMAL']:04d}-0001.jpeg"
        copy.write_bytes(written["train", "NORMAL"][0].read_bytes())
    (root / DEMO_MARKER).write_text(
        f"{DEMO_LABEL}. Generated by cnncourse.pneumonia.make_demo_xrays(seed={seed}); "
        "not the Kermany et al. chest X-ray data.\n", encoding="utf-8")
    return root


def is_demo(data_dir) -> bool:
    """True for a folder written by :func:`make_demo_xrays`."""
    return (Path(data_dir) / DEMO_MARKER).exists()
