"""``python -m cnncourse doctor [--online] [--json PATH]``: is this machine ready for the course?

The first command to run on a new machine or on Colab. One row per check, printed as it
finishes, and with ``--json PATH`` the same as a JSON report:

- versions, the accelerator, mixed precision and XLA;
- the cache folders and their free disk space;
- every download the course makes (MNIST, CIFAR-10 and IMDB through ``keras.datasets``, the
  cats vs dogs photos through ``keras.utils.get_file``, the MobileNetV2 ImageNet weight files and
  class names through ``keras.applications``), each loaded with the call the notebooks make and
  its files' size and SHA-256 reported. Without ``--online`` only what is already cached is
  checked and no network connection is made; with it, what is missing is downloaded once into
  the Keras cache, each wait bounded by ``--timeout``;
- the chest X-ray data (downloaded and verified?) and the Kaggle credentials: with ``--online``
  one authenticated metadata call (listing the dataset's files), never the 1.2 GB download;
- one training step of the lab's model on the accelerator, with the lab's mixed-precision and
  XLA choices, and the images per second of the lab's input pipeline.

Each row has a status: ``ok``; ``no`` (not available here, e.g. no GPU); ``not checked``
(not cached while offline, unreachable, no credentials), with what to do; ``FAILED`` (present
but broken: a file that fails its checksum or does not load, credentials Kaggle rejects, a
training step that raises). The exit status is 1 when a check FAILED, else 0.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import socket
import sys
import textwrap
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

OK, NO, NOT_CHECKED, FAILED = "ok", "no", "not checked", "FAILED"
#: Free space the chest X-ray download needs while it is unpacked (archive about 1.2 GB).
KAGGLE_DOWNLOAD_BYTES = 2_500_000_000
#: The cats vs dogs photos of notebook 05 (Google's ``cats_and_dogs_filtered`` archive).
CATS_DOGS_URL = "https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip"


@dataclass
class Result:
    """One row of the report. ``facts``: details for the JSON report (files, hashes, timings)."""

    check: str
    status: str
    detail: str
    seconds: float = 0.0
    facts: dict = field(default_factory=dict)


class CheckFailed(Exception):
    """Raised inside a check: something is present but broken (status FAILED)."""


class NotChecked(Exception):
    """Raised inside a check: it could not be checked here (status 'not checked')."""


class NotAvailable(Exception):
    """Raised inside a check: the thing does not exist on this machine (status 'no')."""


_STATUS_OF = {CheckFailed: FAILED, NotChecked: NOT_CHECKED, NotAvailable: NO}


def run_check(name: str, check: Callable[[], tuple[str, dict] | str]) -> Result:
    """Run ``check()`` (returns the detail, or ``(detail, facts)``) and turn it into a row.

    What the check prints and warns is kept out of the table (it goes to ``facts["output"]``);
    an exception becomes the row's status: the ones above, or FAILED with its first line.
    """
    start = time.perf_counter()
    output = io.StringIO()
    facts: dict = {}
    try:
        with contextlib.redirect_stdout(output), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            answer = check()
        detail, facts = answer if isinstance(answer, tuple) else (answer, {})
        status = OK
        if caught:
            facts["warnings"] = sorted({str(w.message).splitlines()[0][:200] for w in caught})
    except Exception as exc:
        status = _STATUS_OF.get(type(exc), FAILED)
        detail = str(exc)
        if type(exc) not in _STATUS_OF:
            detail = f"{type(exc).__name__}: {_first_line(exc)}"
    if output.getvalue().strip():
        facts["output"] = output.getvalue()[-2000:]
    return Result(name, status, detail, round(time.perf_counter() - start, 2), facts)


def _first_line(exc: BaseException, limit: int = 200) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:limit]


@contextlib.contextmanager
def no_network():
    """Inside the block every attempt to reach a host fails at once (what offline doctor promises):
    name lookups raise, and every connection through Python's socket module starts with one."""
    original = socket.getaddrinfo

    def refuse(*args, **kwargs):
        raise OSError("no network connection without --online")

    socket.getaddrinfo = refuse
    try:
        yield
    finally:
        socket.getaddrinfo = original


