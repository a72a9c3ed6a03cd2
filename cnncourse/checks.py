"""Self-checks: run your own function on cases whose answers are known, see what passes.

The visible test cells of notebooks 01-04 call these; you can call them too while you work. A
check prints one line when every case passes and raises :class:`CheckFailed` naming the first
failing case, with its inputs, the expected value and what your function returned (never how to
compute it)::

    from cnncourse import checks
    checks.check_conv2d(my_conv2d)   # check_conv2d: all 5 cases pass ✓  (or: which case failed)

The expected values come from the lectures' worked examples (the 6x6 and 5x5 images, the
output-size table, parameter counts of AlexNet and VGG) and, for random inputs, from an
independent reference (SciPy). Nothing here imports TensorFlow.

Calling conventions (positional, like :mod:`cnncourse.conv`):

========================= ===================================================================
check                     your function is called as
========================= ===================================================================
check_conv2d              ``fn(x, kernel)``; also ``stride=`` if it has that parameter
check_output_size         ``fn(n, f, stride, padding)`` -> int, ValueError when it does not fit
check_conv_params         ``fn(kernel_size, in_channels, filters)`` -> weights + biases
check_receptive_field     ``fn([(kernel, stride), ...])`` -> final ``(size, jump)``
========================= ===================================================================

For a Keras model: ``check_layers(name, model, reference)`` compares it layer by layer with a
reference model (type, output shape, parameters). For anything else:
``check_close(name, got, expected)``, ``check_shape(name, array, shape)`` and
``check_cases(fn, [(args, expected), ...])``.

>>> check_close("two thirds", 2 / 3, 0.6667, atol=1e-3)
two thirds: ok ✓
True
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "CheckFailed",
    "check_cases",
    "check_close",
    "check_conv2d",
    "check_conv_params",
    "check_layers",
    "check_output_size",
    "check_receptive_field",
    "check_shape",
]

PASS_MARK = "✓"
_SMALL = 49  # arrays with at most this many values are printed in full


class CheckFailed(AssertionError):
    """A self-check found a case where the function's answer differs from the known one."""


@dataclass
class _Case:
    """One call of the student's function and its known answer.

    ``expected`` may be an exception class: the call must raise it.
    """

    label: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    expected: Any = None


# ----------------------------------------------------------------------- comparing and showing

def _show(value, indent: str = "    ") -> str:
    if isinstance(value, np.ndarray) or (isinstance(value, list) and value and
                                         isinstance(value[0], (list, np.ndarray))):
        array = np.asarray(value)
        if array.size <= _SMALL:
            body = np.array2string(array, separator=", ", max_line_width=100)
            lines = "\n".join(indent + line for line in body.splitlines())
            return f"array of shape {array.shape}\n{lines}"
        return f"array of shape {array.shape}, dtype {array.dtype}"
    text = repr(value)
    return text if len(text) <= 300 else text[:297] + "..."


def _number_difference(got, expected, atol: float, rtol: float) -> str | None:
    if isinstance(got, (str, bytes)) or np.ndim(got) != 0:
        return f"expected a number, got {type(got).__name__}"
    try:
        number = float(np.asarray(got).item())
    except (TypeError, ValueError):
        return f"expected a number, got {type(got).__name__}"
    return None if np.isclose(number, float(expected), atol=atol, rtol=rtol) else "different value"


def _array_difference(got, expected, atol: float, rtol: float) -> str | None:
    expected_array = np.asarray(expected, dtype=float)
    try:
        got_array = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        return f"expected an array of shape {expected_array.shape}, got {type(got).__name__}"
    if got_array.shape != expected_array.shape:
        return f"shape {got_array.shape} where {expected_array.shape} was expected"
    close = np.isclose(got_array, expected_array, atol=atol, rtol=rtol, equal_nan=True)
    if close.all():
        return None
    first = tuple(int(i) for i in np.argwhere(~close)[0])
    return (f"{int((~close).sum())} of {close.size} values differ; first at index {list(first)}: "
            f"expected {expected_array[first]:g}, got {got_array[first]:g}")


