"""Convolution, padding, stride and pooling by hand, in NumPy (no TensorFlow needed).

What deep-learning frameworks call *convolution* is cross-correlation: slide the kernel over
the image and take a dot product at every position. :func:`conv2d` computes exactly what
``tf.nn.conv2d`` and ``keras.layers.Conv2D`` compute (for one image, channels last);
:func:`conv2d_naive` is the same thing written as plain loops, to read beside the lecture.

>>> image = [[3, 3, 2, 1, 0], [0, 0, 1, 3, 1], [3, 1, 2, 2, 3], [2, 0, 0, 2, 2], [2, 0, 0, 0, 1]]
>>> conv2d(image, [[0, 1, 2], [2, 2, 0], [0, 1, 2]])
array([[12, 12, 17],
       [10, 17, 19],
       [ 9,  6, 14]])
>>> output_size(7, 3, stride=2)
3

Shapes are channels last: an image is (H, W) or (H, W, C); a kernel is (kh, kw) for a 2-D
image, (kh, kw, C) for one filter on C channels, or (kh, kw, C, K) for K filters (Keras's
layout). Integer inputs give integer outputs, so the lecture's numbers print as they appear
on the slides.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cnncourse import validation as check

__all__ = [
    "KERNELS",
    "ReceptiveField",
    "avg_pool2d",
    "conv2d",
    "conv2d_naive",
    "convolve2d",
    "max_pool2d",
    "max_pool2d_backward",
    "output_size",
    "pad",
    "padding_widths",
    "plot_conv_steps",
    "receptive_field",
    "relu",
    "same_padding",
]

PADDING_MODES = ("valid", "same", "full")
#: The array shapes an image and a kernel may have, by rank.
_IMAGE_SHAPES = {2: "(H, W)", 3: "(H, W, C)"}
_KERNEL_SHAPES = {2: "(kh, kw)", 3: "(kh, kw, C)", 4: "(kh, kw, C, K)"}
OUTPUT_SIZE_MODES = ("strict", "floor", "ceil")


def _readonly(values, scale=1):
    array = np.array(values, dtype=float) * scale
    array.flags.writeable = False
    return array


#: The classic 3x3 and 5x5 image kernels of the lecture slide (read-only arrays). They are
#: used as cross-correlation kernels (what ``conv2d`` and Keras apply); all of them except
#: the first edge detector are symmetric, so flipping them (true convolution) changes nothing.
KERNELS: dict[str, np.ndarray] = {
    "identity": _readonly([[0, 0, 0], [0, 1, 0], [0, 0, 0]]),
    "edge_detection_1": _readonly([[1, 0, -1], [0, 0, 0], [-1, 0, 1]]),
    "edge_detection_2": _readonly([[0, -1, 0], [-1, 4, -1], [0, -1, 0]]),
    "edge_detection_3": _readonly([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]]),
    "sharpen": _readonly([[0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
    "box_blur": _readonly(np.ones((3, 3)), 1 / 9),
    "gaussian_blur_3x3": _readonly([[1, 2, 1], [2, 4, 2], [1, 2, 1]], 1 / 16),
    "gaussian_blur_5x5": _readonly(np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]), 1 / 256),
}


# --------------------------------------------------------------------------- argument checks


def _pair(value, name: str, minimum: int = 1) -> tuple[int, int]:
    """An int or a pair of ints (rows, columns), each at least ``minimum``."""
    if isinstance(value, (tuple, list, np.ndarray)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair (rows, columns), got {value!r}")
        return (check.integer(f"{name}[0]", value[0], minimum),
                check.integer(f"{name}[1]", value[1], minimum))
    n = check.integer(name, value, minimum)
    return n, n


def _as_image(x, name: str = "x") -> np.ndarray:
    """x as an (H, W, C) array (a 2-D image gets C = 1)."""
    x = check.numeric_array(name, x, _IMAGE_SHAPES)
    return x[:, :, None] if x.ndim == 2 else x


def _as_kernel(kernel, channels: int) -> tuple[np.ndarray, bool]:
    """kernel as (kh, kw, C, K), and whether the output has a filter axis (4-D kernel)."""
    k = check.numeric_array("kernel", kernel, _KERNEL_SHAPES)
    has_filter_axis = k.ndim == 4
    k = k.reshape(k.shape[:2] + (k.shape[2] if k.ndim > 2 else 1, k.shape[3] if k.ndim > 3 else 1))
    if k.shape[2] != channels:
        raise ValueError(
            f"kernel has {k.shape[2]} input channel(s) (shape {np.shape(kernel)}) but the image "
            f"has {channels}; a kernel must cover every channel of its input"
        )
    return k, has_filter_axis


def _result_dtype(*arrays) -> np.dtype:
    dtype = np.result_type(*arrays)
    if dtype.kind in "biu":
        return np.dtype(np.int64)
    return np.result_type(dtype, np.float32)


def same_padding(n: int, f: int, stride: int = 1, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's "same" padding along one axis: (before, after) zeros.

    The output has ceil(n / stride) positions; the padding needed for that is split with the
    extra pixel *after* (bottom/right) when the total is odd, exactly as TensorFlow does.
    With stride > 1 the total depends on n, so it can be asymmetric even for odd kernels:

    >>> same_padding(5, 3, stride=1)
    (1, 1)
    >>> same_padding(6, 3, stride=2)
    (0, 1)
    """
    n, f = check.integer("n", n, 1), check.integer("f", f, 1)
    stride, dilation = check.integer("stride", stride, 1), check.integer("dilation", dilation, 1)
    effective = (f - 1) * dilation + 1
    out = -(-n // stride)
    total = max((out - 1) * stride + effective - n, 0)
    return total // 2, total - total // 2


def _padding_widths(padding, shape, kernel_shape, stride, dilation) -> tuple[tuple[int, int], ...]:
    """((top, bottom), (left, right)) for an int, a pair, explicit widths or a mode name."""
    if isinstance(padding, str):
        mode = padding.lower()
        if mode not in PADDING_MODES:
            raise ValueError(
                f"padding must be an int, a pair or one of {PADDING_MODES}, got {padding!r}"
            )
        if mode == "valid":
            return (0, 0), (0, 0)
        if mode == "full":
            return tuple(((f - 1) * d, (f - 1) * d)
                         for f, d in zip(kernel_shape, dilation, strict=True))
        return tuple(same_padding(n, f, s, d)
                     for n, f, s, d in zip(shape, kernel_shape, stride, dilation, strict=True))
    if isinstance(padding, (tuple, list)) and len(padding) == 2 and all(
            isinstance(p, (tuple, list)) for p in padding):
        return tuple(_pair(p, "padding", minimum=0) for p in padding)
    p_rows, p_cols = _pair(padding, "padding", minimum=0)
    return (p_rows, p_rows), (p_cols, p_cols)


def padding_widths(padding, input_shape, kernel_shape, stride=1, dilation=1):
    """The zeros a convolution adds: ((top, bottom), (left, right)) for any ``padding`` argument.

    >>> padding_widths("same", (6, 6), (3, 3), stride=2)   # TensorFlow: the extra zero goes last
    ((0, 1), (0, 1))
    >>> padding_widths("full", (5, 5), (3, 3))
    ((2, 2), (2, 2))
    """
    if len(input_shape) < 2 or len(kernel_shape) < 2:
        raise ValueError(f"input_shape and kernel_shape need (rows, columns), "
                         f"got {input_shape} and {kernel_shape}")
    shape = tuple(check.integer("input_shape", n, 1) for n in input_shape[:2])
    kernel = tuple(check.integer("kernel_shape", n, 1) for n in kernel_shape[:2])
    stride, dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
    return _padding_widths(padding, shape, kernel, stride, dilation)


def _pad_hw(image, widths, value=0):
    """Pad an (H, W, C) array along H and W (np.pad's result, several times faster on small
    images)."""
    (top, bottom), (left, right) = widths
    if top == bottom == left == right == 0:
        return image
    h, w, c = image.shape
    dtype = np.result_type(image, np.min_scalar_type(value)) if value != 0 else image.dtype
    padded = np.full((h + top + bottom, w + left + right, c), value, dtype=dtype)
    padded[top:top + h, left:left + w] = image
    return padded


def pad(x, width, value=0):
    """Surround an (H, W) or (H, W, C) image with ``value`` (zero padding by default).

    ``width`` is an int (same on every side), a pair (rows, columns) or explicit
    ((top, bottom), (left, right)). Channels are never padded.

    >>> pad(np.ones((7, 7)), 2).shape
    (11, 11)
    """
    image = _as_image(x)
    if isinstance(width, str):
        raise TypeError(
            f"pad width must be an int, a pair or ((top, bottom), (left, right)), got {width!r}"
        )
    padded = _pad_hw(image, _padding_widths(width, None, None, None, None), value)
    return padded if np.ndim(x) == 3 else padded[:, :, 0]


def relu(x):
    """Rectified linear unit, max(x, 0) elementwise."""
    x = check.numeric_array("x", x)
    return np.maximum(x, 0)


# --------------------------------------------------------------------------- output size


def output_size(n, f, stride=1, padding=0, mode="strict", dilation=1) -> int:
    """Output length of a convolution or pooling along one axis: (N + 2P - F) / S + 1.

    ``padding`` is an int P or "valid" (P = 0), "full" (P = F - 1) or "same" (TensorFlow's
    rule: ceil(N / S), whatever the kernel). When S does not divide N + 2P - F the filter
    does not fit the image evenly, and ``mode`` decides:

    - ``"strict"`` (default): raise a ValueError that shows the arithmetic;
    - ``"floor"``: drop the positions that would overhang (Keras/TensorFlow "valid");
    - ``"ceil"``: keep a last, overhanging position (Caffe's and PyTorch's ``ceil_mode``
      pooling): ceil((N + 2P - F) / S) + 1.

    With ``dilation`` D the kernel spans (F - 1) * D + 1 pixels, which replaces F.

    >>> output_size(7, 3, stride=1), output_size(7, 3, stride=2), output_size(7, 3, padding=1)
    (5, 3, 7)
    >>> output_size(7, 3, stride=3, mode="floor"), output_size(7, 3, stride=3, mode="ceil")
    (2, 3)
    """
    n, f = check.integer("n (input size)", n, 1), check.integer("f (filter size)", f, 1)
    stride, dilation = check.integer("stride", stride, 1), check.integer("dilation", dilation, 1)
    check.one_of("mode", mode, OUTPUT_SIZE_MODES)
    span = (f - 1) * dilation + 1
    if isinstance(padding, str):
        if padding.lower() not in PADDING_MODES:
            raise ValueError(f"padding must be an int or one of {PADDING_MODES}, got {padding!r}")
        if padding.lower() == "same":
            return -(-n // stride)
        padding = 0 if padding.lower() == "valid" else span - 1
    p = check.integer("padding", padding, 0)
    room = n + 2 * p - span
    what = f"(N + 2P - F) / S + 1 = ({n} + 2*{p} - {span}) / {stride} + 1"
    if room < 0:
        raise ValueError(f"the filter ({span} pixels) is larger than the padded input "
                         f"({n} + 2*{p} = {n + 2 * p} pixels): {what} = {room / stride + 1:.2f}")
    if room % stride == 0:
        return room // stride + 1
    if mode == "strict":
        raise ValueError(
            f"the filter does not fit: {what} = {room / stride + 1:.2f} is not a whole number "
            f"(stride {stride} does not divide {room}). Change the padding or stride, or pass "
            f"mode='floor' (what Keras does for 'valid': {room // stride + 1}) or "
            f"mode='ceil' ({-(-room // stride) + 1})"
        )
    return room // stride + 1 if mode == "floor" else -(-room // stride) + 1


# --------------------------------------------------------------------------- convolution


def _prepare(x, kernel, stride, padding, bias, dilation):
    """Validate and pad: (padded image, (kh, kw, C, K) kernel, strides, dilations, bias,
    shape info)."""
    image = _as_image(x)
    k, has_filter_axis = _as_kernel(kernel, image.shape[2])
    stride, dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
    widths = _padding_widths(padding, image.shape[:2], k.shape[:2], stride, dilation)
    padded = _pad_hw(image, widths)
    spans = [(f - 1) * d + 1 for f, d in zip(k.shape[:2], dilation, strict=True)]
    for axis, name in ((0, "height"), (1, "width")):
        if spans[axis] > padded.shape[axis]:
            raise ValueError(
                f"the kernel ({k.shape[0]}x{k.shape[1]}, spanning {spans[0]}x{spans[1]} pixels) is "
                f"larger than the padded input ({padded.shape[0]}x{padded.shape[1]}) in {name}"
            )
    n_filters = k.shape[3]
    if bias is None:
        b = np.zeros(n_filters, dtype=image.dtype if image.dtype.kind == "f" else np.int64)
    else:
        b = check.numeric_array("bias", bias)
        if b.ndim == 0:
            b = np.full(n_filters, b)
        elif b.shape != (n_filters,):
            raise ValueError(f"bias must be a scalar or have one value per filter, "
                             f"shape ({n_filters},), got shape {b.shape}")
    dtype = _result_dtype(image, k, b)
    out_shape = tuple((padded.shape[a] - spans[a]) // stride[a] + 1 for a in (0, 1))
    return padded, k, stride, dilation, b, dtype, out_shape, has_filter_axis


def _finish(out, has_filter_axis):
    return out if has_filter_axis else out[:, :, 0]


def conv2d_naive(x, kernel, stride=1, padding=0, bias=None, dilation=1):
    """:func:`conv2d` written as plain loops over output rows, columns and filters (for reading).

    Each output value is one dot product: the kernel laid over a window of the padded image,
    multiplied elementwise and summed, plus the filter's bias.
    """
    padded, k, (sh, sw), (dh, dw), b, dtype, (out_h, out_w), has_filter_axis = _prepare(
        x, kernel, stride, padding, bias, dilation)
    kh, kw, _, n_filters = k.shape
    out = np.zeros((out_h, out_w, n_filters), dtype=dtype)
    for i in range(out_h):                       # output row
        for j in range(out_w):                   # output column
            top, left = i * sh, j * sw           # where the window starts in the padded image
            window = padded[top:top + (kh - 1) * dh + 1:dh, left:left + (kw - 1) * dw + 1:dw, :]
            for f in range(n_filters):           # one dot product per filter
                out[i, j, f] = np.sum(window * k[:, :, :, f]) + b[f]
    return _finish(out, has_filter_axis)


def conv2d(x, kernel, stride=1, padding=0, bias=None, dilation=1):
    """2-D convolution as deep-learning frameworks define it (cross-correlation, kernel not
    flipped).

    x: (H, W) or (H, W, C). kernel: (kh, kw), (kh, kw, C) or (kh, kw, C, K).
    Returns (H', W') for a 2-D or 3-D kernel and (H', W', K) for a 4-D kernel.

    stride: int or (rows, columns). padding: an int, a pair (rows, columns),
    ((top, bottom), (left, right)), or "valid" (none), "same" (TensorFlow's rule, see
    :func:`same_padding`: output ceil(H / stride), extra pixel bottom/right) or "full"
    (F - 1 zeros on every side). bias: a number, or one per filter (K,). dilation: spacing
    between kernel taps (1 = ordinary convolution). When the stride does not divide the
    padded size the last partial window is dropped, as Keras does.

    Vectorised with im2col: every window is copied into one row of a matrix (H'W' x kh*kw*C),
    and a single matrix product with the (kh*kw*C x K) kernel gives all outputs at once.
    """
    padded, k, (sh, sw), (dh, dw), b, dtype, (out_h, out_w), has_filter_axis = _prepare(
        x, kernel, stride, padding, bias, dilation)
    kh, kw, channels, n_filters = k.shape
    windows = sliding_window_view(padded, ((kh - 1) * dh + 1, (kw - 1) * dw + 1), axis=(0, 1))
    windows = windows[::sh, ::sw, :, ::dh, ::dw][:out_h, :out_w]   # (H', W', C, kh, kw)
    columns = windows.transpose(0, 1, 3, 4, 2).reshape(out_h * out_w, kh * kw * channels)
    weights = k.reshape(kh * kw * channels, n_filters)
    out = columns.astype(dtype, copy=False) @ weights.astype(dtype, copy=False)
    out = out.reshape(out_h, out_w, n_filters)
    if bias is not None:
        out += b.astype(dtype, copy=False)
    return _finish(out, has_filter_axis)


def convolve2d(x, kernel, stride=1, padding=0, bias=None, dilation=1):
    """Mathematical convolution: :func:`conv2d` with the kernel flipped in both spatial axes.

    (f * g)(t) = sum over tau of f(tau) g(t - tau): the kernel is read backwards. For
    ``padding="full"`` and ``"valid"`` this equals ``scipy.signal.convolve2d(x, kernel, mode)``.
    For ``"same"`` with an odd kernel too; with an even kernel TensorFlow's "same" padding puts
    the extra zero at the bottom/right while SciPy centres the other way, one pixel apart.
    """
    k = check.numeric_array("kernel", kernel, _KERNEL_SHAPES)
    return conv2d(x, k[::-1, ::-1], stride=stride, padding=padding, bias=bias, dilation=dilation)


# --------------------------------------------------------------------------- pooling


def _pool_windows(x, size, stride, padding, fill):
    """(windows (H', W', C, ph, pw), valid-mask windows or None, image (H, W, C), widths)."""
    image = _as_image(x)
    size = _pair(size, "size")
    stride = size if stride is None else _pair(stride, "stride")
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ValueError(f"pooling padding must be 'valid' or 'same', got {padding!r}")
    widths = _padding_widths(padding, image.shape[:2], size, stride, (1, 1))
    for axis, name in ((0, "height"), (1, "width")):
        if size[axis] > image.shape[axis] + sum(widths[axis]):
            raise ValueError(
                f"pool size {size} is larger than the input {image.shape[:2]} in {name}"
            )
    padded = _pad_hw(image, widths, fill)
    windows = sliding_window_view(padded, size, axis=(0, 1))[::stride[0], ::stride[1]]
    out_h = (padded.shape[0] - size[0]) // stride[0] + 1
    out_w = (padded.shape[1] - size[1]) // stride[1] + 1
    return windows[:out_h, :out_w], image, widths, size, stride


def _pool_input(x) -> tuple[np.ndarray, float]:
    """The image as (H, W, C), integers widened to int64, and the padding value that never wins
    a max (-inf, or the smallest int64)."""
    image = _as_image(x)
    if image.dtype.kind in "biu":
        return image.astype(np.int64), np.iinfo(np.int64).min
    return image, -np.inf


def max_pool2d(x, size=2, stride=None, padding="valid"):
    """Max pooling of an (H, W) or (H, W, C) image, each channel on its own (like keras
    MaxPooling2D).

    size and stride: int or (rows, columns); stride defaults to size (non-overlapping windows).
    padding: "valid" (drop windows that overhang) or "same" (TensorFlow's rule; padded
    positions never win).

    >>> max_pool2d([[1, 2, 0, 1], [3, 4, 1, 0], [0, 0, 5, 6], [1, 0, 7, 8]])
    array([[4, 1],
           [1, 8]])
    """
    image, fill = _pool_input(x)
    windows, *_ = _pool_windows(image, size, stride, padding, fill)
    out = windows.max(axis=(-2, -1))
    return out if np.ndim(x) == 3 else out[:, :, 0]


def avg_pool2d(x, size=2, stride=None, padding="valid"):
    """Average pooling (like keras AveragePooling2D). With "same" padding each window is averaged
    over the pixels it really covers (padded zeros are not counted), as TensorFlow does."""
    windows, image, widths, size_, stride_ = _pool_windows(x, size, stride, padding, 0)
    sums = windows.astype(_result_dtype(image, np.float32), copy=False).sum(axis=(-2, -1))
    ones = np.ones(image.shape[:2] + (1,))
    counts, *_ = _pool_windows(ones, size_, stride_, padding, 0)
    out = sums / counts.sum(axis=(-2, -1))
    return out if np.ndim(x) == 3 else out[:, :, 0]


def max_pool2d_backward(x, grad_out, size=2, stride=None, padding="valid"):
    """Gradient of :func:`max_pool2d` with respect to its input.

    Each upstream gradient ``grad_out[i, j]`` goes to the one input pixel that was the maximum
    of window (i, j) (the first one, reading row by row, if several tie, as TensorFlow does);
    every other pixel of the window gets 0. When windows overlap (stride < size) a pixel that
    wins several windows receives the sum of their gradients.
    """
    image, fill = _pool_input(x)
    windows, _, widths, size, stride = _pool_windows(image, size, stride, padding, fill)
    out_h, out_w, channels = windows.shape[:3]
    grad = _as_image(grad_out, "grad_out")
    if grad.shape != (out_h, out_w, channels):
        expected = (out_h, out_w, channels) if np.ndim(x) == 3 else (out_h, out_w)
        raise ValueError(f"grad_out must have the pooled output's shape {expected}, "
                         f"got {np.shape(grad_out)}")
    winner = windows.reshape(out_h, out_w, channels, -1).argmax(axis=-1)   # first maximum
    rows = np.arange(out_h)[:, None, None] * stride[0] + winner // size[1] - widths[0][0]
    cols = np.arange(out_w)[None, :, None] * stride[1] + winner % size[1] - widths[1][0]
    chans = np.broadcast_to(np.arange(channels), winner.shape)
    dx = np.zeros(image.shape, dtype=_result_dtype(grad))
    np.add.at(dx, (rows, cols, chans), grad)
    return dx if np.ndim(x) == 3 else dx[:, :, 0]


# --------------------------------------------------------------------------- receptive field


class ReceptiveField(NamedTuple):
    """After one layer: how many input pixels one output sees (size), and how far apart in
    input pixels two neighbouring outputs are (jump, the effective stride)."""

    size: int
    jump: int


def receptive_field(layers) -> list[ReceptiveField]:
    """Receptive field and jump after each layer of a stack of convolutions / poolings.

    ``layers``: a list of (kernel, stride) or (kernel, stride, dilation). Padding does not
    change the receptive field. With r the receptive field and j the jump so far (both 1 on
    the input): r += (span - 1) * j, where span = (kernel - 1) * dilation + 1; then j *= stride.

    >>> receptive_field([(3, 2), (3, 2)])
    [ReceptiveField(size=3, jump=2), ReceptiveField(size=7, jump=4)]
    >>> [r.size for r in receptive_field([(3, 1)] * 3)]
    [3, 5, 7]
    """
    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
        raise TypeError(
            f"layers must be a list of (kernel, stride[, dilation]) tuples, got {layers!r}"
        )
    size, jump, result = 1, 1, []
    for index, layer in enumerate(layers):
        if not isinstance(layer, (tuple, list)) or len(layer) not in (2, 3):
            raise ValueError(f"layer {index} must be (kernel, stride) or (kernel, stride, "
                             f"dilation), got {layer!r}")
        kernel = check.integer(f"layer {index} kernel", layer[0], 1)
        stride = check.integer(f"layer {index} stride", layer[1], 1)
        dilation = check.integer(f"layer {index} dilation", layer[2], 1) if len(layer) == 3 else 1
        size += ((kernel - 1) * dilation) * jump
        jump *= stride
        result.append(ReceptiveField(size, jump))
    return result



# --------------------------------------------------------------------------- figure


def _number(v) -> str:
    return f"{v:g}" if abs(v - round(v)) < 1e-9 else f"{v:.2f}"


def _number_grid(ax, values, shade, annotate: bool) -> None:
    """``shade`` as grey cells, with ``values`` written in them (NaN: left empty)."""
    ax.imshow(shade, cmap="Greys", vmin=0, vmax=3)
    ax.set_xticks([])
    ax.set_yticks([])
    if annotate:
        for (r, c), v in np.ndenumerate(values):
            if not np.isnan(v):
                ax.text(c, r, _number(v), ha="center", va="center", fontsize=8)


def _output_steps(out_shape, steps) -> list[tuple[int, int]]:
    """The checked output positions to draw; by default the first two, the first of the next row
    and the last."""
    rows, cols = out_shape
    if steps is None:
        steps = [(0, 0), (0, min(1, cols - 1)), (min(1, rows - 1), 0), (rows - 1, cols - 1)]
        return list(dict.fromkeys(steps))
    for step in steps:
        if not (len(step) == 2 and 0 <= step[0] < rows and 0 <= step[1] < cols):
            raise ValueError(f"step {step} is not an output position; "
                             f"the output is {rows}x{cols}")
    return [tuple(step) for step in steps]


def plot_conv_steps(x, kernel, stride=1, padding=0, steps=None, size: float = 2.6, title=None):
    """Step-by-step figure of the sliding window: one column per step.

    Top row: the padded input (padding in grey), the kernel's window outlined in red. Bottom
    row: the output map filled up to that step, the value just computed outlined. ``steps``
    lists output positions (row, column); by default the first two, the first of the next row
    and the last. Works for a 2-D image and a 2-D kernel; returns the matplotlib figure.
    """
    import matplotlib.patches as patches
    import matplotlib.pyplot as plt

    image, k = np.asarray(x), np.asarray(kernel)
    if image.ndim != 2 or k.ndim != 2:
        raise ValueError(f"plot_conv_steps draws a 2-D image and a 2-D kernel, "
                         f"got shapes {image.shape} and {k.shape}")
    out = conv2d(image, k, stride=stride, padding=padding)
    (top, bottom), (left, right) = padding_widths(padding, image.shape, k.shape, stride)
    padded = pad(image, ((top, bottom), (left, right)))
    sh, sw = _pair(stride, "stride")
    steps = _output_steps(out.shape, steps)
    order = {(i, j): n for n, (i, j) in enumerate(np.ndindex(out.shape))}
    fig, axes = plt.subplots(2, len(steps), figsize=(size * len(steps), size * 2.4), squeeze=False)
    is_pad = np.ones(padded.shape, bool)
    is_pad[top:top + image.shape[0], left:left + image.shape[1]] = False
    annotate = max(padded.shape) <= 12
    for col, (i, j) in enumerate(steps):
        ax = axes[0, col]
        _number_grid(ax, padded.astype(float), is_pad * 1.0, annotate)
        ax.add_patch(patches.Rectangle((j * sw - 0.5, i * sh - 0.5), k.shape[1], k.shape[0],
                                       fill=False, edgecolor="red", linewidth=2.5))
        ax.set_title(f"window at row {i * sh}, col {j * sw}", fontsize=9)
        done = np.full(out.shape, np.nan)
        for (r, c), n in order.items():
            if n <= order[(i, j)]:
                done[r, c] = out[r, c]
        ax = axes[1, col]
        _number_grid(ax, done, np.where(np.isnan(done), 0.0, 0.6), annotate)
        ax.add_patch(patches.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red",
                                       linewidth=2.5))
        ax.set_title(f"output[{i}, {j}] = {_number(float(out[i, j]))}", fontsize=9)
    kernel_rows = ""
    if k.size <= 25:
        kernel_rows = " / ".join(" ".join(_number(float(v)) for v in row) for row in k)
    fig.suptitle(title or f"{image.shape[0]}x{image.shape[1]} input, "
                 f"{k.shape[0]}x{k.shape[1]} kernel, stride {stride}, padding {padding!r} "
                 f"-> {out.shape[0]}x{out.shape[1]} output"
                 + (f"\nkernel rows: {kernel_rows}; top: input (grey = padding), bottom: output"
                    if kernel_rows else ""), fontsize=10)
    fig.tight_layout()
    plt.close(fig)
    return fig
