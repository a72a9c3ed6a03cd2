"""Transfer learning: a pretrained keras.applications backbone with a new head.

The lecture's three steps:

1. get a network pretrained on ImageNet (``build_transfer_model``: the backbone, its own input
   preprocessing, global pooling, dropout and a new classification head);
2. train only the new head (the backbone is frozen; a frozen batch-norm layer always runs in
   inference mode, so it keeps its ImageNet statistics);
3. unfreeze the last layers of the backbone (``unfreeze_top``), recompile with a very low
   learning rate and train a little more. Recompiling is the caller's step: a changed
   ``trainable`` flag only takes effect at the next ``compile``.

Models built here take **raw pixel values in [0, 255]** (what ``tf.data`` decodes from a JPEG)
and do the backbone-specific scaling themselves, so the same pipeline feeds every backbone:

>>> BACKBONES["resnet50"].preprocessing, BACKBONES["mobilenetv2"].preprocessing
('caffe', 'tf')

Offline, ImageNet weights cannot be downloaded: ``weights="imagenet"`` then raises
:class:`WeightsUnavailableError` (saying where to put the file), and
``weights="imagenet-or-random"`` prints one line and builds with random weights.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import socket
import sys
from pathlib import Path

import keras

from cnncourse import validation as check
from cnncourse.backbones import BACKBONES, Backbone  # noqa: F401  (Backbone: public here too)

WEIGHT_CHOICES = ("imagenet", "imagenet-or-random", None)

# Constants of keras.applications.imagenet_utils.preprocess_input.
_CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights could not be downloaded; the message says how to provide them."""


@keras.saving.register_keras_serializable(package="cnncourse")
class BackbonePreprocessing(keras.layers.Layer):
    """Scale [0, 255] RGB pixels the way a pretrained backbone expects.

    ``mode``: ``"tf"`` -> [-1, 1]; ``"torch"`` -> [0, 1] then ImageNet mean/std per channel;
    ``"caffe"`` -> RGB to BGR, then subtract the ImageNet mean per channel (no scaling);
    ``"none"`` -> unchanged (EfficientNet and ConvNeXt rescale inside the network).
    """

    MODES = ("tf", "torch", "caffe", "none")

    def __init__(self, mode: str, **kwargs):
        super().__init__(**kwargs)
        check.one_of("mode", mode, self.MODES)
        self.mode = mode

    def call(self, images):
        x = keras.ops.cast(images, self.compute_dtype)
        if self.mode == "tf":
            return x / 127.5 - 1.0
        if self.mode == "torch":
            mean = keras.ops.convert_to_tensor(_TORCH_MEAN, self.compute_dtype)
            std = keras.ops.convert_to_tensor(_TORCH_STD, self.compute_dtype)
            return (x / 255.0 - mean) / std
        if self.mode == "caffe":
            bgr = keras.ops.flip(x, axis=-1)
            return bgr - keras.ops.convert_to_tensor(_CAFFE_BGR_MEAN, self.compute_dtype)
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


def keras_home() -> Path:
    """Where Keras caches downloads (``$KERAS_HOME``, default ``~/.keras``); weights go in
    ``models/``."""
    try:
        from keras.src.backend.config import keras_home as _keras_home

        return Path(_keras_home())
    except ImportError:  # a Keras without this private helper
        return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")).expanduser()


class _HoldFirstLine(io.TextIOBase):
    """stdout proxy that holds back Keras's "Downloading data from ..." line.

    The line is released as soon as the download shows progress, and dropped when the
    download fails at once (offline), so the caller can say what happened in one line.
    """

    def __init__(self, target):
        self.target, self.held, self.released = target, "", False

    def write(self, text):
        # more output after the first line: a real download
        if not self.released and "\n" in self.held:
            self.release()
        if self.released:
            return self.target.write(text)
        self.held += text
        return len(text)

    def isatty(self):
        return self.target.isatty()

    def release(self):
        if not self.released:
            self.released = True
            self.target.write(self.held)

    def flush(self):
        if self.released:
            self.target.flush()


