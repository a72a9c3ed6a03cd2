"""Input pipelines on chest-X-ray-sized JPEGs: images per second, side by side, in one run.

Generates grayscale JPEGs of 1,000-2,000 px (like the Kaggle X-rays, about 100-300 kB each) in the
Kaggle folder layout, then reads them as 224x224 float batches of 32 with

1. the legacy ``tf.keras`` ``ImageDataGenerator.flow_from_directory`` (what most public
   notebooks on this dataset use), rescale only;
2. ``keras.utils.image_dataset_from_directory`` with its defaults;
3. ``cnncourse.pneumonia.make_dataset`` (no augmentation): its first epoch (read and decode, at
   reduced JPEG scale, in parallel) and its cached epochs.

and prints images per second and the ratio to ImageDataGenerator. Goals: first epoch at least
2x ImageDataGenerator, cached epochs at least 20x. The numbers depend on the machine (cores,
disk, other load): compare ratios measured in the same run, not across machines.

    python bench/pipeline.py [--images 300] [--size 224] [--cached-epochs 2] [--folder DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np


def make_xray_sized_jpegs(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """``n`` grayscale JPEGs of 1,000-2,000 px with film-grain texture, half NORMAL, half PNEUMONIA."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    files = []
    for i in range(n):
        cls = ("NORMAL", "PNEUMONIA")[i % 2]
        (folder / "train" / cls).mkdir(parents=True, exist_ok=True)
        width = int(rng.integers(1000, 2001))
        height = int(width * rng.uniform(0.75, 1.05))
        base = Image.fromarray(rng.integers(40, 200, (12, 12), dtype=np.uint8)).resize((width, height), Image.Resampling.BICUBIC)
        pixels = np.asarray(base, np.float32) + rng.normal(0, 2.5, (height, width))
        name = f"IM-{i:04d}-0001" if cls == "NORMAL" else f"person{i}_bacteria_1"
        path = folder / "train" / cls / f"{name}.jpeg"
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path, quality=85)
        files.append(path)
    return files


def timed_epoch(batches) -> tuple[int, float]:
    """Images delivered by one pass over ``batches`` and the seconds it took."""
    start = time.perf_counter()
    n = 0
    for batch in batches:
        n += int(batch[0].shape[0])
    return n, time.perf_counter() - start


def image_data_generator_epoch(folder: Path, size: int, batch_size: int) -> tuple[int, float]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from tensorflow.keras.preprocessing.image import ImageDataGenerator

    generator = ImageDataGenerator(rescale=1 / 255).flow_from_directory(
        folder / "train", target_size=(size, size), batch_size=batch_size, class_mode="binary", shuffle=True)
    return timed_epoch(generator[i] for i in range(len(generator)))


def keras_directory_epoch(folder: Path, size: int, batch_size: int) -> tuple[int, float]:
    import keras

    dataset = keras.utils.image_dataset_from_directory(folder / "train", image_size=(size, size),
                                                       batch_size=batch_size, verbose=False)
    return timed_epoch(dataset)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=300, help="number of generated JPEGs (default 300)")
    parser.add_argument("--size", type=int, default=224, help="output image size (default 224)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--cached-epochs", type=int, default=2, help="cached epochs to average (default 2)")
    parser.add_argument("--folder", type=Path, default=None, help="where to write the JPEGs (default: a temp folder)")
    args = parser.parse_args(argv)
    if args.images < args.batch_size:
        parser.error(f"--images must be at least the batch size ({args.batch_size})")

    import tensorflow as tf

    from cnncourse.pneumonia import make_dataset

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.folder or Path(tmp)
        start = time.perf_counter()
        files = make_xray_sized_jpegs(folder, args.images)
        mean_kb = np.mean([f.stat().st_size for f in files]) / 1024
        print(f"{len(files)} generated JPEGs, 1000-2000 px, mean {mean_kb:.0f} kB, in {time.perf_counter() - start:.0f} s; "
              f"TensorFlow {tf.__version__}, {os.cpu_count()} CPU cores, "
              f"{'GPU' if tf.config.list_physical_devices('GPU') else 'no GPU'}")

        results = {}
        results["ImageDataGenerator.flow_from_directory"] = image_data_generator_epoch(folder, args.size, args.batch_size)
        results["image_dataset_from_directory (defaults)"] = keras_directory_epoch(folder, args.size, args.batch_size)
        dataset = make_dataset(files, image_size=args.size, batch_size=args.batch_size, shuffle=True, augment=False)
        results["make_dataset, first epoch"] = timed_epoch(dataset)
        cached = [timed_epoch(dataset) for _ in range(args.cached_epochs)]
        results["make_dataset, cached epochs"] = (sum(n for n, _ in cached), sum(s for _, s in cached))

    baseline = results["ImageDataGenerator.flow_from_directory"]
    base_rate = baseline[0] / baseline[1]
    width = max(map(len, results))
    print(f"\n{'pipeline':<{width}}  images/s   vs ImageDataGenerator")
    for name, (n, seconds) in results.items():
        rate = n / seconds
        print(f"{name:<{width}}  {rate:8.0f}   {rate / base_rate:6.1f}x")
    first = results["make_dataset, first epoch"][0] / results["make_dataset, first epoch"][1] / base_rate
    cached_ratio = results["make_dataset, cached epochs"][0] / results["make_dataset, cached epochs"][1] / base_rate
    print(f"\ngoal first epoch >= 2x: {'met' if first >= 2 else 'NOT met'} ({first:.1f}x); "
          f"goal cached >= 20x: {'met' if cached_ratio >= 20 else 'NOT met'} ({cached_ratio:.1f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
