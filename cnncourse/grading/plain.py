"""Plain data: how a student's values travel from the student's kernel to the clean room.

A value is written to a folder as ``manifest.json`` plus one file per array or model, and read
back without running any code the folder could carry:

========================================  =================================================
in the student's kernel                   in the clean room
========================================  =================================================
None, bool, int, float, complex, str,     the same builtin type (a subclass is written as
bytes                                     its plain value: an ``int`` that lies in ``__eq__``
                                          arrives as the plain int it holds)
list, tuple, set, frozenset, dict         the same container of plain values
``numpy.ndarray`` (not dtype=object),     ``numpy.load(..., allow_pickle=False)``
NumPy scalars, TensorFlow tensors         (a tensor arrives as a NumPy array)
``keras.Model``                           a ``.keras`` file, ``keras.saving.load_model(...,
                                          safe_mode=True)``
``tf.data.Dataset``                       the elements of one pass, ``Dataset.save`` /
                                          ``Dataset.load`` (no pickle)
a function                                a proxy that calls it in the student's kernel
                                          (see :mod:`cnncourse.grading.cleanroom`)
anything else                             refused: :class:`NotPlainData` names the type
========================================  =================================================

:func:`write` runs in the student's kernel (the student can change what it writes: then the
clean room judges the student's own, different, plain values). :func:`read` runs in the clean
room and trusts nothing in the folder: file names are checked, arrays load without pickle and
models in Keras's safe mode.
"""

from __future__ import annotations

import base64
import json
import math
import re
import sys
from pathlib import Path

MANIFEST = "manifest.json"
MAX_DEPTH = 64
_FILE = re.compile(r"^v\d{1,6}\.(npy|keras|dataset)$")


class NotPlainData(TypeError):
    """A value that cannot leave the student's kernel as plain data."""


def type_name(value) -> str:
    kind = type(value)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"


def _loaded(module: str):
    return sys.modules.get(module)


def _is_keras_model(value) -> bool:
    keras = _loaded("keras")
    return keras is not None and isinstance(value, keras.Model)


def model_clone(model):
    """The same network rebuilt with fresh layers and the same weights: a model whose layers also
    belong to other models (sub-models made with ``keras.Model(model.input, layer.output)``) cannot
    always be saved itself ("could not find node key"), its clone can."""
    import keras

    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


def _is_dataset(value) -> bool:
    tf = _loaded("tensorflow")
    return tf is not None and isinstance(value, tf.data.Dataset)


def _is_tensor(value) -> bool:
    tf = _loaded("tensorflow")
    return tf is not None and isinstance(value, tf.Tensor) and hasattr(value, "numpy")


class Writer:
    """Encodes values into a folder; functions are handed to ``on_function`` (name -> id)."""

    def __init__(self, folder: Path, on_function=None):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.on_function = on_function
        self.count = 0

    def _file(self, suffix: str) -> str:
        self.count += 1
        return f"v{self.count}.{suffix}"

    def encode(self, value, depth: int = 0) -> dict:
        if depth > MAX_DEPTH:
            raise NotPlainData(f"nested deeper than {MAX_DEPTH} levels")
        np = _loaded("numpy")
        if value is None:
            return {"t": "none"}
        if isinstance(value, bool) and not (np and isinstance(value, np.generic)):
            return {"t": "bool", "v": bool(int.__int__(value))}
        if np is not None and isinstance(value, (np.ndarray, np.generic)) or _is_tensor(value):
            return self._array(value, np)
        for kind in (int, float, complex, str, bytes):
            if isinstance(value, kind):
                return self._scalar(kind, value)
        if isinstance(value, (list, tuple, set, frozenset)):
            kind = next(k for k in (list, tuple, set, frozenset) if isinstance(value, k))
            items = kind.__iter__(value)
            return {"t": kind.__name__, "v": [self.encode(item, depth + 1) for item in items]}
        if isinstance(value, dict):
            return {"t": "dict", "v": [[self.encode(k, depth + 1), self.encode(v, depth + 1)]
                                       for k, v in dict.items(value)]}
        if _is_keras_model(value):
            name = self._file("keras")
            try:
                value.save(self.folder / name)
            except RuntimeError:
                model_clone(value).save(self.folder / name)
            return {"t": "keras", "file": name}
        if _is_dataset(value):
            name = self._file("dataset")
            value.save(str(self.folder / name))
            return {"t": "dataset", "file": name}
        if callable(value) and not isinstance(value, type) and self.on_function is not None:
            return {"t": "function", "id": self.on_function(value)}
        raise NotPlainData(f"a {type_name(value)}, which is not plain data (numbers, strings, "
                           "lists, tuples, dicts, NumPy arrays, Keras models, tf.data datasets, "
                           "functions)")

    def _scalar(self, kind, value) -> dict:
        if kind is int:
            return {"t": "int", "v": str(int.__int__(value))}
        if kind is float:
            return {"t": "float", "v": repr(float.__float__(value))}
        if kind is complex:
            z = complex.__complex__(value)
            return {"t": "complex", "v": [repr(z.real), repr(z.imag)]}
        if kind is str:
            return {"t": "str", "v": str.__str__(value)}
        return {"t": "bytes", "v": base64.b64encode(bytes(memoryview(value))).decode("ascii")}

    def _array(self, value, np) -> dict:
        scalar = np is not None and isinstance(value, np.generic)
        array = np.asarray(value.numpy()) if _is_tensor(value) else np.asarray(value)
        if array.dtype.hasobject:
            raise NotPlainData("a NumPy array of Python objects (dtype=object), which is not "
                               "plain data")
        name = self._file("npy")
        np.save(self.folder / name, array, allow_pickle=False)
        return {"t": "npscalar" if scalar else "ndarray", "file": name}