def _size(n_bytes: int) -> str:
    """``55.0 MB``, or ``35 kB`` for a file that would read as 0.0 MB."""
    return f"{n_bytes / 1e6:.1f} MB" if n_bytes >= 100_000 else f"{n_bytes / 1e3:.0f} kB"


def file_facts(path: Path) -> dict:
    """Path, size and SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return {"path": str(path), "bytes": path.stat().st_size, "sha256": digest.hexdigest()}


# --- the machine ----------------------------------------------------------------------------------

def check_versions() -> tuple[str, dict]:
    from cnncourse import env

    facts = env.report(show=False)
    for package in ("numpy", "kaggle", "cnncourse"):
        facts[package] = env.installed_version(package) or "not installed"
    detail = (f"Python {facts['Python']}, TensorFlow {facts['TensorFlow']}, "
              f"Keras {facts['Keras']} ({facts['Keras backend']}), NumPy {facts['numpy']}, "
              f"kaggle {facts['kaggle']}; {facts['Platform']}")
    return detail, facts


def _gpus() -> list:
    import tensorflow as tf

    return tf.config.list_physical_devices("GPU")


def _gpu_details() -> list[dict]:
    import tensorflow as tf

    return [tf.config.experimental.get_device_details(gpu) for gpu in _gpus()]


def check_accelerator() -> str:
    details = _gpu_details()
    if not details:
        raise NotAvailable("CPU only: the lecture notebooks run (slowly in full mode); the lab's "
                           "full mode wants a GPU (on Colab: Runtime > Change runtime type > GPU)")
    return "; ".join(d.get("device_name", "GPU") for d in details)


def check_mixed_precision() -> str:
    details = _gpu_details()
    if not details:
        raise NotAvailable("no GPU: training runs in float32 "
                           "(float16 only pays off on GPUs with tensor cores)")
    capability = min(d.get("compute_capability", (0, 0)) for d in details)
    if tuple(capability) < (7, 0):
        raise NotAvailable(f"GPU compute capability {capability[0]}.{capability[1]} < 7.0: "
                           "no tensor cores, mixed_float16 gives no speed-up")
    return (f"mixed_float16 on tensor cores (compute capability {capability[0]}.{capability[1]}); "
            "the lab turns it on")


def check_xla() -> str:
    import numpy as np
    import tensorflow as tf

    @tf.function(jit_compile=True)
    def fused(a, b):
        return tf.nn.relu(tf.matmul(a, b) + 1.0)

    a = np.arange(64, dtype="float32").reshape(8, 8) / 64
    try:
        got = fused(a, a).numpy()
    except Exception as exc:
        if _gpus():
            raise CheckFailed(f"XLA does not compile here ({_first_line(exc)}); the lab turns it "
                              "on on a GPU: pass jit_compile=False to pn.train") from None
        raise NotAvailable(f"XLA does not compile on this CPU ({_first_line(exc)}); the lab uses "
                           "it only on a GPU") from None
    if not np.allclose(got, np.maximum(a @ a + 1.0, 0), rtol=1e-5):
        raise CheckFailed("an XLA-compiled matrix product differs from NumPy's")
    device = "GPU" if _gpus() else "CPU"
    return f"compiles and runs on the {device}" + ("; the lab turns it on" if device == "GPU" else
                                                   " (the lab uses it only on a GPU)")


def check_cache() -> tuple[str, dict]:
    from cnncourse import config, transfer

    folders = {"course cache (CNNCOURSE_CACHE_DIR)": config.cache_dir(),
               "Keras downloads (KERAS_HOME)": transfer.keras_home()}
    facts = {}
    for label, folder in folders.items():
        folder.mkdir(parents=True, exist_ok=True)
        facts[label] = {"path": str(folder), "free_bytes": shutil.disk_usage(folder).free}
    free = facts["course cache (CNNCOURSE_CACHE_DIR)"]["free_bytes"]
    detail = "; ".join(f"{label}: {f['path']} ({f['free_bytes'] / 1e9:.1f} GB free)"
                       for label, f in facts.items())
    if free < KAGGLE_DOWNLOAD_BYTES:
        raise NotAvailable(f"{detail}. The chest X-ray download needs about "
                           f"{KAGGLE_DOWNLOAD_BYTES / 1e9:.1f} GB: free some space or set "
                           "CNNCOURSE_CACHE_DIR")
    return detail, facts


# --- downloads ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Download:
    """A file the course downloads through Keras: where it lands and the call that gets it.

    ``files``: paths relative to the Keras cache (``$KERAS_HOME``) that the call leaves there.
    ``load``: the call a notebook makes; it returns a one-line description of what it loaded
    and raises when the content is not what the course expects.
    """

    name: str
    used_by: str
    files: tuple[str, ...]
    load: Callable[[], str]
    integrity: str  # how the content is known to be right, beyond the reported SHA-256


def _expect(condition: bool, what: str) -> None:
    if not condition:
        raise CheckFailed(f"loaded, but {what}")


def _mnist() -> str:
    import keras

    (x, y), (xt, yt) = keras.datasets.mnist.load_data()
    _expect(x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28),
            f"shapes are {x.shape} and {xt.shape}")
    return "60,000 + 10,000 digits, 28x28"


def _cifar10() -> str:
    import keras

    (x, y), (xt, yt) = keras.datasets.cifar10.load_data()
    _expect(x.shape == (50000, 32, 32, 3) and xt.shape == (10000, 32, 32, 3),
            f"shapes are {x.shape} and {xt.shape}")
    return "50,000 + 10,000 images, 32x32x3"


def _imdb() -> str:
    import keras

    (x, y), (xt, yt) = keras.datasets.imdb.load_data()
    _expect(len(x) == 25000 and len(xt) == 25000, f"it holds {len(x)} + {len(xt)} reviews")
    return "25,000 + 25,000 reviews"


def _imdb_words() -> str:
    import keras

    index = keras.datasets.imdb.get_word_index()
    _expect(bool(index) and all(isinstance(v, int) for v in index.values()),
            "it is not a word -> index mapping")
    return f"{len(index):,} words"


def _cats_dogs() -> str:
    import keras

    folder = Path(keras.utils.get_file("cats_and_dogs_filtered", origin=CATS_DOGS_URL,
                                       extract=True))
    found = sorted(folder.glob("**/cats_and_dogs_filtered/train"))
    _expect(bool(found), f"{folder} holds no cats_and_dogs_filtered/train folder")
    counts = {split: sum(1 for _ in (found[0].parent / split).glob("*/*.jpg"))
              for split in ("train", "validation")}
    _expect(all(counts.values()), f"it holds {counts} photos")
    return f"{counts['train']:,} training + {counts['validation']:,} validation photos"


def _mobilenet(size: int | None) -> Callable[[], str]:
    """The keras.applications call behind notebook 07 (``size=None``: with the classifier) and
    behind ``transfer.build_transfer_model`` in notebook 05 and the lab (no top, ``size``
    pixels)."""

    def load() -> str:
        import keras

        shape = {} if size is None else {"include_top": False, "input_shape": (size, size, 3)}
        model = keras.applications.MobileNetV2(weights="imagenet", **shape)
        return f"loads into {model.name} ({model.count_params():,} parameters)"

    return load


def _class_names() -> str:
    import keras
    import numpy as np

    scores = np.eye(1, 1000, 281, dtype="float32")  # ImageNet class 281 is "tabby"
    name = keras.applications.mobilenet_v2.decode_predictions(scores, top=1)[0][0][1]
    _expect(name == "tabby", f"class 281 is called {name!r}, not 'tabby'")
    return "1,000 class names"


_WEIGHTS = "models/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{}.h5"
_KERAS_HASH = "keras.datasets pins its SHA-256 and refuses a file that differs"
_LOADED = "no published checksum: checked by loading it into the network"

#: Everything the course downloads through Keras, in the order of the notebooks.
DOWNLOADS = (
    Download("MNIST (keras.datasets)", "notebooks 00, 03",
             ("datasets/mnist.npz",), _mnist, _KERAS_HASH),
    Download("CIFAR-10 (keras.datasets)", "notebook 04",
             ("datasets/cifar-10-batches-py-target_archive",), _cifar10, _KERAS_HASH),
    Download("IMDB reviews (keras.datasets)", "notebook 08",
             ("datasets/imdb.npz",), _imdb, _KERAS_HASH),
    Download("IMDB word index (keras.datasets)", "notebook 08",
             ("datasets/imdb_word_index.json",), _imdb_words, "keras.datasets pins its MD5"),
    Download("Cats vs dogs photos (get_file)", "notebook 05",
             ("datasets/cats_and_dogs_filtered_archive",), _cats_dogs,
             "no checksum published: the photos are counted"),
    Download("MobileNetV2 weights, 224 px, no top", "the lab in full mode, exercise lab3-3",
             (_WEIGHTS.format("224_no_top"),), _mobilenet(224), _LOADED),
    Download("MobileNetV2 weights, 96 px, no top", "the lab in fast mode",
             (_WEIGHTS.format("96_no_top"),), _mobilenet(96), _LOADED),
    Download("MobileNetV2 weights, 160 px, no top", "notebook 05",
             (_WEIGHTS.format("160_no_top"),), _mobilenet(160), _LOADED),
    Download("MobileNetV2 weights, with classifier", "notebook 07",
             (_WEIGHTS.format("224"),), _mobilenet(None), _LOADED),
    Download("ImageNet class names", "notebook 07",
             ("models/imagenet_class_index.json",), _class_names,
             "keras.applications pins its MD5"),
)

_KERAS_REFUSED = ("hash does not match", "Incomplete or corrupted file")


def check_download(item: Download, online: bool, timeout_s: float = 30.0) -> tuple[str, dict]:
    """Load ``item`` with the notebooks' call; offline only when all its files are cached."""
    from cnncourse import data, transfer
    from cnncourse.transfer import _short_reason

    home = transfer.keras_home()
    paths = [home / f for f in item.files]
    if not online and not all(p.exists() for p in paths):
        raise NotChecked(f"not cached in {home} (used by {item.used_by}); "
                         "`doctor --online` downloads it once")
    output = io.StringIO()
    network = data.bounded_network_wait(timeout_s) if online else no_network()
    try:
        with contextlib.redirect_stdout(output), network:
            loaded = item.load()
    except CheckFailed:
        raise
    except Exception as exc:
        said = output.getvalue() + " " + str(exc)
        if any(text in said for text in _KERAS_REFUSED):
            again = "" if online else " (Keras deleted it: `doctor --online` downloads it again)"
            raise CheckFailed(f"the file fails the checksum Keras pins for it{again}") from None
        if online:
            raise NotChecked(
                f"unreachable ({_short_reason(exc)}); used by {item.used_by}"
            ) from None
        raise CheckFailed(f"cached, but it does not load ({type(exc).__name__}: "
                          f"{_first_line(exc, 160)}); delete {', '.join(map(str, paths))} and run "
                          "`doctor --online`") from None
    files = [file_facts(p) for p in paths if p.exists()]
    sizes = ", ".join(f"{_size(f['bytes'])} sha256 {f['sha256'][:12]}" for f in files)
    return f"{loaded}; {sizes}; {item.integrity}", {"files": files, "used_by": item.used_by}


