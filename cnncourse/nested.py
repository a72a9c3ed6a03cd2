"""The one walk over a model's layers that descends into nested models (a pretrained backbone
inside a transfer model, a Sequential block inside a Functional model), by ``isinstance``."""

from __future__ import annotations

from collections.abc import Iterator

import keras

__all__ = ["walk", "leaf_layers"]


def walk(model, path: tuple = ()) -> Iterator[tuple[tuple, keras.layers.Layer]]:
    """``(path, layer)`` for every layer of ``model`` in its order; a nested model is yielded
    itself, then its layers. ``path``: the nested models that enclose ``layer``, outermost first
    (empty for the model's own layers)."""
    for layer in model.layers:
        yield path, layer
        if isinstance(layer, keras.Model):
            yield from walk(layer, (*path, layer))


def leaf_layers(model) -> list:
    """The layers that compute, in order, with every nested model replaced by its layers."""
    return [layer for _, layer in walk(model) if not isinstance(layer, keras.Model)]
