"""Layer accounting: the lecture's tables, computed from the model itself.

``parameter_table(model)`` lists every layer with its output shape, parameter count and the
arithmetic behind it (e.g. ``3x3x32x64 + 64 = 18,496``), as the lecture derives them by hand.
"""

from __future__ import annotations

import pandas as pd


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


def _layers(model):
    """Layers in order, descending into nested models (a backbone inside a transfer model)."""
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers:
            yield from _layers(layer)
        else:
            yield layer


def parameter_table(model, nested: bool = False) -> pd.DataFrame:
    """Per-layer table: name, type, output shape, parameters, arithmetic; total in ``.attrs['total']``.

    With ``nested=True`` the layers of nested models are listed one by one.
    """
    if not hasattr(model, "layers"):
        raise TypeError(f"expected a keras Model, got {type(model).__name__}")
    layers = list(_layers(model)) if nested else list(model.layers)
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
    table = pd.DataFrame(rows, columns=["layer", "type", "output shape", "parameters", "arithmetic"])
    table.attrs["total"] = int(model.count_params())
    return table