def _difference(got, expected, atol: float, rtol: float) -> str | None:
    """None when ``got`` matches ``expected``, else what differs (shape, first differing value)."""
    if isinstance(expected, (int, float, np.integer, np.floating)):
        return _number_difference(got, expected, atol, rtol)
    if isinstance(expected, (np.ndarray, list, tuple)) and not isinstance(got, str):
        return _array_difference(got, expected, atol, rtol)
    return None if got == expected else "different value"


def _describe_call(args: tuple, kwargs: dict, names: Sequence[str]) -> str:
    shown = []
    for index, value in enumerate(args):
        name = names[index] if index < len(names) else f"arg{index}"
        shown.append(f"  {name} = {_show(value)}")
    shown += [f"  {k} = {_show(v)}" for k, v in kwargs.items()]
    return "\n".join(shown)


def _judge(case: _Case, fn: Callable, header: str, call: str, atol: float, rtol: float) -> None:
    """Run one case; raise CheckFailed saying what was expected and what came back."""
    __tracebackhide__ = True  # noqa: F841  (IPython and pytest hide this frame)
    expects_error = isinstance(case.expected, type) and issubclass(case.expected, BaseException)
    wanted = (f"expected: {case.expected.__name__} raised" if expects_error
              else f"expected: {_show(case.expected)}")
    try:
        got = fn(*case.args, **case.kwargs)
    except Exception as exc:
        if expects_error and isinstance(exc, case.expected):
            return
        raise CheckFailed(f"{header}\ninputs:\n{call}\n{wanted}\ngot: your function raised "
                          f"{type(exc).__name__}: {exc}") from exc
    if expects_error:
        raise CheckFailed(f"{header}\ninputs:\n{call}\n{wanted}\ngot: {_show(got)} (no error)")
    if got is None and case.expected is not None:
        problem = "your function returned None: did it forget `return`?"
    else:
        problem = _difference(got, case.expected, atol, rtol)
    if problem is not None:
        raise CheckFailed(f"{header}\ninputs:\n{call}\n{wanted}\ngot: {_show(got)}\n({problem})")


def _run_cases(check: str, fn: Callable, cases: list[_Case], arg_names: Sequence[str],
               atol: float, rtol: float, note: str = "") -> bool:
    __tracebackhide__ = True  # noqa: F841
    if not callable(fn):
        raise TypeError(f"{check} expects your function (e.g. {check}(my_function)), "
                        f"got {type(fn).__name__}")
    for number, case in enumerate(cases, start=1):
        header = f"{check} failed on case {number} of {len(cases)}: {case.label}"
        _judge(case, fn, header, _describe_call(case.args, case.kwargs, arg_names), atol, rtol)
    print(f"{check}: all {len(cases)} cases pass {PASS_MARK}" + (f" ({note})" if note else ""))
    return True


def check_close(name: str, got, expected, atol: float = 1e-6, rtol: float = 1e-6) -> bool:
    """Check one value (number or array) against the expected one; prints ``name: ok`` or raises."""
    __tracebackhide__ = True  # noqa: F841
    problem = _difference(got, expected, atol, rtol)
    if problem is not None:
        raise CheckFailed(f"{name}: expected {_show(expected)}\ngot {_show(got)}\n({problem})")
    print(f"{name}: ok {PASS_MARK}")
    return True


def check_shape(name: str, array, shape: tuple) -> bool:
    """Check an array's (or tensor's) shape; ``None`` in ``shape`` matches any size."""
    __tracebackhide__ = True  # noqa: F841
    got = tuple(getattr(array, "shape", np.shape(array)))
    ok = len(got) == len(shape) and all(e is None or (g is not None and int(g) == e)
                                        for g, e in zip(got, shape, strict=False))
    if not ok:
        raise CheckFailed(f"{name}: expected shape {tuple(shape)}, got {got}")
    print(f"{name}: shape {got} ok {PASS_MARK}")
    return True


def _layer_rows(model) -> list[tuple[str, tuple, int]]:
    """(type, output shape without the batch axis, parameters) of each layer but the input."""
    return [(type(layer).__name__, tuple(layer.output.shape[1:]), layer.count_params())
            for layer in model.layers if type(layer).__name__ != "InputLayer"]


