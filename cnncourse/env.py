"""Environment report: versions, backend, GPUs, Colab/Kaggle, offline data, credentials.

``report()`` returns the facts as a dict and prints them as a table;
``python -m cnncourse env`` does the same from a terminal. Secrets are never shown,
only whether they are configured and where from.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys

from cnncourse import config, credentials, data


def _gpus() -> list[str]:
    """GPU names and memory as TensorFlow and nvidia-smi see them; empty on a CPU-only machine."""
    import tensorflow as tf

    devices = tf.config.list_physical_devices("GPU")
    if not devices:
        return []
    memory = {}
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=index,memory.total", "--format=csv,noheader"],
                capture_output=True, text=True, timeout=10, check=True,
            ).stdout
            memory = {int(i): m.strip() for i, m in (line.split(",") for line in out.strip().splitlines())}
        except (OSError, subprocess.SubprocessError, ValueError):
            memory = {}
    names = []
    for index, device in enumerate(devices):
        details = tf.config.experimental.get_device_details(device)
        name = details.get("device_name", device.name)
        names.append(f"{name} ({memory[index]})" if index in memory else name)
    return names


def platform_name() -> str:
    """'Colab', 'Kaggle' or 'local'."""
    if "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ:
        return "Colab"
    if "KAGGLE_KERNEL_RUN_TYPE" in os.environ or os.path.isdir("/kaggle/input"):
        return "Kaggle"
    return "local"


def report(show: bool = True) -> dict[str, str]:
    """Collect the environment facts; print them as a table when ``show`` is true."""
    import keras
    import tensorflow as tf

    gpus = _gpus()
    offline = data.mnist_source_available()
    kaggle = credentials.find_kaggle_credentials()
    facts = {
        "Python": platform.python_version(),
        "TensorFlow": tf.__version__,
        "Keras": keras.__version__,
        "Keras backend": keras.backend.backend(),
        "Accelerators": "; ".join(gpus) if gpus else "CPU only",
        "Platform": f"{platform_name()} ({platform.system()} {platform.machine()})",
        "Course mode": f"{config.mode_name()} (CNNCOURSE_FAST={os.environ.get('CNNCOURSE_FAST', 'unset')})",
        "Data offline": ", ".join(k for k, ok in offline.items() if ok) or "none",
        "Kaggle credentials": f"yes, from {kaggle}" if kaggle else "no (the lab stops and says what to set, or USE_DEMO_DATA = True)",
    }
    if show:
        width = max(map(len, facts))
        for key, value in facts.items():
            print(f"{key:<{width}}  {value}")
    return facts
