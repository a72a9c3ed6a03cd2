"""The classic ImageNet networks of the architecture lectures: AlexNet and VGG.

Every builder returns an uncompiled ``keras.Model`` that starts with ``keras.Input``, with the
layer names the lecture tables use, so ``cnncourse.summary.layer_table(model)`` prints the slide.

- ``alexnet()``: Krizhevsky, Sutskever & Hinton (2012), 227x227x3. Single tower by default
  (62,378,344 parameters); ``two_gpu=True`` gives the historical split over two GPUs as grouped
  convolutions; ``batch_norm=True`` the modern variant (batch normalisation instead of LRN).
- ``vgg16()``, ``vgg19()``: Simonyan & Zisserman (2015), 224x224x3; the same layers and names as
  ``keras.applications.VGG16`` / ``VGG19`` (138,357,544 and 143,667,240 parameters).
- ``mini_vgg()``: the VGG recipe (stacks of 3x3 convolutions, then 2x2 pooling) shrunk for
  28x28 / 32x32 images, small enough to train on a CPU in minutes.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers, ops

from cnncourse import validation as check

__all__ = ["LocalResponseNormalization", "alexnet", "vgg16", "vgg19", "mini_vgg"]


@keras.saving.register_keras_serializable(package="cnncourse")
class LocalResponseNormalization(layers.Layer):
    """AlexNet's local response normalisation across channels (Krizhevsky et al. 2012, sec. 3.3).

    ``b_c = a_c / (bias + alpha * sum(a_j**2 for j in c-depth_radius .. c+depth_radius))**beta``

    The paper's constants are the defaults (n = 5 neighbouring channels, k = 2, alpha = 1e-4,
    beta = 0.75); the result equals ``tf.nn.local_response_normalization`` with the same arguments.
    It has no parameters. Batch normalisation replaced it in later networks.
    """

    def __init__(self, depth_radius: int = 2, bias: float = 2.0, alpha: float = 1e-4,
                 beta: float = 0.75, **kwargs):
        super().__init__(**kwargs)
        depth_radius = check.integer("depth_radius", depth_radius, minimum=0)
        self.depth_radius, self.bias, self.alpha, self.beta = depth_radius, bias, alpha, beta

    def call(self, inputs):
        channels = inputs.shape[-1]
        r = self.depth_radius
        squared = ops.pad(ops.square(inputs), [[0, 0]] * (len(inputs.shape) - 1) + [[r, r]])
        window = sum(squared[..., i : i + channels] for i in range(2 * r + 1))
        return inputs / ops.power(self.bias + self.alpha * window, self.beta)

    def get_config(self):
        return {**super().get_config(), "depth_radius": self.depth_radius, "bias": self.bias,
                "alpha": self.alpha, "beta": self.beta}


def alexnet(input_shape=(227, 227, 3), num_classes: int = 1000, two_gpu: bool = False,
            batch_norm: bool = False, dropout: float = 0.5) -> keras.Model:
    """AlexNet (Krizhevsky, Sutskever & Hinton, *ImageNet Classification with Deep Convolutional
    Neural Networks*, NeurIPS 2012). Default input 227x227x3 (the paper says 224, but only 227
    makes an 11x11 stride-4 convolution without padding give 55x55).

    ==========  =========================================  ==============
    layer       what                                        output
    ==========  =========================================  ==============
    conv1       96 11x11 filters, stride 4, pad 0            55x55x96
    pool1       max pool 3x3, stride 2                       27x27x96
    norm1       local response normalisation                 27x27x96
    conv2       256 5x5 filters, pad 2                       27x27x256
    pool2       max pool 3x3, stride 2                       13x13x256
    norm2       local response normalisation                 13x13x256
    conv3-5     384, 384, 256 3x3 filters, pad 1             13x13x256
    pool3       max pool 3x3, stride 2                       6x6x256
    fc6, fc7    4096 neurons each (with dropout)             4096
    fc8         ``num_classes`` neurons, softmax                 1000
    ==========  =========================================  ==============

    Single tower: 62,378,344 parameters. ``two_gpu=True`` reproduces the paper's split over two
    3 GB GPUs: conv2, conv4 and conv5 only see the half of the channels computed on their own GPU
    (``groups=2``), conv3 and the fully connected layers see both halves; that gives the paper's
    "60 million parameters" (60,965,224). ``batch_norm=True`` puts batch normalisation where LRN
    was.
    """
    input_shape = check.image_shape("input_shape", input_shape)
    num_classes = check.integer("num_classes", num_classes)
    dropout = check.dropout("dropout", dropout)
    groups = 2 if two_gpu else 1

    def norm(x, name):
        normalise = layers.BatchNormalization if batch_norm else LocalResponseNormalization
        return normalise(name=name)(x)

    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Conv2D(96, (11, 11), strides=4, activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling2D((3, 3), strides=2, name="pool1")(x)
    x = norm(x, "norm1")
    x = layers.Conv2D(256, (5, 5), padding="same", groups=groups, activation="relu",
                      name="conv2")(x)
    x = layers.MaxPooling2D((3, 3), strides=2, name="pool2")(x)
    x = norm(x, "norm2")
    x = layers.Conv2D(384, (3, 3), padding="same", activation="relu", name="conv3")(x)
    x = layers.Conv2D(384, (3, 3), padding="same", groups=groups, activation="relu",
                      name="conv4")(x)
    x = layers.Conv2D(256, (3, 3), padding="same", groups=groups, activation="relu",
                      name="conv5")(x)
    x = layers.MaxPooling2D((3, 3), strides=2, name="pool3")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(4096, activation="relu", name="fc6")(x)
    x = layers.Dropout(dropout, name="drop6")(x)
    x = layers.Dense(4096, activation="relu", name="fc7")(x)
    x = layers.Dropout(dropout, name="drop7")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="fc8")(x)
    name = "alexnet" + ("_two_gpu" if two_gpu else "") + ("_bn" if batch_norm else "")
    return keras.Model(inputs, outputs, name=name)


def _vgg(convs_per_block: Sequence[int], input_shape, num_classes: int, name: str) -> keras.Model:
    input_shape = check.image_shape("input_shape", input_shape)
    num_classes = check.integer("num_classes", num_classes)
    if input_shape[0] < 32 or input_shape[1] < 32:
        raise ValueError(
            f"VGG halves the image five times: input must be at least 32x32, got {input_shape}"
        )
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    blocks = zip((64, 128, 256, 512, 512), convs_per_block, strict=True)
    for block, (filters, convs) in enumerate(blocks, 1):
        for conv in range(1, convs + 1):
            x = layers.Conv2D(filters, (3, 3), padding="same", activation="relu",
                              name=f"block{block}_conv{conv}")(x)
        x = layers.MaxPooling2D((2, 2), strides=2, name=f"block{block}_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(4096, activation="relu", name="fc1")(x)
    x = layers.Dense(4096, activation="relu", name="fc2")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


def vgg16(input_shape=(224, 224, 3), num_classes: int = 1000) -> keras.Model:
    """VGG16, configuration D of Simonyan & Zisserman, *Very Deep Convolutional Networks for
    Large-Scale Image Recognition*, ICLR 2015. Default input 224x224x3.

    Five blocks of 3x3 convolutions (stride 1, pad 1) with 64, 128, 256, 512, 512 filters
    (2, 2, 3, 3, 3 convolutions per block), each block ending in 2x2 max pooling, then FC 4096,
    FC 4096, FC ``num_classes``. Layer names as in ``keras.applications.VGG16``: 138,357,544
    parameters.
    """
    return _vgg((2, 2, 3, 3, 3), input_shape, num_classes, "vgg16")


def vgg19(input_shape=(224, 224, 3), num_classes: int = 1000) -> keras.Model:
    """VGG19, configuration E of Simonyan & Zisserman (ICLR 2015). Default input 224x224x3.

    Like :func:`vgg16` with 2, 2, 4, 4, 4 convolutions per block: 143,667,240 parameters, as
    ``keras.applications.VGG19``.
    """
    return _vgg((2, 2, 4, 4, 4), input_shape, num_classes, "vgg19")


def mini_vgg(input_shape=(32, 32, 3), num_classes: int = 10,
             filters: Sequence[int] = (32, 64, 128), dense: int = 128, batch_norm: bool = False,
             dropout: float = 0.3, augmentation: Sequence[layers.Layer] | None = None,
             rescale: bool = True) -> keras.Model:
    """A small VGG-style network for 28x28 (MNIST) or 32x32 (CIFAR-10) images.

    The VGG recipe at small scale: for each entry of ``filters`` a block of two 3x3 convolutions
    (same padding; with ``batch_norm``, batch normalisation before the ReLU, its running
    statistics updated with momentum 0.9 so that they settle within a short training) and a 2x2
    max pool,
    then ``Flatten``, a dense layer of ``dense`` units with dropout, and the softmax output.
    ``augmentation``: preprocessing layers (e.g. ``RandomFlip``) applied first, only in training.
    ``rescale``: divide the uint8 pixels by 255 inside the model. Defaults: 32x32x3 input, 10
    classes, about 0.55M parameters.
    """
    input_shape = check.image_shape("input_shape", input_shape)
    num_classes = check.integer("num_classes", num_classes)
    filters = check.shape("filters", filters)
    if min(input_shape[:2]) < 2 ** len(filters):
        raise ValueError(f"{len(filters)} pooling steps need an input of at least "
                         f"{2 ** len(filters)} pixels, got {input_shape}")
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    for layer in augmentation or ():
        x = layer(x)
    if rescale:
        x = layers.Rescaling(1 / 255, name="rescale")(x)
    for block, width in enumerate(filters, 1):
        for conv in (1, 2):
            name = f"block{block}_conv{conv}"
            if batch_norm:
                x = layers.Conv2D(width, (3, 3), padding="same", use_bias=False, name=name)(x)
                x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
                x = layers.Activation("relu", name=f"{name}_relu")(x)
            else:
                x = layers.Conv2D(width, (3, 3), padding="same", activation="relu", name=name)(x)
        x = layers.MaxPooling2D((2, 2), name=f"block{block}_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(dense, activation="relu", name="fc1")(x)
    x = layers.Dropout(dropout, name="fc1_dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="mini_vgg")
