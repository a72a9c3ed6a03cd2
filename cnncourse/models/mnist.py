"""The MNIST networks of the lectures: a dense network, the lecture convnets, LeNet-5, and an
improved convnet that wins the last fraction of a percent.

Every builder returns an uncompiled ``keras.Sequential`` model that starts with ``keras.Input``,
so ``model.summary()`` lists exactly the layers of the slide. Inputs are MNIST digits as
``float32`` in [0, 1] with a channel axis, shape ``(28, 28, 1)``; the models do not rescale.

Parameter counts, as the lectures derive them by hand (10 classes, 28x28x1 input):

=================  ==========
builder            parameters
=================  ==========
``mlp``               623,290
``simple_cnn``         93,322
``lecture_cnn``       137,660
``conv_model``         59,933
``lenet5``             61,706
=================  ==========
"""

from __future__ import annotations

import keras
from keras import layers

from cnncourse import validation as check

__all__ = ["mlp", "simple_cnn", "lecture_cnn", "conv_model", "lenet5", "improved_cnn"]


# ---------------------------------------------------------------------------------------------
# The input check and the model every builder shares
# ---------------------------------------------------------------------------------------------

def _side_after(size: int, stack) -> int:
    """Side length of a ``size`` x ``size`` input after the layers of ``stack``: each valid
    convolution (stride 1) and each pooling shrinks it; 0 when nothing is left."""
    for layer in stack:
        if isinstance(layer, layers.Conv2D) and layer.padding == "valid":
            size = size - layer.kernel_size[0] + 1
        elif isinstance(layer, layers.MaxPooling2D | layers.AveragePooling2D):
            size = size // layer.pool_size[0]
        if size < 1:
            return 0
    return size


def _digits_model(name: str, input_shape, stack) -> keras.Sequential:
    """``keras.Sequential([keras.Input(input_shape), *stack])`` once the input shape is checked:
    a ValueError names the smallest input that the convolutions and poolings of ``stack``
    leave at least one pixel of."""
    input_shape = check.image_shape("input_shape", input_shape)
    smallest = next(s for s in range(1, 10_000) if _side_after(s, stack) >= 1)
    height, width = input_shape[:2]
    if min(height, width) < smallest:
        shrinking = [layer.name for layer in stack
                     if isinstance(layer, layers.Conv2D | layers.MaxPooling2D)]
        raise ValueError(
            f"{name}: input {height}x{width} is too small for the network (its layers "
            f"{', '.join(shrinking)} shrink it to nothing); it needs at least "
            f"{smallest}x{smallest} pixels"
        )
    return keras.Sequential([keras.Input(shape=input_shape, name="digits"), *stack], name=name)


# ---------------------------------------------------------------------------------------------
# Builders
# ---------------------------------------------------------------------------------------------

def mlp(input_shape=(28, 28, 1), num_classes: int = 10, hidden_units: int = 784) -> keras.Model:
    """The densely connected network of the lecture:
    Flatten -> Dense(784, relu) -> Dense(10, softmax).

    Slide "MNIST with a fully connected network": every pixel is wired to every hidden unit,
    784 x 784 + 784 = 615,440 weights in the hidden layer and 784 x 10 + 10 = 7,850 in the
    output layer, **623,290 parameters** in all for 28x28 digits.
    """
    shape = check.shape("input_shape", input_shape)
    num_classes = check.integer("num_classes", num_classes)
    hidden_units = check.integer("hidden_units", hidden_units)
    return keras.Sequential(
        [
            keras.Input(shape=shape, name="digits"),
            layers.Flatten(name="flatten"),
            layers.Dense(hidden_units, activation="relu", name="hidden"),
            layers.Dense(num_classes, activation="softmax", name="predictions"),
        ],
        name="mlp",
    )


def simple_cnn(input_shape=(28, 28, 1), num_classes: int = 10) -> keras.Model:
    """The small convnet of the lecture (Chollet, *Deep Learning with Python*, listing 5.1).

    Conv2D 32 3x3 -> MaxPool 2 -> Conv2D 64 3x3 -> MaxPool 2 -> Conv2D 64 3x3 -> Flatten ->
    Dense 64 -> Dense 10, ReLU throughout. On 28x28x1 the output shapes are (26, 26, 32)
    (13, 13, 32) (11, 11, 64) (5, 5, 64) (3, 3, 64) 576 64 10 and it has **93,322 parameters**
    (3x3x1x32 + 32 = 320; 3x3x32x64 + 64 = 18,496; 3x3x64x64 + 64 = 36,928;
    576x64 + 64 = 36,928; 64x10 + 10 = 650): 15% of the dense network's, and more accurate.
    """
    num_classes = check.integer("num_classes", num_classes)
    return _digits_model("simple_cnn", input_shape, [
        layers.Conv2D(32, (3, 3), activation="relu", name="conv1"),
        layers.MaxPooling2D((2, 2), name="pool1"),
        layers.Conv2D(64, (3, 3), activation="relu", name="conv2"),
        layers.MaxPooling2D((2, 2), name="pool2"),
        layers.Conv2D(64, (3, 3), activation="relu", name="conv3"),
        layers.Flatten(name="flatten"),
        layers.Dense(64, activation="relu", name="dense"),
        layers.Dense(num_classes, activation="softmax", name="predictions"),
    ])


