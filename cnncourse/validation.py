"""Argument checks used by every public function of the package: one rule, one message style.

The rule: **TypeError** when an argument has the wrong type (a float where an int belongs, a string
where a model belongs), **ValueError** when the type is right but the value is not (a class count of
0, a dropout of 1.5, a mode that does not exist). Every message says what was expected and what was
given. Every check takes ``(name, value, ...)`` in that order and returns the checked value, so a
builder reads ``units = validation.integer("units", units)``.

This module imports neither numpy nor TensorFlow (the CLI and the student edition use it too);
NumPy integers are accepted wherever an int is, through :mod:`numbers`.
"""

from __future__ import annotations

import numbers
from collections.abc import Collection, Mapping


def _given(value) -> str:
    return f"{type(value).__name__} {value!r}"


def integer(name: str, value, minimum: int = 1, *, allow_none: bool = False) -> int | None:
    """An int (bool excluded) of at least ``minimum``; ``None`` passes when ``allow_none``."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        expected = "an int or None" if allow_none else "an int"
        raise TypeError(f"{name} must be {expected}, got {_given(value)}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def number(name: str, value, low: float | None = None, high: float | None = None,
           closed: str = "[]") -> float:
    """A real number (bool excluded) in the interval ``low..high``.

    ``closed`` says which ends belong to it, as the interval is written: ``"[]"``, ``"[)"``,
    ``"(]"`` or ``"()"``; a missing bound (``None``) is open-ended.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {_given(value)}")
    too_low = low is not None and (value < low if closed[0] == "[" else value <= low)
    too_high = high is not None and (value > high if closed[1] == "]" else value >= high)
    if too_low or too_high or value != value:  # the last catches NaN
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise ValueError(f"{name} must be in {closed[0]}{lo}, {hi}{closed[1]}, got {value!r}")
    return float(value)


def dropout(name: str, value) -> float:
    """A dropout rate: a number in [0, 1)."""
    return number(name, value, 0, 1, "[)")


def one_of(name: str, value, choices: Collection):
    """One of a fixed set of choices (ValueError otherwise: the set is the expectation)."""
    try:
        allowed = value in choices
    except TypeError:  # an unhashable value asked of a set
        allowed = False
    if not allowed:
        shown = sorted(choices) if isinstance(choices, set | frozenset) else tuple(choices)
        raise ValueError(f"{name} must be one of {shown}, got {value!r}")
    return value


def shape(name: str, value, rank: int | None = None, example: str = "") -> tuple[int, ...]:
    """A non-empty tuple of positive ints, of exactly ``rank`` entries when given."""
    if isinstance(value, str | bytes):
        raise TypeError(f"{name} must be a tuple of ints, got {_given(value)}")
    try:
        dims = tuple(value)
    except TypeError:
        raise TypeError(f"{name} must be a tuple of ints, got {_given(value)}") from None
    if any(isinstance(d, bool) or not isinstance(d, numbers.Integral) for d in dims):
        raise TypeError(f"{name} must be a tuple of ints, got {value!r}")
    if not dims or any(d < 1 for d in dims):
        raise ValueError(f"{name} must be a tuple of positive ints, got {value!r}")
    if rank is not None and len(dims) != rank:
        hint = f", e.g. {example}" if example else ""
        raise ValueError(f"{name} must have {rank} entries{hint}, got {value!r}")
    return tuple(int(d) for d in dims)


def image_shape(name: str, value) -> tuple[int, int, int]:
    """An image shape for a convnet: (height, width, channels) of positive ints."""
    return shape(f"{name} (height, width, channels)", value, 3, "(28, 28, 1)")


def numeric_array(name: str, value, shapes: Mapping[int, str] | None = None):
    """A NumPy array of numbers (bool, int or float) made from ``value`` (imports NumPy when
    called). With ``shapes`` (``{rank: "(H, W)", ...}``) it must also have one of those ranks and
    not be empty."""
    import numpy as np

    if value is None or isinstance(value, str | bytes):
        raise TypeError(f"{name} must be an array of numbers, got {type(value).__name__}")
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers, got an array of dtype {array.dtype}")
    if shapes is not None:
        if array.ndim not in shapes:
            *most, last = shapes.values()
            expected = f"{', '.join(most)} or {last}" if most else last
            raise ValueError(f"{name} must have shape {expected}, got shape {array.shape}")
        if 0 in array.shape:
            raise ValueError(f"{name} must not be empty, got shape {array.shape}")
    return array


def binary_labels(name: str, value, both_classes: bool = False):
    """Binary labels as a flat int array of 0 (negative) and 1 (positive); with ``both_classes``
    each must occur (a ROC curve needs both)."""
    import numpy as np

    labels = numeric_array(name, value).ravel()
    found = np.unique(labels).tolist()
    if labels.size == 0 or not set(found) <= {0, 1}:
        raise ValueError(f"{name} must hold binary labels 0 and 1, got values {found[:5]}")
    if both_classes and len(found) != 2:
        raise ValueError(f"{name} must hold both classes 0 and 1, got only {found}")
    return labels.astype(int)


def keras_model(name: str, value):
    """A keras.Model (imports Keras only when called)."""
    import keras

    if not isinstance(value, keras.Model):
        raise TypeError(f"{name} must be a keras.Model, got {type(value).__name__}")
    return value
