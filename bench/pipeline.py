"""Input pipelines on chest-X-ray-sized JPEGs: images per second, side by side, in one run.

Generates grayscale JPEGs of 1,000-2,000 px (like the Kaggle X-rays, about 100-300 kB each) in the
Kaggle folder layout, then reads them as 224x224 float batches of 32 with

1. the legacy ``tf.keras`` ``ImageDataGenerator.flow_from_directory`` (what most public
   notebooks on this dataset use), rescale only;
2. ``keras.utils.image_dataset_from_directory`` with its defaults;
3. ``cnncourse.pneumonia.make_dataset`` (no augmentation): its first epoch (read and decode, at
   reduced JPEG scale, in parallel) and its cached epochs.

and prints images per second and the ratio to ImageDataGenerator. Goals: first epoch at least
2x ImageDataGenerator and at least as fast as ``image_dataset_from_directory``, cached epochs at
least 20x. The numbers depend on the machine (cores, disk, other load): compare ratios measured
in the same run, not across machines. The pipelines take turns for ``--rounds`` rounds, so that
load from other jobs hits them alike; each ratio is computed within a round, and the goals are
checked on the median round (the best round is printed too).

    python bench/pipeline.py [--images 300] [--size 224] [--cached-epochs 2] [--rounds 3]
                             [--folder DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_xray_sized_jpegs(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """``n`` grayscale JPEGs of 1,000-2,000 px with film-grain texture, half NORMAL, half
    PNEUMONIA."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    files = []
    for i in range(n):
        cls = ("NORMAL", "PNEUMONIA")[i % 2]
        (folder / "train" / cls).mkdir(parents=True, exist_ok=True)
        width = int(rng.integers(1000, 2001))
        height = int(width * rng.uniform(0.75, 1.05))
        coarse = Image.fromarray(rng.integers(40, 200, (12, 12), dtype=np.uint8))
        base = coarse.resize((width, height), Image.Resampling.BICUBIC)
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
    import contextlib
    import io
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from tensorflow.keras.preprocessing.image import ImageDataGenerator

    # it prints "Found 300 images belonging to 2 classes." every round
    with contextlib.redirect_stdout(io.StringIO()):
        generator = ImageDataGenerator(rescale=1 / 255).flow_from_directory(
            folder / "train", target_size=(size, size), batch_size=batch_size,
            class_mode="binary", shuffle=True)
    return timed_epoch(generator[i] for i in range(len(generator)))


def keras_directory_epoch(folder: Path, size: int, batch_size: int) -> tuple[int, float]:
    import keras

    dataset = keras.utils.image_dataset_from_directory(folder / "train", image_size=(size, size),
                                                       batch_size=batch_size, verbose=False)
    return timed_epoch(dataset)


IDG = "ImageDataGenerator.flow_from_directory"
KERAS = "image_dataset_from_directory (defaults)"
FIRST = "make_dataset, first epoch"
CACHED = "make_dataset, cached epochs"


def one_round(folder: Path, files: list[Path], args, make_dataset) -> dict[str, tuple[int, float]]:
    """Images and seconds of each pipeline, one after the other, each from a fresh start."""
    results = {IDG: image_data_generator_epoch(folder, args.size, args.batch_size),
               KERAS: keras_directory_epoch(folder, args.size, args.batch_size)}
    dataset = make_dataset(files, image_size=args.size, batch_size=args.batch_size, shuffle=True,
                           augment=False)
    results[FIRST] = timed_epoch(dataset)
    cached = [timed_epoch(dataset) for _ in range(args.cached_epochs)]
    results[CACHED] = (sum(n for n, _ in cached), sum(s for _, s in cached))
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=300,
                        help="number of generated JPEGs (default 300)")
    parser.add_argument("--size", type=int, default=224, help="output image size (default 224)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--cached-epochs", type=int, default=2,
                        help="cached epochs to average (default 2)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds in which the pipelines take turns (default 3)")
    parser.add_argument("--folder", type=Path, default=None,
                        help="where to write the JPEGs (default: a temp folder)")
    args = parser.parse_args(argv)
    if args.images < args.batch_size:
        parser.error(f"--images must be at least the batch size ({args.batch_size})")
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, got {args.rounds}")

    from cnncourse import env

    env.import_tensorflow_quietly()  # no TensorFlow start-up lines before the results
    import tensorflow as tf

    from cnncourse.pneumonia import make_dataset

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.folder or Path(tmp)
        start = time.perf_counter()
        files = make_xray_sized_jpegs(folder, args.images)
        mean_kb = np.mean([f.stat().st_size for f in files]) / 1024
        print(f"{len(files)} generated JPEGs, 1000-2000 px, mean {mean_kb:.0f} kB, "
              f"in {time.perf_counter() - start:.0f} s; "
              f"TensorFlow {tf.__version__}, {os.cpu_count()} CPU cores, "
              f"{'GPU' if tf.config.list_physical_devices('GPU') else 'no GPU'}")

        rounds = [one_round(folder, files, args, make_dataset) for _ in range(args.rounds)]

    rates = {name: [n / seconds for n, seconds in (r[name] for r in rounds)] for name in rounds[0]}
    baseline = rates[IDG]
    ratios = {name: [rate / base for rate, base in zip(values, baseline, strict=True)]
              for name, values in rates.items()}
    width = max(map(len, rates))
    print(f"\n{'pipeline':<{width}}  images/s  vs ImageDataGenerator: median   best  each round")
    for name in rates:
        each = " ".join(f"{r:.1f}x" for r in ratios[name])
        print(f"{name:<{width}}  {statistics.median(rates[name]):8.0f}  "
              f"{statistics.median(ratios[name]):28.1f}x {max(ratios[name]):5.1f}x  {each}")
    first = statistics.median(ratios[FIRST])
    cached = statistics.median(ratios[CACHED])
    vs_keras = statistics.median([a / b for a, b in zip(rates[FIRST], rates[KERAS], strict=True)])
    def verdict(met: bool) -> str:
        return "met" if met else "NOT met"

    print(f"\ngoal first epoch >= 2x: {verdict(first >= 2)} ({first:.1f}x); "
          f"goal first epoch >= image_dataset_from_directory: {verdict(vs_keras >= 1)} "
          f"({vs_keras:.2f}x); "
          f"goal cached >= 20x: {verdict(cached >= 20)} ({cached:.1f}x); "
          f"medians of {args.rounds} rounds, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