def write(folder: Path, values: dict, on_function=None) -> dict:
    """Write ``{name: value}`` into ``folder``; returns the manifest (a value that is not plain data
    is recorded as refused, with its type, instead of stopping the others)."""
    writer = Writer(folder, on_function)
    manifest = {"values": {}}
    for name, value in values.items():
        try:
            manifest["values"][name] = writer.encode(value)
        except NotPlainData as exc:
            manifest["values"][name] = {"t": "refused", "why": str(exc)}
        except Exception as exc:  # saving a model or a dataset can fail in many ways
            why = f"it could not be saved ({type(exc).__name__}: {exc})"
            manifest["values"][name] = {"t": "refused", "why": why}
    return manifest


def save_manifest(folder: Path, manifest: dict) -> None:
    path = Path(folder) / MANIFEST
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest), encoding="utf-8")
    tmp.replace(path)


# ----------------------------------------------------------------------------- reading (clean room)

class Reader:
    """Decodes a manifest written by :class:`Writer`, trusting nothing in it."""

    def __init__(self, folder: Path, make_function=None):
        self.folder = Path(folder)
        self.make_function = make_function

    def _path(self, node: dict) -> Path:
        name = node.get("file")
        if not isinstance(name, str) or not _FILE.match(name):
            raise NotPlainData("a file name that is not one the grader writes "
                               f"({str(name)[:40]!r})")
        return self.folder / name

    def decode(self, node, depth: int = 0):
        if not isinstance(node, dict) or depth > MAX_DEPTH:
            raise NotPlainData("a malformed entry")
        kind, value = node.get("t"), node.get("v")
        if kind == "none":
            return None
        if kind in _SCALARS:
            return _SCALARS[kind](value)
        if kind in ("list", "tuple", "set", "frozenset") and isinstance(value, list):
            items = [self.decode(item, depth + 1) for item in value]
            return {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[kind](items)
        if kind == "dict" and isinstance(value, list):
            pairs = [p for p in value if isinstance(p, list) and len(p) == 2]
            if len(pairs) != len(value):
                raise NotPlainData("a malformed dict")
            return {self.decode(k, depth + 1): self.decode(v, depth + 1) for k, v in pairs}
        if kind in ("ndarray", "npscalar"):
            import numpy as np

            array = np.load(self._path(node), allow_pickle=False)
            return array[()] if kind == "npscalar" and array.ndim == 0 else array
        if kind == "keras":
            import keras

            return keras.saving.load_model(self._path(node), safe_mode=True)
        if kind == "dataset":
            import tensorflow as tf

            return tf.data.Dataset.load(str(self._path(node)))
        if kind == "function" and self.make_function is not None:
            return self.make_function(str(node.get("id")))
        if kind == "refused":
            raise NotPlainData(str(node.get("why", "not plain data")))
        raise NotPlainData(f"an entry of unknown kind {str(kind)[:20]!r}")


def _float(text) -> float:
    if not isinstance(text, str):
        raise NotPlainData("a malformed float")
    value = float(text)
    if math.isnan(value) and text.strip().lower() not in ("nan", "-nan"):
        raise NotPlainData("a malformed float")
    return value


def _int(text) -> int:
    if not isinstance(text, str) or len(text) > 5000:
        raise NotPlainData("a malformed int")
    return int(text)


def _bool(value) -> bool:
    if not isinstance(value, bool):
        raise NotPlainData("a malformed bool")
    return value


def _str(value) -> str:
    if not isinstance(value, str):
        raise NotPlainData("a malformed str")
    return value


def _complex(value) -> complex:
    if not isinstance(value, list) or len(value) != 2:
        raise NotPlainData("a malformed complex")
    return complex(_float(value[0]), _float(value[1]))


def _bytes(value) -> bytes:
    return base64.b64decode(_str(value), validate=True)


_SCALARS = {"bool": _bool, "int": _int, "float": _float, "complex": _complex, "str": _str,
            "bytes": _bytes}


def read_manifest(folder: Path) -> dict:
    """The manifest of a folder, checked to be a JSON object with a ``values`` object."""
    try:
        manifest = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise NotPlainData(f"an unreadable manifest ({type(exc).__name__})") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("values"), dict):
        raise NotPlainData("a manifest without values")
    return manifest