# --- the lab's data and credentials ---------------------------------------------------------------

def check_chest_xrays() -> str:
    from cnncourse.pneumonia import getdata

    folder = getdata.default_dest() / "chest_xray"
    if (folder / getdata.VERIFIED_MARKER).exists() and getdata.verify_dataset(folder):
        total = sum(sum(c.values()) for c in getdata.count_images(folder).values())
        return f"downloaded and verified: {total:,} images in {folder}"
    if folder.exists():
        raise NotAvailable(
            f"{folder} is incomplete or was never verified: the lab downloads it again"
        )
    raise NotChecked(f"not downloaded yet (the lab downloads about 1.2 GB into {folder.parent}, "
                     "with Kaggle credentials); doctor never downloads it")


def check_kaggle_credentials(online: bool, timeout_s: float = 30.0) -> tuple[str, dict]:
    """Where the credentials are; with ``online``, one authenticated call lists the dataset's
    files."""
    from cnncourse import credentials, data
    from cnncourse.pneumonia import getdata

    found = credentials.find_kaggle_credentials()
    if found is None:
        raise NotChecked(credentials.HOW_TO_GET_CREDENTIALS)
    warning = f" WARNING: {found.warning}" if found.warning else ""
    if not online:
        raise NotChecked(f"configured ({found.kind}: {found.where}), not validated: "
                         f"`doctor --online` asks Kaggle{warning}")
    credentials.export_colab_secrets()

    def unreachable(exc: BaseException) -> NotChecked:
        return NotChecked(credentials.redact(
            f"configured ({found.kind}: {found.where}), but Kaggle could not be reached to "
            f"validate them ({type(exc).__name__}: {_first_line(exc, 120)}); check the internet "
            "connection"))

    try:
        with data.bounded_network_wait(timeout_s):
            # with a token, authenticating is already a call to Kaggle
            api = getdata._kaggle_api(found)
            answer = api.dataset_list_files(getdata.DATASET)
    except getdata.DataUnavailable as exc:
        raise (unreachable(exc) if exc.unreachable else CheckFailed(str(exc))) from None
    except (Exception, SystemExit) as exc:
        if getdata._status_of(exc) in (401, 403, 404):
            raise CheckFailed(getdata._explain_failure(exc)) from None
        raise unreachable(exc) from None
    error = getattr(answer, "error_message", None) or getattr(answer, "errorMessage", None)
    if error:
        raise CheckFailed(credentials.redact(f"Kaggle answered: {error}"))
    files = getattr(answer, "files", None) or []
    return (f"valid ({found.kind}: {found.where}): Kaggle answered the authenticated listing of "
            f"{getdata.DATASET}'s files ({len(files)} files on its first page; whether the "
            f"dataset's terms were accepted shows only at the download: 403){warning}"
            ), {"files_on_first_page": len(files)}


