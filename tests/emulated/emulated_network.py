"""An emulated network for the course's tests: the online branch of every notebook, offline.

Nothing in ``cnncourse`` knows about it. It answers at the download layer, so the real loading
code runs unchanged:

* ``keras.utils.get_file`` (used by ``keras.datasets`` and ``keras.applications``): its
  ``urlretrieve`` is replaced by one that writes a stand-in for the URLs below, and its hash check
  accepts the stand-ins it wrote (any other file is still checked against the real hash).

  - MNIST ``mnist.npz``: 60,000 / 10,000 uint8 28x28 digits, shifted and dimmed copies of the
    10,000 real digits shipped in ``data/mnist-sample`` (training copies from 8,000 of them, test
    copies from the other 2,000);
  - CIFAR-10 ``cifar-10-python.tar.gz``: the pickled batches, 50,000 / 10,000 32x32x3 uint8, each
    class a colour and a stripe orientation under noise;
  - IMDB ``imdb.npz`` and ``imdb_word_index.json``: 25,000 / 25,000 reviews of word ranks
    (88,584-word index), Zipf-distributed words plus sentiment words that follow the label;
  - ``cats_and_dogs_filtered.zip``: 2,000 / 1,000 small JPEGs (warm round blobs = cats, cool
    elongated ones = dogs) in the real folder layout;
  - ``keras.applications`` weight files (``*.h5`` under ``keras-applications``): written from the
    same architecture built with ``weights=None`` (random weights, the real file format), so
    ``weights="imagenet"`` loads; ``imagenet_class_index.json``: the real file (the 1,000 class
    names, kept next to this module; its MD5 is the one Keras pins, so Keras's own check passes).

  Any other URL fails like an offline machine.
* The ``kaggle`` client (``kagglesdk``): its production endpoint is pointed at a loopback HTTP
  server (127.0.0.1, a free port) that answers token introspection, the dataset's file listing
  (``ListDatasetFiles``, what ``kaggle datasets files`` and ``api.dataset_list_files`` ask: the
  archive's files a page at a time) and the dataset download (redirect, then the zip) for
  ``paultimothymooney/chest-xray-pneumonia``: the real archive layout
  with the nested ``chest_xray/chest_xray`` duplicate, a ``__MACOSX`` tree of ``._*`` files,
  ``.DS_Store`` files, Kaggle's file names and counts (5,216 / 16 / 624 images), small synthetic
  X-rays from ``cnncourse.pneumonia.make_demo_xrays``. Credentials: token :data:`TOKEN`, or
  user :data:`USERNAME` with key :data:`KEY`; anything else gets 401.
  ``CNNCOURSE_EMULATED_KAGGLE`` picks the service's behaviour: ``ok`` (default), ``403`` (terms
  not accepted: the download is refused, the file listing still answers), ``offline`` (nothing
  listens: connection refused), ``cutoff`` (the archive stops halfway).

Switch it on for a process and its children with::

    PYTHONPATH=tests/emulated CNNCOURSE_EMULATED_NETWORK=1 KERAS_HOME=/tmp/keras-emulated ...

Stand-ins are generated once into ``CNNCOURSE_EMULATED_CACHE`` (default: a folder in the system
temp dir) and copied from there. Each URL served prints one line starting "emulated online:";
every use (download or cache hit) is appended to ``CNNCOURSE_EMULATED_LOG`` when that is set.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.abc
import importlib.machinery
import io
import json
import os
import pickle
import re
import shutil
import sys
import tarfile
import tempfile
import threading
import time
import zipfile
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
TOKEN = "emulated-kaggle-token-0123456789"
USERNAME, KEY = "emulated-student", "emulated-kaggle-key-0123456789"
DATASET = "paultimothymooney/chest-xray-pneumonia"
KAGGLE_MODES = ("ok", "403", "offline", "cutoff")


def cache_dir() -> Path:
    folder = Path(os.environ.get("CNNCOURSE_EMULATED_CACHE")
                  or Path(tempfile.gettempdir()) / f"cnncourse-emulated-{os.getuid()}")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def log(kind: str, what: str) -> None:
    path = os.environ.get("CNNCOURSE_EMULATED_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"{time.time():.3f}\t{os.getpid()}\t{kind}\t{what}\n")


def _cached(name: str, build) -> Path:
    """``cache_dir()/name``, built once with ``build(path)``; processes building it at once wait
    for one another."""
    import fcntl

    target = cache_dir() / name
    if target.exists():
        return target
    with open(cache_dir() / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.exists():
            partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
            build(partial)
            (cache_dir() / "served").mkdir(exist_ok=True)
            (cache_dir() / "served" / _sha256(partial)).touch()
            os.replace(partial, target)
    return target


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------- datasets


def _shifted_copies(x: np.ndarray, n: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n images drawn (cyclically, shuffled) from x, each shifted by up to 2 px and some dimmed."""
    idx = rng.permutation(np.resize(np.arange(len(x)), n))
    padded = np.pad(x, ((0, 0), (2, 2), (2, 2)))
    dy, dx = rng.integers(-2, 3, n), rng.integers(-2, 3, n)
    out = np.empty((n, 28, 28), np.uint8)
    for sy in range(-2, 3):
        for sx in range(-2, 3):
            sel = (dy == sy) & (dx == sx)
            out[sel] = padded[idx[sel], 2 - sy : 30 - sy, 2 - sx : 30 - sx]
    dim = rng.random(n) < 0.3
    out[dim] = (out[dim] * rng.uniform(0.7, 0.95, (int(dim.sum()), 1, 1))).astype(np.uint8)
    return out, idx


