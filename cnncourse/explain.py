"""What did the network look at? Saliency maps, Grad-CAM and occlusion for Keras models.

All three work on Sequential models, Functional models and models that contain a nested
backbone (a ``keras.Model`` used as a layer, as in transfer learning):

- :func:`saliency_map` (Simonyan et al. 2014, "Deep Inside Convolutional Networks"): the
  gradient of the class score with respect to the input pixels, absolute value, maximum over
  the colour channels. The score is the *pre-softmax* value of the class, or the probability
  for a binary model with one sigmoid unit.
- :func:`grad_cam` (Selvaraju et al. 2017, "Grad-CAM"): weight each channel of a convolutional
  feature map by the average gradient of the class score over that map, sum, keep the positive
  part, scale to [0, 1]. The map has the layer's resolution; :func:`upsample_heatmap` and
  :func:`overlay_heatmap` bring it to the image.
- :func:`occlusion_map` (Zeiler and Fergus 2014, "Visualizing and Understanding Convolutional
  Networks"): slide a grey square over the image and record how much the class probability drops.

Grad-CAM needs the feature map *and* the prediction computed from it. The common recipe
``keras.Model(model.inputs, [layer.output, model.output])`` fails on layers inside a nested
backbone ("Graph disconnected"), so :func:`split_model` cuts the model into a feature extractor
and a head instead (as in *Deep Learning with Python*, 3rd ed., ch. 10):
``head(features(x)) == model(x)``. It uses public Keras API only (``keras.models.clone_model``
with a ``call_function``, reusing the model's layers) and finds by itself whether a skip
connection or a parallel branch goes around the cut, so it behaves the same on Keras 3.8 to 3.15.
"""

from __future__ import annotations

import contextlib

import keras
import numpy as np
import tensorflow as tf

from cnncourse import validation as check
from cnncourse.nested import walk

__all__ = [
    "split_model",
    "default_gradcam_layer",
    "saliency_map",
    "grad_cam",
    "occlusion_map",
    "upsample_heatmap",
    "overlay_heatmap",
]


# --------------------------------------------------------------------------- model surgery
#
# Public Keras API only: a Functional model is rebuilt with ``keras.models.clone_model``, reusing
# its layers (so the weights are shared) and replacing one layer's call through ``call_function``;
# a Sequential model by calling its layers in turn. Nested models along the way are rebuilt the
# same way, one level at a time.


def _check_model(model) -> None:
    check.keras_model("model", model)
    if isinstance(model, keras.Sequential) and not model.built:
        raise ValueError(
            f"Sequential model {model.name!r} is not built yet: start it with keras.Input(shape) "
            "or call it once on a batch"
        )
    if getattr(model, "inputs", None) is None:
        raise TypeError(
            f"model {model.name!r} is a subclassed keras.Model; explanations need a Sequential or "
            "Functional model (build it with keras.Input and the functional API)"
        )
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(
            f"expected a model with one input and one output, {model.name!r} has "
            f"{len(model.inputs)} inputs and {len(model.outputs)} outputs"
        )


def _tensors(structure) -> list:
    return [t for t in keras.tree.flatten(structure) if isinstance(t, keras.KerasTensor)]


def _replay(container, layer, replace):
    """Call ``container``'s layers on a new input as ``container`` does, except that the call of
    ``layer`` (one of its direct layers) is replaced by ``replace(*args, **kwargs)``.

    Returns ``(inputs, outputs, bypass)``. ``bypass`` is True when the output also depends on the
    input along a path that does not go through ``layer``: a skip connection or a parallel
    branch (inception module, text CNN) goes around it. Found by following the calls, not by
    asking Keras (which, before 3.14, silently builds a wrong model over such a cut).
    """
    produced, consumed, from_input, replaced, failed = {}, set(), set(), [], []

    def call(op, *args, **kwargs):
        arguments = _tensors((args, kwargs))
        try:
            if op is layer:
                replaced.append(op)
                out = replace(*args, **kwargs)
            else:
                out = op(*args, **kwargs)
                # a tensor that no call produced is the container's input
                if any(id(t) in from_input or id(t) not in produced for t in arguments):
                    from_input.update(id(t) for t in _tensors(out))
        except Exception:
            failed.append(op)
            raise
        consumed.update(id(t) for t in arguments)
        produced.update((id(t), t) for t in _tensors(out))
        return out

    spec = container.inputs[0]
    inputs = keras.Input(batch_shape=spec.shape, dtype=spec.dtype)
    if isinstance(container, keras.Sequential):
        outputs = inputs
        for op in container.layers:
            outputs = call(op, outputs)
    else:
        try:
            keras.models.clone_model(
                container,
                input_tensors=keras.tree.map_structure(lambda _: inputs, container.input),
                clone_function=lambda op: op, call_function=call,
            )
        except ValueError:
            # clone_model ends by building a model from ``inputs`` to the output; when ``replace``
            # brings in a new input (the head's feature map) that model is disconnected, and
            # Keras 3.14+ says so. The calls are all done by then; only errors in them matter.
            if failed:
                raise
        outputs = [t for key, t in produced.items() if key not in consumed]
        if len(outputs) != 1:
            raise ValueError(
                f"model {container.name!r} has {len(outputs)} outputs; explanations need one"
            )
        outputs = outputs[0]
    if len(replaced) != 1:
        raise ValueError(
            f"layer {layer.name!r} is called {len(replaced)} times in model {container.name!r}; "
            "explanations need a layer that is used exactly once"
        )
    return inputs, outputs, id(outputs) in from_input


