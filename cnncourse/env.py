"""Environment report: versions, backend, GPUs, Colab/Kaggle, offline data, credentials.

``report()`` returns the facts as a dict and prints them as a table;
``python -m cnncourse env`` does the same from a terminal. Secrets are never shown,
only whether they are configured and where from.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile

from cnncourse import config, credentials, data

# Lines TensorFlow writes to file descriptor 2 while it loads, whatever TF_CPP_MIN_LOG_LEVEL says.
_STARTUP_NOTICE = re.compile(
    r"All log messages before absl::InitializeLog\(\)|oneDNN custom operations are on"
)


def import_tensorflow_quietly() -> None:
    """Import TensorFlow from a terminal program without its start-up lines; for scripts, not
    notebooks.

    Sets ``TF_CPP_MIN_LOG_LEVEL=3`` unless already set (this hides the CPU-feature guard), then
    sends file descriptor 2 to a temporary file during the import only, and passes on every line
    written meanwhile except the absl and oneDNN notices, so real errors still reach the terminal.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    terminal = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            sys.stderr.flush()
            os.dup2(terminal, 2)
            os.close(terminal)
            captured.seek(0)
            lines = captured.read().decode(errors="replace").splitlines(keepends=True)
            sys.stderr.write("".join(line for line in lines if not _STARTUP_NOTICE.search(line)))
            sys.stderr.flush()


#: The oldest versions the course is tested with (constraints/floor.txt, ``make test-floor``, CI),
#: and what goes wrong below them. requirements.txt and pyproject.toml ask for at least these.
TESTED_FLOOR: dict[str, tuple[str, str]] = {
    "tensorflow": ("2.18", "not tested; if a model fails to build or train, use a newer runtime "
                           "(pip install -U tensorflow, then restart)"),
    "keras": ("3.8", "not tested (explain and seeding passed once with Keras 3.5, the rest was not "
                     "checked): pip install -U keras"),
    "numpy": ("1.26", "not tested; TensorFlow 2.18+ needs numpy 1.26 or newer"),
    "scipy": ("1.11", "not tested; pip install -U scipy"),
    "scikit-learn": ("1.3", "not tested; metrics and the text baselines use it: "
                            "pip install -U scikit-learn"),
    "scikit-image": ("0.22", "not tested; pip install -U scikit-image"),
    "pandas": ("2.0", "not tested; pip install -U pandas"),
    "pillow": ("10.0", "not tested; image loading uses it: pip install -U pillow"),
    "matplotlib": ("3.9", "figures in notebooks fail with IPython 9 "
                          "(\"cannot import name 'backend2gui'\"): pip install -U matplotlib"),
    "plotly": ("5.24", "not tested; interactive figures: pip install -U plotly"),
    "tqdm": ("4.66", "not tested; progress bars: pip install -U tqdm"),
}


def installed_version(package: str) -> str | None:
    """The installed version of a distribution (any TensorFlow build for ``"tensorflow"``), or
    None."""
    names = (package,)
    if package == "tensorflow":
        names = ("tensorflow", "tensorflow-cpu", "tensorflow-macos", "tf-nightly")
    for name in names:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def below_floor() -> dict[str, str]:
    """One line per installed package older than :data:`TESTED_FLOOR`: what it breaks."""
    found = {}
    for package, (floor, breaks) in TESTED_FLOOR.items():
        version = installed_version(package)
        if version is not None and config.version_tuple(version) < config.version_tuple(floor):
            found[package] = f"{version} is below the tested floor {floor}: {breaks}"
    return found


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
            rows = (line.split(",") for line in out.strip().splitlines())
            memory = {int(i): m.strip() for i, m in rows}
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
    if kaggle:
        kaggle = f"yes, from {kaggle}"
    else:
        kaggle = "no (the lab stops and says what to set, or USE_DEMO_DATA = True)"
    fast = os.environ.get("CNNCOURSE_FAST", "unset")
    facts = {
        "Python": platform.python_version(),
        "TensorFlow": tf.__version__,
        "Keras": keras.__version__,
        "Keras backend": keras.backend.backend(),
        "Accelerators": "; ".join(gpus) if gpus else "CPU only",
        "Platform": f"{platform_name()} ({platform.system()} {platform.machine()})",
        "Course mode": f"{config.mode_name()} (CNNCOURSE_FAST={fast})",
        "Data offline": ", ".join(k for k, ok in offline.items() if ok) or "none",
        "Kaggle credentials": kaggle,
    }
    facts.update({f"{package} too old": problem for package, problem in below_floor().items()})
    if show:
        width = max(map(len, facts))
        for key, value in facts.items():
            print(f"{key:<{width}}  {value}")
    return facts