def check_layers(name: str, model, reference) -> bool:
    """Check a Keras model layer by layer against a reference model: the same layer types in the
    same order, with the same output shapes and parameter counts (names may differ)."""
    __tracebackhide__ = True  # noqa: F841
    got, expected = _layer_rows(model), _layer_rows(reference)
    for number, (mine, wanted) in enumerate(zip(got, expected, strict=False), start=1):
        if mine != wanted:
            raise CheckFailed(f"{name}: layer {number} differs\n"
                              f"expected: {wanted[0]} with output shape {wanted[1]} and "
                              f"{wanted[2]:,} parameters\n"
                              f"got: {mine[0]} with output shape {mine[1]} and "
                              f"{mine[2]:,} parameters")
    if len(got) != len(expected):
        raise CheckFailed(f"{name}: expected {len(expected)} layers (not counting the input), got "
                          f"{len(got)}: {', '.join(row[0] for row in got)}")
    print(f"{name}: all {len(got)} layers match {PASS_MARK}")
    return True


def check_cases(fn: Callable, cases: Sequence, name: str | None = None, atol: float = 1e-6,
                rtol: float = 1e-6) -> bool:
    """Run ``fn`` on ``cases``, ``(args, expected)`` pairs (``args`` a tuple, or one argument)."""
    __tracebackhide__ = True  # noqa: F841
    normalised = []
    for index, case in enumerate(cases, start=1):
        if not (isinstance(case, tuple) and len(case) == 2):
            raise TypeError(f"each case must be an (args, expected) pair, got {case!r}")
        args = case[0] if isinstance(case[0], tuple) else (case[0],)
        normalised.append(_Case(f"case {index}", args, {}, case[1]))
    check = name or f"check of {getattr(fn, '__name__', 'your function')}"
    return _run_cases(check, fn, normalised, _parameter_names(fn), atol, rtol)