def _one_output(tensors, layer):
    tensors = _tensors(tensors)
    if len(tensors) != 1:
        raise ValueError(f"layer {layer.name!r} has {len(tensors)} outputs; explanations need one")
    return tensors[0]


def _tap(model, path):
    """keras.Model over ``model``'s layers with two outputs: [output of the last layer of ``path``,
    ``model``'s output]. ``path`` lists the layers from a direct layer of ``model`` down through
    nested models; each nested model on the way is tapped the same way."""
    layer, rest = path[0], path[1:]
    tapped = []

    def replace(*args, **kwargs):
        if rest:
            maps, out = _tap(layer, rest)(*args, **kwargs)
        else:
            maps = out = layer(*args, **kwargs)
        tapped.append(maps)
        return out

    inputs, outputs, _ = _replay(model, layer, replace)
    return keras.Model(inputs, [_one_output(tapped[0], path[-1]), outputs])


def _head(model, path, maps_spec, name=None):
    """``(head, needs_input)``: ``head`` maps the output of ``path[-1]`` to ``model``'s output;
    when other branches go around the cut, it also needs ``model``'s input, first:
    ``head([x, maps])``."""
    layer, rest = path[0], path[1:]
    maps = keras.Input(batch_shape=maps_spec.shape, dtype=maps_spec.dtype)
    inner = _head(layer, rest, maps_spec) if rest else None

    def replace(*args, **kwargs):
        if inner is None:
            return maps
        inner_head, inner_needs_input = inner
        return inner_head([args[0], maps] if inner_needs_input else maps, **kwargs)

    inputs, outputs, bypass = _replay(model, layer, replace)
    if outputs is maps:  # cut after the last layer: Keras 3.9-3.13 refuse a model from x to x
        outputs = keras.layers.Identity()(maps)
    needs_input = bypass or (inner is not None and inner[1])
    return keras.Model([inputs, maps] if needs_input else maps, outputs, name=name), needs_input


def _find_path(model, layer_name: str):
    """[layer, ...] from a direct layer of ``model`` down through nested models to
    ``layer_name``."""
    found = [[*path, layer] for path, layer in walk(model) if layer.name == layer_name]
    if found:
        return min(found, key=len)  # the shallowest, the first of those
    raise ValueError(
        f"no layer named {layer_name!r} in model {model.name!r} or its nested models; "
        f"its layers are {[layer.name for layer in model.layers]}"
    )


def default_gradcam_layer(model) -> str:
    """Name of the last top-level layer whose output is a feature map (batch, ..., channels)
    with at least one spatial axis: the last convolutional block, or the whole nested backbone."""
    _check_model(model)
    for layer in reversed(model.layers):
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if len(getattr(layer.output, "shape", ())) in (3, 4):
            return layer.name
    raise ValueError(
        f"model {model.name!r} has no layer with a spatial feature map (rank-3 or rank-4 output); "
        "pass layer_name explicitly"
    )


def split_model(model, layer_name: str | None = None):
    """Cut ``model`` after the layer ``layer_name`` into ``(features, head)``, two keras Models
    with ``head(features(x)) == model(x)``.

    ``layer_name`` may name a top-level layer or a layer inside a nested model (a pretrained
    backbone used as a layer); by default the last layer that outputs a feature map.
    Works on Sequential and Functional models; both share the model's layers (and weights).

    When other branches go around the layer (a skip connection of a residual block, the
    parallel convolutions of an inception module or of a text CNN), the rest of the model also
    needs the input: ``head`` then has two inputs and ``head([x, features(x)]) == model(x)``.
    Gradients with respect to the feature map are unaffected (the other branches do not
    depend on it).
    """
    _check_model(model)
    if layer_name is None:
        layer_name = default_gradcam_layer(model)
    if not isinstance(layer_name, str):
        raise TypeError(f"layer_name must be a layer's name (str), got {type(layer_name).__name__}")
    path = _find_path(model, layer_name)
    tap = _tap(model, path)
    features = keras.Model(tap.inputs[0], tap.outputs[0], name=f"{model.name}_to_{layer_name}")
    head, _ = _head(model, path, features.outputs[0], name=f"{model.name}_after_{layer_name}")
    return features, head


