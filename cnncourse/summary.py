"""Layer accounting: the lecture's tables, computed from the model itself.

``parameter_table(model)`` lists every layer with its output shape, parameter count and the
arithmetic behind it (e.g. ``3x3x32x64 + 64 = 18,496``), as the lecture derives them by hand.

``layer_table(model)`` is the architecture lectures' table (VGG16's "memory / params" slide):
per layer the output shape, weights and biases, activations stored for one image and their
memory in float32 and mixed precision, and multiply-accumulates; ``count_macs(model)`` the
total multiply-adds of a forward pass (VGG16: 15.5 billion).
"""

from __future__ import annotations

import pandas as pd

from cnncourse import validation as check
from cnncourse.nested import leaf_layers


def _shape(layer) -> str:
    try:
        shape = layer.output.shape
    except (AttributeError, ValueError):
        return "?"
    return "x".join(str(d) for d in shape[1:]) or "scalar"


def parameter_arithmetic(layer) -> str:
    """How the layer's parameter count is derived, e.g. '3x3x32x64 + 64 = 18,496'."""
    total = layer.count_params()
    if total == 0:
        return "0"
    parts = []
    for weight in layer.weights:
        dims = [int(d) for d in weight.shape]
        parts.append("x".join(map(str, dims)) if len(dims) > 1 else str(dims[0]))
    arithmetic = " + ".join(parts)
    return f"{arithmetic} = {total:,}" if len(parts) > 1 or "x" in arithmetic else f"{total:,}"


def parameter_table(model, nested: bool = False) -> pd.DataFrame:
    """Per-layer table: name, type, output shape, parameters, arithmetic; total in
    ``.attrs['total']``.

    With ``nested=True`` the layers of nested models are listed one by one.
    """
    check.keras_model("model", model)
    layers = leaf_layers(model) if nested else list(model.layers)
    rows = [
        {
            "layer": layer.name,
            "type": type(layer).__name__,
            "output shape": _shape(layer),
            "parameters": layer.count_params(),
            "arithmetic": parameter_arithmetic(layer),
        }
        for layer in layers
    ]
    columns = ["layer", "type", "output shape", "parameters", "arithmetic"]
    table = pd.DataFrame(rows, columns=columns)
    table.attrs["total"] = int(model.count_params())
    return table


# ---------------------------------------------------------------------------------------------
# Multiply-accumulates and activation memory
# ---------------------------------------------------------------------------------------------

#: Bytes per stored activation: float32, and float16 under the "mixed_float16" policy.
BYTES_FLOAT32 = 4
BYTES_MIXED = 2
#: Layers whose output is their input with a new shape: they store no new activations.
VIEW_LAYERS = ("Flatten", "Reshape")


def _output_shape(layer) -> tuple:
    """The layer's output shape without the batch axis (the first output for multi-output
    layers)."""
    try:
        output = layer.output
    except (AttributeError, ValueError) as exc:
        raise ValueError(
            f"layer {layer.name!r} has no single output shape (not built, or shared between "
            "several calls); build the model with keras.Input first"
        ) from exc
    if isinstance(output, (list, tuple)):
        output = output[0]
    return tuple(output.shape[1:])


def _input_shape(layer) -> tuple:
    shape = layer.input.shape
    return tuple(shape[1:])


def _product(dims) -> int:
    total = 1
    for d in dims:
        if d is None:
            raise ValueError("a dimension is unknown (None): give the model a fixed input size "
                             "to count its cost")
        total *= int(d)
    return total