def _parameter_names(fn) -> list[str]:
    try:
        return [p.name for p in inspect.signature(fn).parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return []


def _accepts(fn, name: str) -> bool:
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


# ----------------------------------------------------------------------- lecture numbers

_SIX = np.array([[1, 0, 0, 0, 0, 1], [0, 1, 0, 0, 1, 0], [0, 0, 1, 1, 0, 0],
                 [1, 0, 0, 0, 1, 0], [0, 1, 0, 0, 1, 0], [0, 0, 1, 0, 1, 0]])
_FILTER1 = np.array([[1, -1, -1], [-1, 1, -1], [-1, -1, 1]])
_FILTER2 = np.array([[-1, 1, -1]] * 3)
_MAP1 = np.array([[3, -1, -3, -1], [-3, 1, 0, -3], [-3, -3, 0, 1], [3, -2, -2, -1]])
_MAP2 = np.array([[-1, -1, -1, -1], [-1, -1, -2, 1], [-1, -1, -2, 1], [-1, 0, -4, 3]])
_FIVE = np.array([[3, 3, 2, 1, 0], [0, 0, 1, 3, 1], [3, 1, 2, 2, 3], [2, 0, 0, 2, 2],
                  [2, 0, 0, 0, 1]])
_FIVE_KERNEL = np.array([[0, 1, 2], [2, 2, 0], [0, 1, 2]])
_FIVE_OUT = np.array([[12, 12, 17], [10, 17, 19], [9, 6, 14]])


def check_conv2d(fn: Callable, stride: bool | None = None) -> bool:
    """Check a 2-D convolution (cross-correlation, as in deep learning) written by you.

    The lecture's 6x6 image with filters 1 and 2, the 5x5 example, and a random non-square case
    (catches swapped rows and columns), against SciPy's ``correlate2d``. If your function has a
    ``stride`` parameter (or ``stride=True``): also the lecture's stride-2 result.
    """
    __tracebackhide__ = True  # noqa: F841
    from scipy.signal import correlate2d

    stride = _accepts(fn, "stride") if stride is None else stride
    rng = np.random.default_rng(7)
    x = rng.integers(-3, 4, size=(5, 7))
    k = rng.integers(-2, 3, size=(2, 3))
    cases = [
        _Case("lecture 6x6 image, filter 1, stride 1", (_SIX, _FILTER1), {}, _MAP1),
        _Case("lecture 6x6 image, filter 2, stride 1", (_SIX, _FILTER2), {}, _MAP2),
        _Case("lecture 5x5 image, 3x3 kernel", (_FIVE, _FIVE_KERNEL), {}, _FIVE_OUT),
        _Case("random 5x7 image, 2x3 kernel (not square: rows vs columns)", (x, k), {},
              correlate2d(x, k, mode="valid")),
    ]
    if stride:
        cases.append(_Case("lecture 6x6 image, filter 1, stride 2", (_SIX, _FILTER1),
                           {"stride": 2}, np.array([[3, -3], [-3, 0]])))
    note = "" if stride else "stride case skipped: your function has no stride parameter"
    return _run_cases("check_conv2d", fn, cases, ["x", "kernel"], 1e-6, 1e-6, note)


def check_output_size(fn: Callable) -> bool:
    """Check ``fn(n, f, stride, padding)`` = (N + 2P - F) / S + 1 on the lectures' sizes, and a
    ValueError when the filter does not fit (N=7, F=3, S=3 gives 2.33)."""
    __tracebackhide__ = True  # noqa: F841
    table = [  # (n, f, stride, padding) -> size, and where the lecture uses it
        ((7, 3, 1, 0), 5, "7x7 input, 3x3 filter, stride 1"),
        ((7, 3, 2, 0), 3, "7x7 input, 3x3 filter, stride 2"),
        ((7, 3, 1, 1), 7, "7x7 input, 3x3 filter, padding 1 keeps the size"),
        ((32, 5, 1, 0), 28, "32x32 input, 5x5 filter (LeNet)"),
        ((28, 3, 1, 0), 26, "28x28 MNIST digit, 3x3 filter"),
        ((227, 11, 4, 0), 55, "AlexNet CONV1: 227x227, 11x11, stride 4"),
        ((27, 5, 1, 2), 27, "AlexNet CONV2: 27x27, 5x5, padding 2"),
        ((224, 3, 1, 1), 224, "VGG: 224x224, 3x3, padding 1"),
        ((5, 3, 2, 1), 3, "5x5 input, 3x3 filter, padding 1, stride 2"),
        ((7, 3, 3, 0), ValueError, "7x7 input, 3x3 filter, stride 3 does not fit (2.33)"),
    ]
    cases = [_Case(label, args, {}, size) for args, size, label in table]
    return _run_cases("check_output_size", fn, cases, ["n", "f", "stride", "padding"], 0, 0)


def check_conv_params(fn: Callable) -> bool:
    """Check ``fn(kernel_size, in_channels, filters)`` = k·k·C·K weights + K biases."""
    __tracebackhide__ = True  # noqa: F841
    table = [
        ((3, 1, 1), 10, "one shared 3x3 filter on a grey image: 9 + 1"),
        ((3, 3, 16), 448, "16 3x3 filters on an RGB input"),
        ((3, 32, 64), 18_496, "3x3, 32 -> 64 channels (the MNIST convnet)"),
        ((11, 3, 96), 34_944, "AlexNet CONV1: 96 11x11 filters on RGB"),
        ((3, 64, 128), 73_856, "VGG16 block2_conv1"),
    ]
    cases = [_Case(label, args, {}, n) for args, n, label in table]
    names = ["kernel_size", "in_channels", "filters"]
    return _run_cases("check_conv_params", fn, cases, names, 0, 0)


def check_receptive_field(fn: Callable) -> bool:
    """Check ``fn(layers)`` -> final ``(size, jump)`` for lists of ``(kernel, stride)``."""
    __tracebackhide__ = True  # noqa: F841
    table = [  # layers, final (size, jump), label
        ([(3, 2), (3, 2)], (7, 4), "kernel 3, stride 2, twice (the 5x5 example)"),
        ([(3, 1)] * 3, (7, 1), "three stacked 3x3 convolutions see 7x7"),
        ([(11, 4), (3, 2)], (19, 8), "AlexNet CONV1 then POOL1"),
        ([(5, 1), (2, 2), (5, 1), (2, 2)], (16, 4), "LeNet-5: conv 5, pool 2, conv 5, pool 2"),
    ]
    cases = [_Case(label, (layers,), {}, final) for layers, final, label in table]
    return _run_cases("check_receptive_field", fn, cases, ["layers"], 0, 0)