def _run_head(head, x, maps):
    return head([x, maps], training=False) if len(head.inputs) == 2 else head(maps, training=False)


# --------------------------------------------------------------------------- class scores


def _output_layer(model):
    """The layer that computes ``model``'s output (inside a nested model if that comes last).
    ``model.layers`` lists a Functional model's layers in the order they run, so with one output
    the last layer is the one that produces it."""
    layer = model.layers[-1]
    return _output_layer(layer) if isinstance(layer, keras.Model) else layer


@contextlib.contextmanager
def _pre_softmax(model):
    """Temporarily give the model's final layer a linear activation if it is a softmax, so the
    model returns the pre-softmax class scores (logits). Restored on exit."""
    layer = _output_layer(model)
    activation = getattr(layer, "activation", None)
    is_softmax = activation is not None and getattr(activation, "__name__", "") == "softmax"
    if is_softmax:
        layer.activation = keras.activations.linear
    try:
        yield
    finally:
        if is_softmax:
            layer.activation = activation


def _prepare(model, image) -> tf.Tensor:
    """One image as a batch of one, in the model's input dtype; ValueError on a shape mismatch."""
    expected = tuple(model.inputs[0].shape[1:])
    image = np.asarray(image)
    if image.ndim == len(expected) + 1 and image.shape[0] == 1:
        image = image[0]
    if image.ndim == len(expected) - 1 and expected[-1] == 1:
        image = image[..., None]  # (H, W) grey image for a model that wants (H, W, 1)
    if image.ndim != len(expected) or any(
        e is not None and e != s for e, s in zip(expected, image.shape, strict=True)
    ):
        raise ValueError(
            f"expected one image of shape {expected} (None = any size) for model {model.name!r}, "
            f"got an array of shape {np.shape(image)}"
        )
    return tf.convert_to_tensor(image[None], dtype=model.inputs[0].dtype)


def _class_index(outputs, class_index):
    n = int(outputs.shape[-1])
    if class_index is None:
        return int(outputs[0, 0] >= 0.5) if n == 1 else int(tf.argmax(outputs[0]))
    check.integer("class_index", class_index, minimum=0)
    classes = 2 if n == 1 else n
    if not 0 <= class_index < classes:
        raise ValueError(
            f"class_index must be in [0, {classes - 1}] for this model, got {class_index}"
        )
    return int(class_index)


def _score(outputs, class_index: int):
    """Score of ``class_index`` per example; for one sigmoid unit, p for class 1 and 1 - p for 0."""
    if outputs.shape[-1] == 1:
        p = outputs[:, 0]
        return p if class_index == 1 else 1.0 - p
    return outputs[:, class_index]


# --------------------------------------------------------------------------- explanations


def saliency_map(model, image, class_index: int | None = None) -> np.ndarray:
    """|d score / d pixel|, maximum over colour channels: an (H, W) array, >= 0.

    ``image``: one image shaped like the model's input (without the batch axis), in the range
    the model expects. ``class_index``: the class to explain (default: the predicted class).
    The score is the pre-softmax value of the class (the probability for one sigmoid unit).
    """
    _check_model(model)
    x = _prepare(model, image)
    if not x.dtype.is_floating:
        raise TypeError(
            f"saliency needs a model with a float input, {model.name!r} takes {x.dtype.name}"
        )
    with _pre_softmax(model):
        with tf.GradientTape() as tape:
            tape.watch(x)
            outputs = model(x, training=False)
            cls = _class_index(outputs, class_index)
            score = _score(outputs, cls)
        grads = tape.gradient(score, x)
    grads = np.abs(grads.numpy()[0])
    return grads.max(axis=-1) if grads.ndim == 3 else grads