def lecture_cnn(input_shape=(28, 28, 1), num_classes: int = 10) -> keras.Model:
    """The convnet of the slide "CNN in Keras": 25 and 50 filters of 3x3, then a dense layer of 100.

    Conv2D 25 3x3 (26x26x25) -> MaxPool 2 (13x13x25) -> Conv2D 50 3x3 (11x11x50) -> MaxPool 2
    (5x5x50) -> Flatten (1250) -> Dense 100 relu -> Dense 10 softmax: **137,660 parameters**
    (3x3x1x25 + 25 = 250; 3x3x25x50 + 50 = 11,300; 1250x100 + 100 = 125,100; 100x10 + 10 = 1,010).
    The slide writes the Keras 1 call ``Convolution2D(25, 3, 3)``; in Keras 3 ``Conv2D(25, 3, 3)``
    would mean a 3x3 kernel at *stride 3*, so the kernel size is spelled ``(3, 3)`` here
    (keras2-ok: the old call is quoted only to warn against it).
    """
    num_classes = check.integer("num_classes", num_classes)
    return _digits_model("lecture_cnn", input_shape, [
        layers.Conv2D(25, (3, 3), activation="relu", name="conv1"),
        layers.MaxPooling2D((2, 2), name="pool1"),
        layers.Conv2D(50, (3, 3), activation="relu", name="conv2"),
        layers.MaxPooling2D((2, 2), name="pool2"),
        layers.Flatten(name="flatten"),
        layers.Dense(100, activation="relu", name="dense"),
        layers.Dense(num_classes, activation="softmax", name="predictions"),
    ])


def conv_model(input_shape=(28, 28, 1), num_classes: int = 10, dropout: float = 0.2) -> keras.Model:
    """The "larger" MNIST convnet of the lecture's Keras tutorial (30 5x5 and 15 3x3 filters).

    Conv2D 30 5x5 (24x24x30) -> MaxPool 2 (12x12x30) -> Conv2D 15 3x3 (10x10x15) -> MaxPool 2
    (5x5x15) -> Dropout 0.2 -> Flatten (375) -> Dense 128 -> Dense 50 -> Dense 10 softmax:
    **59,933 parameters** (5x5x1x30 + 30 = 780; 3x3x30x15 + 15 = 4,065; 375x128 + 128 = 48,128;
    128x50 + 50 = 6,450; 50x10 + 10 = 510).
    """
    num_classes = check.integer("num_classes", num_classes)
    dropout = check.dropout("dropout", dropout)
    return _digits_model("conv_model", input_shape, [
        layers.Conv2D(30, (5, 5), activation="relu", name="conv1"),
        layers.MaxPooling2D((2, 2), name="pool1"),
        layers.Conv2D(15, (3, 3), activation="relu", name="conv2"),
        layers.MaxPooling2D((2, 2), name="pool2"),
        layers.Dropout(dropout, name="dropout"),
        layers.Flatten(name="flatten"),
        layers.Dense(128, activation="relu", name="dense1"),
        layers.Dense(50, activation="relu", name="dense2"),
        layers.Dense(num_classes, activation="softmax", name="predictions"),
    ])