def build_mnist(path: Path) -> None:
    sys.path.insert(0, str(REPO))
    from cnncourse.data import load_mnist_sample

    (xa, ya), (xb, yb) = load_mnist_sample()
    rng = np.random.default_rng(0)
    x_train, i_train = _shifted_copies(xa, 60_000, rng)
    x_test, i_test = _shifted_copies(xb, 10_000, rng)
    with open(path, "wb") as f:
        np.savez(f, x_train=x_train, y_train=ya[i_train], x_test=x_test, y_test=yb[i_test])


CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                 "truck"]


def _cifar_images(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(n, 3072) uint8 rows, channels first like the real batches."""
    n = len(labels)
    hue = labels / 10.0
    # (n, 3)
    colour = np.stack([0.5 + 0.4 * np.cos(2 * np.pi * (hue + k / 3)) for k in range(3)], axis=1)
    yy, xx = np.mgrid[0:32, 0:32] / 32.0
    angle = labels * np.pi / 10 + rng.normal(0, 0.15, n)
    freq = 2.0 + (labels % 3) + rng.normal(0, 0.2, n)
    phase = rng.uniform(0, 2 * np.pi, n)
    along = np.cos(angle)[:, None, None] * xx + np.sin(angle)[:, None, None] * yy
    wave = np.sin(2 * np.pi * freq[:, None, None] * along
                  + phase[:, None, None]).astype(np.float32)  # (n, 32, 32)
    img = (colour[:, :, None, None] * (0.65 + 0.3 * wave[:, None])
           + 0.12 * rng.standard_normal((n, 3, 32, 32), dtype=np.float32)
           + rng.normal(0, 0.1, (n, 1, 1, 1)).astype(np.float32))
    return (np.clip(img, 0, 1) * 255).astype(np.uint8).reshape(n, 3072)


def build_cifar10(path: Path) -> None:
    rng = np.random.default_rng(1)
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        def add(name, payload):
            data = pickle.dumps(payload, protocol=4)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size, info.mtime = len(data), 1_234_567_890
            tar.addfile(info, io.BytesIO(data))

        add("batches.meta", {b"label_names": [c.encode() for c in CIFAR_CLASSES],
                             b"num_cases_per_batch": 10000, b"num_vis": 3072})
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            labels = rng.integers(0, 10, 10_000)
            add(name, {b"batch_label": f"{name} (emulated)".encode(), b"labels": labels.tolist(),
                       b"data": _cifar_images(labels, rng),
                       b"filenames": [f"emulated_{name}_{i}.png".encode() for i in range(10_000)]})


POSITIVE = ["great", "excellent", "wonderful", "best", "love", "loved", "perfect", "brilliant",
            "beautiful", "amazing", "superb", "enjoyed", "favorite", "fantastic", "masterpiece",
            "touching", "fun", "gem"]
NEGATIVE = ["bad", "worst", "awful", "boring", "terrible", "waste", "poor", "stupid", "horrible",
            "dull", "worse", "mess", "annoying", "lame", "disappointing", "pointless", "ridiculous",
            "avoid"]
COMMON = ["the", "and", "a", "of", "to", "is", "br", "in", "it", "i", "this", "that", "was", "as",
          "for", "with", "movie", "but", "film", "on", "not", "you", "are", "his", "have", "he",
          "be", "one", "all", "at", "by"]
IMDB_WORDS = 88_584


def _imdb_vocabulary() -> list[str]:
    words = COMMON[:]
    sentiment = iter(POSITIVE + NEGATIVE)
    while len(words) < IMDB_WORDS:
        # the sentiment words get ranks 40-110: frequent enough to survive any num_words cut
        rank = len(words)
        if 40 <= rank < 40 + 2 * len(POSITIVE) and rank % 2 == 0:
            words.append(next(sentiment))
        else:
            words.append(f"word{rank}")
    missing = [w for w in POSITIVE + NEGATIVE if w not in words]
    return words[: IMDB_WORDS - len(missing)] + missing


def build_imdb_word_index(path: Path) -> None:
    index = {w: i + 1 for i, w in enumerate(_imdb_vocabulary())}
    path.write_text(json.dumps(index), encoding="utf-8")


def _imdb_reviews(n: int, rng: np.random.Generator):
    rank = {w: i + 1 for i, w in enumerate(_imdb_vocabulary())}
    pos, neg = np.array([rank[w] for w in POSITIVE]), np.array([rank[w] for w in NEGATIVE])
    labels = np.tile([0, 1], n // 2)
    rng.shuffle(labels)
    lengths = np.clip(rng.lognormal(5.2, 0.6, n).astype(int), 10, 2400)
    tokens = np.minimum(rng.zipf(1.25, lengths.sum()), IMDB_WORDS)
    owner = np.repeat(np.arange(n), lengths)
    marked = rng.random(len(tokens)) < 0.04
    agrees = rng.random(len(tokens)) < 0.8
    positive_word = np.where(agrees, labels[owner] == 1, labels[owner] == 0)
    k = int(marked.sum())
    tokens[marked] = np.where(positive_word[marked], rng.choice(pos, k), rng.choice(neg, k))
    bounds = np.cumsum(lengths)[:-1]
    reviews = np.empty(n, dtype=object)
    for i, piece in enumerate(np.split(tokens, bounds)):
        reviews[i] = piece.tolist()
    return reviews, labels.astype(np.int64)


def build_imdb(path: Path) -> None:
    rng = np.random.default_rng(2)
    x_train, y_train = _imdb_reviews(25_000, rng)
    x_test, y_test = _imdb_reviews(25_000, rng)
    with open(path, "wb") as f:
        np.savez(f, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)


def _pet(cat: bool, rng: np.random.Generator, size=(72, 64)) -> bytes:
    from PIL import Image

    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    cy, cx = rng.uniform(0.35, 0.65) * h, rng.uniform(0.35, 0.65) * w
    ry, rx = (rng.uniform(0.2, 0.3) * h, rng.uniform(0.2, 0.3) * w) if cat else \
             (rng.uniform(0.12, 0.18) * h, rng.uniform(0.3, 0.42) * w)
    body = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
    colour = np.array([200, 120, 60]) if cat else np.array([90, 110, 170])
    img = rng.uniform(60, 200, 3) + rng.normal(0, 25, (h, w, 3))
    img[body] = colour + rng.normal(0, 30, (int(body.sum()), 3))
    buf = io.BytesIO()
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def build_cats_dogs(path: Path) -> None:
    rng = np.random.default_rng(3)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for split, first, n in (("train", 0, 1000), ("validation", 2000, 500)):
            for animal in ("cat", "dog"):
                for i in range(first, first + n):
                    zf.writestr(f"cats_and_dogs_filtered/{split}/{animal}s/{animal}.{i}.jpg",
                                _pet(animal == "cat", rng))


def build_class_index(path: Path) -> None:
    shutil.copyfile(Path(__file__).with_name("imagenet_class_index.json"), path)


#: keras.applications weight files: pattern of the file name -> (application, keyword arguments).
_WEIGHTS = [
    (r"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_"
     r"(?P<alpha>[\d.]+)_(?P<rows>\d+)(?P<notop>_no_top)?\.h5",
     lambda m: ("MobileNetV2", {"alpha": float(m["alpha"]),
                                "input_shape": (int(m["rows"]),) * 2 + (3,)})),
    (r"(?P<name>resnet50|resnet50v2|densenet121|vgg16|vgg19|inception_v3)"
     r"_weights_tf_dim_ordering_tf_kernels(?P<notop>_notop)?\.h5",
     lambda m: ({"resnet50": "ResNet50", "resnet50v2": "ResNet50V2", "densenet121": "DenseNet121",
                 "vgg16": "VGG16", "vgg19": "VGG19", "inception_v3": "InceptionV3"}[m["name"]],
                {})),
    (r"efficientnetb(?P<k>\d)(?P<notop>_notop)?\.h5", lambda m: (f"EfficientNetB{m['k']}", {})),
    (r"efficientnetv2-b(?P<k>\d)(?P<notop>_notop)?\.h5",
     lambda m: (f"EfficientNetV2B{m['k']}", {})),
    (r"convnext_(?P<size>tiny|small|base)(?P<notop>_notop)?\.h5",
     lambda m: (f"ConvNeXt{m['size'].title()}", {})),
]


def weights_builder(filename: str):
    """A function writing the weight file ``filename`` of keras.applications, or None if unknown."""
    for pattern, spec in _WEIGHTS:
        found = re.fullmatch(pattern, filename)
        if found:
            application, kwargs = spec(found)
            include_top = not found["notop"]
            if include_top:
                kwargs.pop("input_shape", None)
            return functools.partial(_write_weights, application, include_top, kwargs)
    return None


def _write_weights(application: str, include_top: bool, kwargs: dict, path: Path) -> None:
    """The architecture built with ``weights=None``, saved in the legacy HDF5 layout the real
    files use."""
    import h5py
    import keras
    from keras.src.legacy.saving import legacy_h5_format

    build = getattr(keras.applications, application)
    model = build(weights=None, include_top=include_top, **kwargs)
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)


def builder_for(url: str):
    """(cache file name, builder) for a URL the emulation answers, else None."""
    name = url.rstrip("/").rsplit("/", 1)[-1]
    fixed = {
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz": build_mnist,
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz": build_cifar10,
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb.npz": build_imdb,
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb_word_index.json":
            build_imdb_word_index,
        "https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip": build_cats_dogs,
        "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json":
            build_class_index,
    }
    if url in fixed:
        # the real file: a name that earlier caches' placeholder lacks
        if name == "imagenet_class_index.json":
            name = "imagenet_class_index-c2c37ea5.json"
        return name, fixed[url]
    if "keras-applications" in url and name.endswith(".h5"):
        build = weights_builder(name)
        if build is not None:
            import keras

            return f"keras-{keras.__version__}-{name}", build
    return None


# ------------------------------------------------------------------------------- keras hooks


def _patch_file_utils(module) -> None:
    import urllib.error

    real_validate, real_get_file = module.validate_file, module.get_file

    def urlretrieve(url, filename, reporthook=None, data=None):
        found = builder_for(url)
        if found is None:
            log("refused", url)
            raise urllib.error.URLError("emulated network: no stand-in for this URL")
        source = _cached(*found)
        print(f"emulated online: stand-in for {url} (tests/emulated, not the real file)")
        shutil.copyfile(source, filename)
        log("download", url)

    def validate_file(fpath, file_hash, algorithm="auto", chunk_size=65535):
        if real_validate(fpath, file_hash, algorithm, chunk_size):
            return True
        return (cache_dir() / "served" / _sha256(Path(fpath))).exists()

    def get_file(*args, **kwargs):
        origin = kwargs.get("origin") or (args[1] if len(args) > 1 else None)
        if origin and builder_for(str(origin)) is not None:
            log("get_file", str(origin))
        return real_get_file(*args, **kwargs)

    module.urlretrieve, module.validate_file, module.get_file = urlretrieve, validate_file, get_file


# ------------------------------------------------------------------------------------ Kaggle


def build_kaggle_archive(path: Path) -> None:
    sys.path.insert(0, str(REPO))
    from cnncourse.pneumonia.demo import DEMO_MARKER, make_demo_xrays
    from cnncourse.pneumonia.layout import KAGGLE_COUNTS

    with tempfile.TemporaryDirectory() as tmp:
        root = make_demo_xrays(tmp, n_per_class=KAGGLE_COUNTS["train"],
                               test_per_class=KAGGLE_COUNTS["test"], val_per_class=8,
                               size_range=(64, 80), seed=12)
        (root / DEMO_MARKER).unlink()
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
            zf.writestr("chest_xray/.DS_Store", b"\0\0\0\1Bud1")
            for file in sorted(root.rglob("*.jpeg")):
                rel = file.relative_to(root).as_posix()
                data = file.read_bytes()
                for prefix in ("chest_xray/", "chest_xray/chest_xray/"):
                    zf.writestr(prefix + rel, data)
                folder = file.parent.relative_to(root).as_posix()
                zf.writestr(f"__MACOSX/chest_xray/{folder}/._{file.name}",
                            b"\0\5\26\7\0\2\0\0Mac OS X        ")


def cached_kaggle_archive() -> Path:
    """The emulated ``chest-xray-pneumonia.zip`` (built once into the cache: ~20 MB, 5,856
    images)."""
    return _cached("chest-xray-pneumonia.zip", build_kaggle_archive)


def dataset_file_listing(page_token: str | None, page_size: int | None) -> dict:
    """The answer to ``ListDatasetFiles``: one page of the archive's files (kagglesdk's
    ``ApiListDatasetFilesResponse`` fields) and the token of the next page while there is one."""
    with zipfile.ZipFile(cached_kaggle_archive()) as zf:
        files = [info for info in zf.infolist() if not info.is_dir()]
    start, size = int(page_token or 0), page_size or 20
    answer = {"datasetFiles": [{"ref": info.filename, "datasetRef": DATASET,
                                "ownerRef": DATASET.split("/")[0], "name": info.filename,
                                "creationDate": "2018-03-24T19:41:59.990Z",
                                "totalBytes": info.file_size, "columns": []}
                               for info in files[start : start + size]]}
    if start + size < len(files):
        answer["nextPageToken"] = str(start + size)
    return answer


class _KaggleHandler(BaseHTTPRequestHandler):
    mode = "ok"
    archive: Path | None = None

    def log_message(self, *args):  # quiet
        pass

    def _json(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _authorised(self) -> bool:
        import base64

        header = self.headers.get("Authorization", "")
        if header == f"Bearer {TOKEN}":
            return True
        if header.startswith("Basic "):
            return base64.b64decode(header[6:]).decode(errors="replace") == f"{USERNAME}:{KEY}"
        return False

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        path = self.path.split("?")[0]
        log("kaggle", path)
        if path.endswith("/security.OAuthService/IntrospectToken"):
            if body.get("token") == TOKEN:
                return self._json(200, {"active": True, "username": USERNAME})
            return self._json(401, {"code": 401,
                                    "message": "Unauthenticated: invalid access token"})
        if path.endswith(("/datasets.DatasetApiService/DownloadDataset",
                          "/datasets.DatasetApiService/ListDatasetFiles")):
            if not self._authorised():
                return self._json(401, {"code": 401, "message": "Unauthenticated"})
            if f"{body.get('ownerSlug')}/{body.get('datasetSlug')}" != DATASET:
                return self._json(404, {"code": 404, "message": "Dataset not found"})
        if path.endswith("/datasets.DatasetApiService/ListDatasetFiles"):
            listing = dataset_file_listing(body.get("pageToken"), body.get("pageSize"))
            return self._json(200, listing)
        if path.endswith("/datasets.DatasetApiService/DownloadDataset"):
            if self.mode == "403":
                return self._json(403, {"code": 403,
                                        "message": "Permission 'datasets.get' was denied"})
            self.send_response(302)
            port = self.server.server_address[1]
            self.send_header("Location", f"http://127.0.0.1:{port}/files/archive.zip")
            self.send_header("Content-Length", "0")
            return self.end_headers()
        return self._json(404, {"code": 404, "message": f"emulated Kaggle does not answer {path}"})

    def do_GET(self):  # noqa: N802
        if not self.path.startswith("/files/archive.zip"):
            return self._json(404, {"code": 404, "message": "not found"})
        log("kaggle", "/files/archive.zip")
        archive = cached_kaggle_archive()
        size = archive.stat().st_size
        self.send_response(200)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Length", str(size))
        self.send_header("Last-Modified", formatdate(1_530_000_000, usegmt=True))
        self.end_headers()
        with open(archive, "rb") as f:
            if self.mode == "cutoff":
                self.wfile.write(f.read(size // 2))
                self.wfile.flush()
                self.close_connection = True
                return
            shutil.copyfileobj(f, self.wfile)


_server: ThreadingHTTPServer | None = None


def start_kaggle(mode: str | None = None) -> str:
    """Start (once per process) the loopback Kaggle service; returns its base URL."""
    global _server
    mode = mode or os.environ.get("CNNCOURSE_EMULATED_KAGGLE", "ok")
    if mode not in KAGGLE_MODES:
        raise ValueError(f"CNNCOURSE_EMULATED_KAGGLE must be one of {KAGGLE_MODES}, got {mode!r}")
    if _server is not None:
        _server.shutdown()
        _server.server_close()
        _server = None
    if mode == "offline":
        import socket

        with socket.socket() as s:  # a port nobody listens on: connection refused, like no network
            s.bind(("127.0.0.1", 0))
            return f"http://127.0.0.1:{s.getsockname()[1]}"
    handler = type("Handler", (_KaggleHandler,), {"mode": mode})
    _server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    _server.daemon_threads = True
    threading.Thread(target=_server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{_server.server_address[1]}"


def serve_kaggle(mode: str) -> str:
    """Restart this process's emulated Kaggle service in ``mode`` and point the client at it."""
    # first: importing it (re)starts the service in the default mode
    import kagglesdk.kaggle_env as module

    url = start_kaggle(mode)
    point_kaggle_at(url, module)
    return url