def grad_cam(model, image, layer_name: str | None = None,
             class_index: int | None = None) -> np.ndarray:
    """Grad-CAM heatmap in [0, 1] at the resolution of layer ``layer_name`` (default: the last
    feature map), e.g. (7, 7) for a 28x28 MNIST convnet with two poolings; (steps,) for a Conv1D.

    Uses the pre-softmax class score. All zeros when no position increases the score.
    """
    features, head = split_model(model, layer_name)
    x = _prepare(model, image)
    with _pre_softmax(model):
        with tf.GradientTape() as tape:
            maps = features(x, training=False)
            tape.watch(maps)
            outputs = _run_head(head, x, maps)
            cls = _class_index(outputs, class_index)
            score = _score(outputs, cls)
        grads = tape.gradient(score, maps)
    spatial_axes = tuple(range(1, len(maps.shape) - 1))
    weights = tf.reduce_mean(grads, axis=spatial_axes, keepdims=True)  # one weight per channel
    cam = tf.nn.relu(tf.reduce_sum(weights * maps, axis=-1))[0].numpy()
    top = cam.max()
    return (cam / top if top > 0 else cam).astype("float32")


def _positions(size: int, patch: int, stride: int) -> range:
    return range(0, size - patch + 1, stride)


def occlusion_map(model, image, patch: int | None = None, stride: int | None = None,
                  class_index: int | None = None, fill: float | None = None,
                  batch_size: int = 64) -> np.ndarray:
    """Drop of the class probability when a ``patch`` x ``patch`` square hides each part of the
    image.

    Returns a grid of shape ``((H - patch) // stride + 1, (W - patch) // stride + 1)``: entry (i, j)
    is ``p(original) - p(image with the square at row i*stride, column j*stride)``. With a softmax
    or sigmoid output the values lie in [-1, 1]; large positive values mark regions the model
    needs. Defaults: ``patch`` about 1/7 of the image side, ``stride = patch // 2``, ``fill`` the
    image's mean value (a grey square).
    """
    _check_model(model)
    x = _prepare(model, image)
    img = x.numpy()[0]
    if img.ndim < 2:
        raise ValueError(f"occlusion needs an image with two spatial axes, got shape {img.shape}")
    height, width = img.shape[:2]
    if patch is None:
        patch = max(1, round(min(height, width) / 7))
    if stride is None:
        stride = max(1, patch // 2)
    patch, stride = check.integer("patch", patch), check.integer("stride", stride)
    if patch > min(height, width):
        raise ValueError(f"patch ({patch}) must fit in the image ({height}x{width})")
    fill_value = img.mean() if fill is None else fill
    rows, cols = _positions(height, patch, stride), _positions(width, patch, stride)
    occluded = []
    for r in rows:
        for c in cols:
            copy = img.copy()
            copy[r : r + patch, c : c + patch] = fill_value
            occluded.append(copy)
    base = model(x, training=False)
    cls = _class_index(base, class_index)
    base_score = float(_score(base, cls)[0])
    scores = []
    for start in range(0, len(occluded), batch_size):
        batch = tf.convert_to_tensor(np.stack(occluded[start : start + batch_size]), dtype=x.dtype)
        scores.append(_score(model(batch, training=False), cls).numpy())
    drop = base_score - np.concatenate(scores)
    return drop.reshape(len(rows), len(cols)).astype("float32")


# --------------------------------------------------------------------------- display helpers


def upsample_heatmap(heatmap, size) -> np.ndarray:
    """Bilinear resize of a 2-D heatmap to ``size`` = (height, width) of the image."""
    heatmap = np.asarray(heatmap, dtype="float32")
    if heatmap.ndim != 2:
        raise ValueError(f"expected a 2-D heatmap, got shape {heatmap.shape}")
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"size must be (height, width), got {size!r}")
    resized = tf.image.resize(heatmap[..., None], tuple(int(s) for s in size), method="bilinear")
    return resized.numpy()[..., 0]


def overlay_heatmap(image, heatmap, alpha: float = 0.4, cmap: str = "jet") -> np.ndarray:
    """The image with the heatmap upsampled to its size and blended on top, as RGB in [0, 1].

    ``image``: (H, W), (H, W, 1) or (H, W, 3), uint8 0-255 or float (0-1 or 0-255).
    ``heatmap``: any 2-D map (Grad-CAM, occlusion, saliency); negative values show as 0 and the
    map is scaled so that its maximum is 1. Show the result with ``plt.imshow``.
    """
    import matplotlib

    check.number("alpha", alpha, 0, 1)
    img = np.asarray(image, dtype="float32")
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    if img.ndim != 3 or img.shape[-1] != 3:
        raise ValueError(
            f"expected an (H, W), (H, W, 1) or (H, W, 3) image, got shape {np.shape(image)}"
        )
    if img.max() > 1.0:
        img = img / 255.0
    heat = np.clip(upsample_heatmap(heatmap, img.shape[:2]), 0, None)
    if heat.max() > 0:
        heat = heat / heat.max()
    colored = matplotlib.colormaps[cmap](heat)[..., :3]
    return np.clip((1 - alpha) * img + alpha * colored, 0, 1).astype("float32")