def lenet5(input_shape=(32, 32, 1), num_classes: int = 10, activation: str = "tanh") -> keras.Model:
    """LeNet-5 (LeCun, Bottou, Bengio, Haffner 1998, "Gradient-based learning applied to document
    recognition"): CONV-POOL-CONV-POOL-FC-FC on 32x32 images.

    C1: 6 maps, 5x5 conv, stride 1 (28x28x6) -> S2: 2x2 subsampling, stride 2 (14x14x6) ->
    C3: 16 maps, 5x5 (10x10x16) -> S4: 2x2 subsampling (5x5x16) -> C5: 120 units (a 5x5
    convolution over a 5x5 input is a dense layer on its 400 values) -> F6: 84 units -> output.
    **61,706 parameters** on 32x32x1: 156 + 2,416 + 48,120 + 10,164 + 850.

    MNIST digits (28x28) are zero-padded to 32x32 first, as in the paper, which centred them in
    a 32x32 field so that stroke ends reach the centre of the top feature detectors. Sizes from
    28 to 31 are padded up to 32; larger images are used as they are.

    Modern simplifications, as in most re-implementations: average pooling without the paper's
    trainable coefficient and bias, every C3 map connected to all six S2 maps (the paper used a
    sparse connection table, 1,516 parameters instead of 2,416), plain tanh instead of the scaled
    1.7159 tanh(2x/3), and a softmax output instead of Euclidean RBF units.
    """
    shape = check.image_shape("input_shape", input_shape)
    num_classes = check.integer("num_classes", num_classes)
    height, width = shape[:2]
    if min(height, width) < 28:
        raise ValueError(
            f"lenet5: input {height}x{width} is too small for the network; it expects 32x32 images "
            f"(28x28 digits are zero-padded to 32x32)"
        )
    stack = []
    if height < 32 or width < 32:
        pad_h, pad_w = max(0, 32 - height), max(0, 32 - width)
        padding = ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2))
        stack.append(layers.ZeroPadding2D(padding, name="pad_to_32"))
    stack += [
        layers.Conv2D(6, (5, 5), activation=activation, name="c1"),
        layers.AveragePooling2D((2, 2), strides=2, name="s2"),
        layers.Conv2D(16, (5, 5), activation=activation, name="c3"),
        layers.AveragePooling2D((2, 2), strides=2, name="s4"),
        layers.Flatten(name="flatten"),
        layers.Dense(120, activation=activation, name="c5"),
        layers.Dense(84, activation=activation, name="f6"),
        layers.Dense(num_classes, activation="softmax", name="predictions"),
    ]
    return _digits_model("lenet5", shape, stack)


def improved_cnn(input_shape=(28, 28, 1), num_classes: int = 10, augment: bool = True,
                 dropout: float = 0.25) -> keras.Model:
    """A convnet that wins the last fraction of a percent on MNIST (the course's own design).

    What changes compared with ``simple_cnn``, each a lesson of the lectures:

    - **data augmentation** layers (rotations up to 10 degrees, shifts and zooms up to 10%,
      active only while training) show the network digits it has not seen, and make it robust
      to shifted digits;
    - **two stacked 3x3 convolutions per block** see 5x5 regions with fewer parameters than one
      5x5 convolution, and add a non-linearity;
    - **batch normalisation** after every convolution and the hidden dense layer (no bias there:
      BN's beta replaces it) lets the network train fast and stably; momentum 0.9 (Keras's
      default is 0.99) makes the moving statistics used at test time settle within a few dozen
      steps, so even a short run evaluates sensibly;
    - **dropout** after each block and (doubled, at most 0.5) before the output regularises it.

    On 28x28x1: block 1, 2 x Conv2D 32 3x3 (26x26x32, 24x24x32) -> MaxPool (12x12x32); block 2,
    2 x Conv2D 64 3x3 (10x10x64, 8x8x64) -> MaxPool (4x4x64); head, Flatten (1024) -> Dense 128
    -> Dense 10: 198,442 parameters, about 3.5 times the multiply-adds of ``simple_cnn``.
    Train it with Adam and a decaying learning rate for 15-30 epochs: with augmentation it keeps
    improving long after ``simple_cnn`` has started to overfit. The same ingredients (batch
    norm after every convolution, rotation and translation augmentation) take single small
    convnets above 99.6% on full MNIST in An et al. 2020, "An ensemble of simple convolutional
    neural network models for MNIST digit recognition" (arXiv:2008.10400); the figure this
    course measures, and on which data, is in notebook 03.
    """
    num_classes = check.integer("num_classes", num_classes)
    dropout = check.dropout("dropout", dropout)
    stack = []
    if augment:
        stack += [
            layers.RandomRotation(10 / 360, fill_mode="constant", name="augment_rotate"),
            layers.RandomTranslation(0.1, 0.1, fill_mode="constant", name="augment_shift"),
            layers.RandomZoom(0.1, fill_mode="constant", name="augment_zoom"),
        ]
    for block, filters in ((1, 32), (2, 64)):
        for conv in (1, 2):
            stack += [
                layers.Conv2D(filters, (3, 3), use_bias=False, name=f"block{block}_conv{conv}"),
                layers.BatchNormalization(momentum=0.9, name=f"block{block}_bn{conv}"),
                layers.Activation("relu", name=f"block{block}_relu{conv}"),
            ]
        stack += [
            layers.MaxPooling2D((2, 2), name=f"block{block}_pool"),
            layers.Dropout(dropout, name=f"block{block}_dropout"),
        ]
    stack += [
        layers.Flatten(name="flatten"),
        layers.Dense(128, use_bias=False, name="dense"),
        layers.BatchNormalization(momentum=0.9, name="dense_bn"),
        layers.Activation("relu", name="dense_relu"),
        layers.Dropout(min(2 * dropout, 0.5), name="dense_dropout"),
        layers.Dense(num_classes, activation="softmax", name="predictions"),
    ]
    return _digits_model("improved_cnn", input_shape, stack)