# --- the lab's training step and input pipeline ---------------------------------------------------

def check_training_step(image_size: int = 224, batch_size: int = 32) -> tuple[str, dict]:
    """One training step (and a second, timed) of the lab's model with the lab's GPU choices."""
    import keras
    import numpy as np

    from cnncourse import transfer
    from cnncourse.pneumonia.training import compile_model

    gpus = _gpu_details()
    # pn.train's defaults: mixed precision and XLA when a GPU is present
    mixed = jit = bool(gpus)
    previous = keras.config.dtype_policy()
    try:
        if mixed:
            keras.config.set_dtype_policy("mixed_float16")
        model = transfer.build_transfer_model("mobilenetv2", (image_size, image_size, 3),
                                              weights=None, output_bias=0.0)
    finally:
        keras.config.set_dtype_policy(previous)
    compile_model(model, 1e-3, jit)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (batch_size, image_size, image_size, 3)).astype("float32")
    y = (np.arange(batch_size) % 2).astype("float32")
    times, losses = [], []
    for _ in range(2):
        start = time.perf_counter()
        losses.append(float(np.ravel(model.train_on_batch(x, y))[0]))
        times.append(time.perf_counter() - start)
    if not all(np.isfinite(losses)):
        raise CheckFailed(f"the loss is not finite: {losses}")
    device = gpus[0].get("device_name", "GPU") if gpus else "CPU"
    facts = {"device": device, "mixed_precision": mixed, "xla": jit, "image_size": image_size,
             "batch_size": batch_size, "first_step_s": times[0], "step_s": times[1],
             "images_per_s": batch_size / times[1]}
    return (f"MobileNetV2 lab model, {image_size} px, batch {batch_size}, on {device}, "
            f"mixed precision {'on' if mixed else 'off'}, XLA {'on' if jit else 'off'}: "
            f"first step {times[0]:.1f} s (tracing{', compiling' if jit else ''}), "
            f"then {times[1]:.2f} s = {batch_size / times[1]:.0f} images/s"), facts