def point_kaggle_at(url: str, module=None) -> None:
    """Make kagglesdk's production endpoint ``url`` (the client itself is unchanged)."""
    if module is None:
        import kagglesdk.kaggle_env as module
    module._env_to_endpoint[module.KaggleEnv.PROD] = url


# ------------------------------------------------------------------------------------ install


_PATCHES = {
    "keras.src.utils.file_utils": _patch_file_utils,
    "kagglesdk.kaggle_env": lambda module: point_kaggle_at(start_kaggle(), module),
}


class _PatchAfterImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name not in _PATCHES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return None
        run = spec.loader.exec_module

        def exec_module(module, run=run, patch=_PATCHES[name]):
            run(module)
            patch(module)

        spec.loader.exec_module = exec_module
        return spec


def install() -> None:
    """Answer downloads in this process (modules already imported are patched at once)."""
    if any(isinstance(f, _PatchAfterImport) for f in sys.meta_path):
        return
    for name, patch in _PATCHES.items():
        if name in sys.modules:
            patch(sys.modules[name])
    sys.meta_path.insert(0, _PatchAfterImport())


__all__ = ["TOKEN", "USERNAME", "KEY", "install", "start_kaggle", "point_kaggle_at", "cache_dir",
           "builder_for", "cached_kaggle_archive", "serve_kaggle"]