def _short_reason(exc: Exception) -> str:
    text = str(exc)
    found = re.search(r"\[Errno [^\]]+\][^\n]*|HTTP Error[^\n]*|timed out", text)
    reason = found.group(0) if found else (text.splitlines()[0] if text else type(exc).__name__)
    return reason[:120]


def _download_failure_message(display: str, filename: str, reason: str) -> str:
    folder = keras_home() / "models"
    return (
        f"ImageNet weights for {display} could not be downloaded ({reason}). Either connect to the "
        f"internet once (Keras caches them in {folder}; set KERAS_HOME to use another folder), or "
        f"copy the file {filename} from a machine that has it into {folder}, or pass "
        "weights='imagenet-or-random' to build with random weights (for testing the code only: "
        "no transfer learning happens with random weights)."
    )


def load_backbone(name: str, input_shape: tuple, weights="imagenet-or-random",
                  timeout_s: float = 60.0):
    """``(network, source)``: the keras.applications network ``name`` (see :data:`BACKBONES`)
    without its top, for images of ``input_shape``, and where its weights came from.

    ``weights`` as in :func:`build_transfer_model`; a download waits at most ``timeout_s`` per
    connection. The lab builds its transfer model by hand around this network.
    """
    spec = BACKBONES[check.one_of("backbone", name.lower(), BACKBONES)]
    builder = getattr(keras.applications, spec.application)
    kwargs = {"include_top": False, "input_shape": tuple(input_shape)}
    if weights is None:
        return builder(weights=None, **kwargs), "random (weights=None)"
    if weights not in ("imagenet", "imagenet-or-random"):
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(f"weights file {path} does not exist")
        return builder(weights=str(path), **kwargs), str(path)
    proxy = _HoldFirstLine(sys.stdout)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout_s)
    try:
        with contextlib.redirect_stdout(proxy):
            model = builder(weights="imagenet", **kwargs)
        proxy.release()
        return model, "imagenet"
    except Exception as exc:  # offline: Exception("URL fetch failure ..."), URLError, timeouts
        failure = exc
    finally:
        socket.setdefaulttimeout(previous)
    url = re.search(r"https?://\S+?\.h5", proxy.held + " " + str(failure))
    filename = url.group(0).rsplit("/", 1)[-1] if url else f"the {spec.application} weights file"
    reason = _short_reason(failure)
    if weights == "imagenet-or-random":
        print(f"ImageNet weights for {spec.application}: not available ({reason}) - building it "
              "with RANDOM weights instead, so nothing is transferred.")
        return builder(weights=None, **kwargs), "random (ImageNet weights unavailable)"
    message = _download_failure_message(spec.application, filename, reason)
    raise WeightsUnavailableError(message) from None