def check_pipeline(image_size: int = 224, batch_size: int = 32,
                   images: int = 256) -> tuple[str, dict]:
    """Images per second of the lab's training pipeline (decode, resize, augment), no cache."""
    from cnncourse.pneumonia import getdata, lab
    from cnncourse.pneumonia.layout import list_images
    from cnncourse.pneumonia.pipeline import make_dataset

    real = getdata.default_dest() / "chest_xray"
    if (real / getdata.VERIFIED_MARKER).exists():
        folder, label = real, "the Kaggle X-rays"
    else:  # the fast-mode demo without its deliberately broken files (their decoder errors
        # would fill the screen)
        folder, _ = getdata.find_data(demo=True, demo_options={**lab.FAST_DEMO, "defects": False})
        low, high = lab.FAST_DEMO["size_range"]
        label = (f"demo X-rays of {low}-{high} px; real ones are about 1,000-2,900 px, "
                 "so expect fewer")
    files = list_images(folder, "train")
    files = (files * (images // len(files) + 1))[:images]
    dataset = make_dataset(files, image_size=image_size, batch_size=batch_size, training=True,
                           cache=False)
    batches = iter(dataset)
    next(batches)  # builds the pipeline and its augmentation layers: not timed
    start, seen = time.perf_counter(), 0
    for x, _ in batches:
        seen += int(x.shape[0])
    seconds = time.perf_counter() - start
    rate = seen / seconds
    return (f"{rate:.0f} images/s at {image_size} px (decode, resize, augment on "
            f"{os.cpu_count()} CPU cores) on {label}"
            ), {"images_per_s": rate, "images": seen, "data": str(folder)}


# --- the report -----------------------------------------------------------------------------------

def checks(online: bool, timeout_s: float) -> list[tuple[str, Callable]]:
    """Every check as ``(name, function)``, in the order of the report."""
    return [
        ("versions", check_versions),
        ("accelerator", check_accelerator),
        ("mixed precision", check_mixed_precision),
        ("XLA", check_xla),
        ("cache folders", check_cache),
        *[(item.name, lambda item=item: check_download(item, online, timeout_s))
          for item in DOWNLOADS],
        ("chest X-rays (Kaggle)", check_chest_xrays),
        ("Kaggle credentials", lambda: check_kaggle_credentials(online, timeout_s)),
        ("lab training step", check_training_step),
        ("lab input pipeline", check_pipeline),
    ]


def format_row(result: Result, width: int = 100) -> str:
    """``check  status  detail`` with the detail wrapped under itself."""
    head = f"{result.check:<37} {result.status:<12} "
    lines = textwrap.wrap(result.detail, max(width - len(head), 30),
                          break_long_words=False, break_on_hyphens=False) or [""]
    return "\n".join([head + lines[0], *(" " * len(head) + line for line in lines[1:])])


def run_doctor(online: bool = False, timeout_s: float = 30.0, json_path=None,
               show: bool = True) -> list[Result]:
    """Run every check, printing each row as it finishes; write the JSON report to
    ``json_path``."""
    start = time.perf_counter()
    width = shutil.get_terminal_size((100, 24)).columns
    if show:
        mode = ("online: what is missing is downloaded once into the cache" if online else
                "offline: only what is cached is checked and no connection is made; "
                "--online downloads")
        print(f"cnncourse doctor, {mode}\n{'check':<37} {'status':<12} detail\n"
              f"{'-' * min(width, 100)}", flush=True)
    results = []
    for name, check in checks(online, timeout_s):
        results.append(run_check(name, check))
        if show:
            print(format_row(results[-1], width), flush=True)
    counts = {status: sum(r.status == status for r in results)
              for status in (OK, NO, NOT_CHECKED, FAILED)}
    seconds = time.perf_counter() - start
    if show:
        totals = ", ".join(f"{n} {s}" for s, n in counts.items())
        print(f"{'-' * min(width, 100)}\n{totals} in {seconds:.0f} s")
    if json_path is not None:
        report = {"cnncourse_doctor": 1, "online": online, "seconds": round(seconds, 1),
                  "counts": counts, "checks": [asdict(r) for r in results]}
        Path(json_path).write_text(json.dumps(report, indent=1, default=str))
        if show:
            print(f"JSON report: {json_path}")
    return results


def doctor_command(args) -> int:
    """``python -m cnncourse doctor``: exit status 1 when a check FAILED, else 0."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow  # noqa: F401  (its start-up messages come before the table, not inside it)

    sys.stdout.flush()
    results = run_doctor(online=args.online, timeout_s=args.timeout, json_path=args.json)
    return 1 if any(r.status == FAILED for r in results) else 0
