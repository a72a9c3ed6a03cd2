"""Benchmark: CPU training of the lecture convnet with TensorFlow's oneDNN kernels on and off.

The course keeps oneDNN on (TensorFlow's default) and keeps its start-up notice out of cell
outputs another way (see cnncourse.course.KERNEL_ARGUMENTS); this script keeps that choice
measured. One run: ``simple_cnn`` (notebook 03) trained for one epoch on the 8,000 training
digits of the shipped MNIST sample, batch 64, Adam, after one warm-up batch (so graph tracing is
not timed). oneDNN is fixed when TensorFlow loads, so every run is its own process, with
``TF_ENABLE_ONEDNN_OPTS=1`` or ``0``; runs alternate (on, off, off, on, ...) so that load from
other jobs on the machine hits both settings alike.

Usage: python bench/course.py [--rounds N]   (prints seconds per run and the off/on ratios of the
best and the median runs)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

SETTINGS = {"on": "1", "off": "0"}


def one_epoch() -> dict:
    """Train simple_cnn for one epoch in this process; seconds and whether oneDNN was on."""
    from cnncourse import env

    env.import_tensorflow_quietly()
    import numpy as np
    from tensorflow.python.util import _pywrap_util_port

    from cnncourse import config, data
    from cnncourse.models import simple_cnn

    config.seed_everything(0)
    (x_train, y_train), _ = data.load_mnist_sample()
    x_train = (x_train[..., None] / 255.0).astype(np.float32)
    model = simple_cnn()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.train_on_batch(x_train[:64], y_train[:64])  # traces the training step
    start = time.perf_counter()
    model.fit(x_train, y_train, epochs=1, batch_size=64, verbose=0)
    return {"seconds": time.perf_counter() - start,
            "onednn": bool(_pywrap_util_port.IsMklEnabled())}


def run(setting: str) -> dict:
    environ = dict(os.environ, TF_ENABLE_ONEDNN_OPTS=SETTINGS[setting])
    out = subprocess.run([sys.executable, __file__, "--child"], capture_output=True, text=True,
                         env=environ, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"oneDNN {setting} run failed:\n{out.stderr[-2000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["onednn"] != (setting == "on"):
        reported = "on" if result["onednn"] else "off"
        raise RuntimeError(f"asked for oneDNN {setting}, TensorFlow reports oneDNN {reported}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="runs per setting (default 3)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_epoch()))
        return
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, got {args.rounds}")
    machine = platform.processor() or platform.machine()
    print(f"simple_cnn, 8,000 MNIST-sample digits, batch 64, one epoch; {machine}, "
          f"{os.cpu_count()} CPUs")
    seconds = {setting: [] for setting in SETTINGS}
    for round_ in range(args.rounds):
        order = ("on", "off") if round_ % 2 == 0 else ("off", "on")
        for setting in order:
            took = run(setting)["seconds"]
            seconds[setting].append(took)
            print(f"  round {round_ + 1}  oneDNN {setting:<3}  {took:6.2f} s", flush=True)
    for name, pick in (("best", min), ("median", statistics.median)):
        on, off = pick(seconds["on"]), pick(seconds["off"])
        print(f"{name:<6} per epoch: oneDNN on {on:.2f} s, off {off:.2f} s; "
              f"off / on = {off / on:.2f}x")
    print("(above 1: oneDNN is faster; on a busy machine trust the best times, "
          "and rerun when idle)")


if __name__ == "__main__":
    main()