def build_transfer_model(backbone="mobilenetv2", input_shape=(224, 224, 3), num_classes=2,
                         weights="imagenet", dropout=0.2, *, head_activation=None,
                         output_bias=None, name=None, return_source: bool = False):
    """A frozen pretrained backbone with a new classification head.

    ``backbone``: a name from :data:`BACKBONES` or your own ``keras.Model`` (used as it is; it
    receives [0, 255] pixels, so it must do its own scaling). ``input_shape``: (H, W, 3) of the
    images the model will see; the model takes raw [0, 255] pixels. ``weights``: ``"imagenet"``
    (raise :class:`WeightsUnavailableError` if they cannot be had), ``"imagenet-or-random"``
    (fall back to random weights with a one-line notice), ``None`` (random) or a weights file.

    The head is global average pooling, dropout and a Dense layer: one sigmoid unit for
    ``num_classes`` 1 or 2 (binary), ``num_classes`` softmax units otherwise;
    ``head_activation="sigmoid"`` with more classes gives independent (multi-label) outputs.
    ``output_bias`` initialises the head's bias, e.g. ``log(positives / negatives)`` for an
    imbalanced binary problem. The head computes in float32, also under mixed precision.

    The backbone is the model's only nested ``keras.Model`` (:func:`get_backbone` finds it),
    frozen, and called with ``training=False``. Note: in Keras 3 that ``training=False`` does
    not survive ``fit`` for layers that are trainable (keras-team/keras#20285); what keeps the
    batch-norm statistics fixed is that their layers stay frozen, which :func:`unfreeze_top`
    guarantees.

    Returns the model, or with ``return_source=True`` ``(model, source)``: where the backbone's
    weights came from (``"imagenet"``, ``"random (...)"``, ``"given model"``...), for reports.
    """
    check.integer("num_classes", num_classes)
    check.dropout("dropout", dropout)
    check.one_of("head_activation", head_activation, (None, "sigmoid", "softmax"))
    if not (weights in WEIGHT_CHOICES or isinstance(weights, (str, Path))):
        raise TypeError(
            f"weights must be one of {WEIGHT_CHOICES} or a weights file path, got {weights!r}"
        )
    input_shape = check.image_shape("input_shape", input_shape)

    if isinstance(backbone, keras.Model):
        base, mode, source = backbone, "none", "given model"
    elif isinstance(backbone, str):
        key = check.one_of("backbone", backbone.lower(), BACKBONES)
        if input_shape[-1] != 3:
            raise ValueError(
                f"pretrained backbones take 3-channel images, got input_shape {input_shape}; "
                "repeat a grayscale channel three times (the course's X-ray pipeline does this)"
            )
        base, source = load_backbone(key, input_shape, weights)
        mode = BACKBONES[key].preprocessing
    else:
        raise TypeError(f"backbone must be a name from {sorted(BACKBONES)} or a keras.Model, "
                        f"got {type(backbone).__name__}")
    base.trainable = False

    binary = num_classes <= 2 and head_activation != "softmax"
    units = 1 if binary else num_classes
    activation = "sigmoid" if binary or head_activation == "sigmoid" else "softmax"
    bias = "zeros" if output_bias is None else keras.initializers.Constant(output_bias)

    inputs = keras.Input(shape=input_shape, name="image")
    x = BackbonePreprocessing(mode, name="preprocess")(inputs)
    # the classic recipe; in Keras 3 frozen BN layers are what really stays in inference mode
    x = base(x, training=False)
    if len(x.shape) == 4:
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(units, activation=activation, bias_initializer=bias,
                                 dtype="float32", name="head")(x)
    model = keras.Model(inputs, outputs, name=name or f"{base.name}_transfer")
    return (model, source) if return_source else model


def get_backbone(model: keras.Model) -> keras.Model:
    """The nested backbone of a model from :func:`build_transfer_model` (its only sub-model)."""
    nested = [layer for layer in getattr(model, "layers", []) if isinstance(layer, keras.Model)]
    if len(nested) != 1:
        raise ValueError(
            f"expected a model with exactly one nested backbone model (from build_transfer_model), "
            f"found {len(nested)} in {getattr(model, 'name', model)!r}"
        )
    return nested[0]


def _is_batch_norm(layer) -> bool:
    return isinstance(layer, keras.layers.BatchNormalization)


def unfreeze_top(model: keras.Model, n: int) -> list[str]:
    """Make the top ``n`` layers of the backbone trainable, except batch-norm layers.

    Layers below the top ``n`` are frozen, so ``unfreeze_top(model, 0)`` freezes the backbone
    again. Returns the names of the layers (with weights) whose trainable state changed, in
    order. Recompile the model afterwards, with a learning rate about 10-100x lower than for
    the head: the pretrained weights only need small adjustments, and large updates through
    the freshly initialised head would destroy them.
    """
    check.integer("n (number of layers)", n, minimum=0)
    base = get_backbone(model)
    layers = base.layers
    if n > len(layers):
        raise ValueError(
            f"the backbone {base.name!r} has {len(layers)} layers, cannot unfreeze the top {n}"
        )

    def effective(layer):
        return bool(base.trainable and layer.trainable and layer.weights)

    before = {id(layer): effective(layer) for layer in layers}
    base.trainable = True
    first = len(layers) - n
    for index, layer in enumerate(layers):
        layer.trainable = index >= first and not _is_batch_norm(layer)
    return [layer.name for layer in layers
            if layer.weights and effective(layer) != before[id(layer)]]