def layer_macs(layer) -> int:
    """Multiply-accumulates of one forward pass of ``layer`` for one example.

    Counted for the layers that hold the arithmetic — convolutions (``ConvND``, grouped or not),
    depthwise and separable convolutions, transposed convolutions and ``Dense`` — each output
    value costs one multiply-add per input value it sees. Everything else (pooling, batch norm,
    activations, additions, concatenations) counts 0: those costs are small and not
    multiply-adds. Bias additions are not counted either, as in the papers.
    """
    from keras import layers as kl

    if isinstance(layer, kl.Dense):
        out = _output_shape(layer)
        return _product(out[:-1]) * int(_input_shape(layer)[-1]) * int(out[-1])
    if isinstance(layer, kl.DepthwiseConv2D | kl.DepthwiseConv1D):
        # each output value: one kernel window of one input channel
        return _product(_output_shape(layer)) * _product(layer.kernel_size)
    if isinstance(layer, kl.SeparableConv2D | kl.SeparableConv1D):
        out = _output_shape(layer)
        c_in = int(_input_shape(layer)[-1])
        depthwise_channels = c_in * layer.depth_multiplier
        spatial = _product(out[:-1])
        depthwise = spatial * depthwise_channels * _product(layer.kernel_size)
        pointwise = spatial * depthwise_channels * int(out[-1])
        return depthwise + pointwise
    if isinstance(layer, kl.Conv2DTranspose | kl.Conv1DTranspose | kl.Conv3DTranspose):
        # each input value is spread over a kernel window of every output channel
        inp = _input_shape(layer)
        return _product(inp) * _product(layer.kernel_size) * int(_output_shape(layer)[-1])
    if isinstance(layer, kl.Conv1D | kl.Conv2D | kl.Conv3D):
        c_in = int(_input_shape(layer)[-1])
        groups = getattr(layer, "groups", 1)
        return _product(_output_shape(layer)) * _product(layer.kernel_size) * (c_in // groups)
    return 0


def count_macs(model) -> int:
    """Total multiply-accumulates (multiply-adds) of one forward pass for one image.

    Sums :func:`layer_macs` over every layer, nested models included. Papers call the same
    number "multiply-adds" or, loosely, "FLOPs" (VGG16: about 15.5 billion).
    """
    check.keras_model("model", model)
    return sum(layer_macs(layer) for layer in leaf_layers(model))


def _split_weights(layer) -> tuple[int, int]:
    """(weights, biases) of a layer: parameters in vectors (biases, batch-norm statistics) vs the
    rest."""
    weights = biases = 0
    for w in layer.weights:
        n = _product(w.shape)
        if len(w.shape) <= 1:
            biases += n
        else:
            weights += n
    return weights, biases


def layer_table(model, nested: bool = True) -> pd.DataFrame:
    """The lecture's per-layer table, computed from the model.

    One row per layer: ``layer``, ``type``, ``output shape``, ``weights`` (kernels), ``biases``
    (every other vector: biases, batch-norm scale/offset/statistics, position biases),
    ``parameters`` (weights + biases), ``activations`` (values in the layer's output for one
    example; 0 for ``Flatten``/``Reshape``, which only relabel their input), ``memory float32``
    and ``memory mixed`` (bytes to store them in float32 and in the float16 of mixed precision)
    and ``MACs`` (multiply-accumulates, see :func:`layer_macs`).
    The input layer is a row too (activations, no parameters), as on the slides.

    ``.attrs`` holds the totals: ``parameters`` (= ``model.count_params()``), ``activations``,
    ``memory float32``, ``memory mixed`` and ``MACs``. Nested models are expanded unless
    ``nested=False``. The model needs a fixed input size (no ``None`` besides the batch axis).
    """
    check.keras_model("model", model)
    rows = []
    layers = leaf_layers(model) if nested else list(model.layers)
    inputs = getattr(model, "inputs", None) or []
    if not any(type(layer).__name__ == "InputLayer" for layer in layers):
        for tensor in inputs:  # Sequential models do not list their input layer
            count = _product(tensor.shape[1:])
            rows.append({"layer": "input", "type": "InputLayer",
                         "output shape": "x".join(str(d) for d in tensor.shape[1:]),
                         "weights": 0, "biases": 0, "parameters": 0, "activations": count,
                         "MACs": 0})
    top_level = {id(layer) for layer in model.layers}
    for layer in layers:
        weights, biases = _split_weights(layer)
        nested_input = type(layer).__name__ == "InputLayer" and id(layer) not in top_level
        # a nested model's input is the previous layer's output, and Flatten/Reshape only
        # relabel their input: neither stores new values
        stores_nothing = nested_input or type(layer).__name__ in VIEW_LAYERS
        activations = 0 if stores_nothing else _product(_output_shape(layer))
        rows.append({
            "layer": layer.name,
            "type": type(layer).__name__,
            "output shape": _shape(layer),
            "weights": weights,
            "biases": biases,
            "parameters": weights + biases,
            "activations": activations,
            "MACs": layer_macs(layer),
        })
    table = pd.DataFrame(rows, columns=["layer", "type", "output shape", "weights", "biases",
                                        "parameters", "activations", "MACs"])
    table.insert(7, "memory float32", table["activations"] * BYTES_FLOAT32)
    table.insert(8, "memory mixed", table["activations"] * BYTES_MIXED)
    for column in ("parameters", "activations", "memory float32", "memory mixed", "MACs"):
        table.attrs[column] = int(table[column].sum())
    table.attrs["total"] = int(model.count_params())
    return table


def format_count(n: float, unit: str = "") -> str:
    """A count the way the slides write it: 3211264 -> '3.2M', 138357544 -> '138.4M',
    1728 -> '1,728'.

    ``unit="B"``: bytes in binary units, 61046400 -> '58.2 MiB'.
    """
    if unit == "B":
        for suffix, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
            if abs(n) >= size:
                return f"{n / size:.1f} {suffix}"
        return f"{int(n)} B"
    for suffix, size in (("G", 1e9), ("M", 1e6), ("K", 1e4)):
        if abs(n) >= size:
            return f"{n / (size if suffix != 'K' else 1e3):.1f}{suffix}"
    return f"{int(n):,}"
