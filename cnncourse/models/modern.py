"""The networks of the "modern architectures" lecture: GoogLeNet, ResNet, DenseNet, MobileNet,
AlphaGo.

Each idea is a small building block that takes a tensor and returns a tensor, so a student can
put one on a ``keras.Input`` and look at its cost, and a builder that stacks the blocks into the
published network:

- ``inception_module`` (naive or with 1x1 bottlenecks) and ``googlenet()`` (Szegedy et al. 2015)
- ``residual_block``, ``bottleneck_block``, ``resnet(depth)`` for ImageNet (He et al. 2016) and
  ``cifar_resnet(depth)``, the small 6n+2-layer version of the paper's CIFAR-10 experiments,
  which also builds the *plain* twin (same layers, no shortcuts) for the degradation experiment
- ``dense_block``, ``transition_block``, ``densenet121()`` (Huang et al. 2017)
- ``depthwise_separable_block`` and ``mobilenet()`` v1 (Howard et al. 2017)
- ``alphago_policy()``: the AlphaGo policy network (Silver et al. 2016), a CNN without pooling

Where keras.applications has the same network, the builder follows its conventions and has
exactly its parameter count (ResNet50 25,636,712; DenseNet121 8,062,504; MobileNet 4,253,864).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers, ops

from cnncourse import validation as check
from cnncourse.models.classic import LocalResponseNormalization

__all__ = [
    "RESNET_STAGES",
    "inception_module",
    "googlenet",
    "residual_block",
    "bottleneck_block",
    "resnet",
    "cifar_resnet",
    "ZeroPadShortcut",
    "dense_block",
    "transition_block",
    "densenet121",
    "depthwise_separable_block",
    "mobilenet",
    "PositionBias",
    "alphago_policy",
]

BN_EPSILON = 1.001e-5  # keras.applications' value for ResNet and DenseNet

# ---------------------------------------------------------------------------------------------
# GoogLeNet / Inception v1
# ---------------------------------------------------------------------------------------------

def inception_module(x, kind: str = "naive", filters_1x1: int = 128, filters_3x3: int = 192,
                     filters_5x5: int = 96, reduce_3x3: int = 64, reduce_5x5: int = 64,
                     pool_proj: int = 64, name: str = "inception"):
    """An inception module (Szegedy et al., *Going Deeper with Convolutions*, CVPR 2015, fig. 2).

    Four parallel branches on the same input, concatenated along the channels:

    - ``kind="naive"``: 1x1 conv (``filters_1x1``), 3x3 conv (``filters_3x3``), 5x5 conv
      (``filters_5x5``), 3x3 max pool (stride 1) — the pool passes all input channels through,
      so the output always has more channels than the input;
    - ``kind="bottleneck"``: 1x1 convolutions with ``reduce_3x3`` / ``reduce_5x5`` filters before
      the 3x3 and 5x5 convolutions, and ``pool_proj`` after the pool, cut the cost by about 3x.

    Defaults are the lecture's module: on a 28x28x256 input the naive version outputs 28x28x672,
    the bottleneck version 28x28x480. All convolutions use "same" padding and ReLU.
    """
    check.one_of("kind", kind, ("naive", "bottleneck"))

    def conv(t, filters, size, suffix):
        return layers.Conv2D(filters, (size, size), padding="same", activation="relu",
                             name=f"{name}_{suffix}")(t)

    branch1 = conv(x, filters_1x1, 1, "1x1")
    pool = layers.MaxPooling2D((3, 3), strides=1, padding="same", name=f"{name}_pool")(x)
    if kind == "naive":
        branch3 = conv(x, filters_3x3, 3, "3x3")
        branch5 = conv(x, filters_5x5, 5, "5x5")
        branch_pool = pool
    else:
        branch3 = conv(conv(x, reduce_3x3, 1, "3x3_reduce"), filters_3x3, 3, "3x3")
        branch5 = conv(conv(x, reduce_5x5, 1, "5x5_reduce"), filters_5x5, 5, "5x5")
        branch_pool = conv(pool, pool_proj, 1, "pool_proj")
    return layers.Concatenate(name=f"{name}_concat")([branch1, branch3, branch5, branch_pool])


#: GoogLeNet's modules (Szegedy et al. 2015, table 1): #1x1, #3x3 reduce, #3x3, #5x5 reduce,
#: #5x5, pool proj.
GOOGLENET_MODULES = {
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64), "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128), "5b": (384, 192, 384, 48, 128, 128),
}


def googlenet(input_shape=(224, 224, 3), num_classes: int = 1000,
              dropout: float = 0.4) -> keras.Model:
    """GoogLeNet (Szegedy et al., *Going Deeper with Convolutions*, CVPR 2015, table 1), 224x224x3.

    Stem (7x7/2 conv, pool, LRN, 1x1 and 3x3 convs, LRN, pool), nine bottleneck inception modules
    (3a-3b, pool, 4a-4e, pool, 5a-5b), global average pooling, 40% dropout and one linear layer:
    about 6.8 million parameters and 1.5 billion multiply-adds. The two auxiliary classifiers used
    only in training are left out.
    """
    input_shape = check.image_shape("input_shape", input_shape)
    num_classes = check.integer("num_classes", num_classes)
    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Conv2D(64, (7, 7), strides=2, padding="same", activation="relu",
                      name="conv1_7x7")(inputs)
    x = layers.MaxPooling2D((3, 3), strides=2, padding="same", name="pool1")(x)
    x = LocalResponseNormalization(name="norm1")(x)
    x = layers.Conv2D(64, (1, 1), activation="relu", name="conv2_3x3_reduce")(x)
    x = layers.Conv2D(192, (3, 3), padding="same", activation="relu", name="conv2_3x3")(x)
    x = LocalResponseNormalization(name="norm2")(x)
    x = layers.MaxPooling2D((3, 3), strides=2, padding="same", name="pool2")(x)
    for stage in ("3a", "3b", "pool3", "4a", "4b", "4c", "4d", "4e", "pool4", "5a", "5b"):
        if stage.startswith("pool"):
            x = layers.MaxPooling2D((3, 3), strides=2, padding="same", name=stage)(x)
            continue
        f1, r3, f3, r5, f5, pp = GOOGLENET_MODULES[stage]
        x = inception_module(x, "bottleneck", filters_1x1=f1, reduce_3x3=r3, filters_3x3=f3,
                             reduce_5x5=r5, filters_5x5=f5, pool_proj=pp, name=f"inception_{stage}")
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="googlenet")


# ---------------------------------------------------------------------------------------------
# ResNet
# ---------------------------------------------------------------------------------------------

SHORTCUTS = ("projection", "pad", "none")


@keras.saving.register_keras_serializable(package="cnncourse")
class ZeroPadShortcut(layers.Layer):
    """He et al.'s parameter-free shortcut "option A": subsample by ``stride``, pad channels with
    zeros.

    Used where a residual block changes the shape (stride 2, more filters) in the CIFAR ResNets,
    so that a ResNet and its plain twin have exactly the same parameters.
    """

    def __init__(self, filters: int, stride: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.stride = int(filters), int(stride)

    def call(self, inputs):
        x = inputs[:, :: self.stride, :: self.stride, :]
        extra = self.filters - inputs.shape[-1]
        if extra < 0:
            raise ValueError(f"cannot pad {inputs.shape[-1]} channels down to {self.filters}")
        return ops.pad(x, [[0, 0], [0, 0], [0, 0], [extra // 2, extra - extra // 2]])

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        def shrunk(size):
            return None if size is None else -(-size // self.stride)

        return (n, shrunk(h), shrunk(w), self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "stride": self.stride}


def _conv_bn(x, filters, size, stride, name, use_bias, relu=True, padding="same", momentum=0.99):
    x = layers.Conv2D(filters, (size, size), strides=stride, padding=padding, use_bias=use_bias,
                      name=f"{name}_conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=momentum, name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x) if relu else x


def _shortcut(x, filters, stride, shortcut, name, use_bias, momentum=0.99):
    """None for ``shortcut="none"`` (no addition); the identity when shapes match; otherwise a
    1x1 projection ("projection") or zero padding ("pad")."""
    check.one_of("shortcut", shortcut, SHORTCUTS)
    if shortcut == "none":
        return None
    if stride == 1 and x.shape[-1] == filters:
        return x
    if shortcut == "pad":
        return ZeroPadShortcut(filters, stride, name=f"{name}_0_pad")(x)
    return _conv_bn(x, filters, 1, stride, f"{name}_0", use_bias, relu=False, momentum=momentum)


def _check_block_args(filters, stride):
    check.integer("filters", filters)
    check.one_of("stride", stride, (1, 2))


def residual_block(x, filters: int, stride: int = 1, shortcut: str = "projection",
                   use_bias: bool = True, name: str = "res", bn_momentum: float = 0.99):
    """The basic residual block of ResNet-18/34 (He et al., *Deep Residual Learning for Image
    Recognition*, CVPR 2016, fig. 2): ``relu(F(x) + x)`` with F = 3x3 conv-BN-ReLU-3x3 conv-BN.

    The first convolution has stride ``stride``. Where the output shape differs from the input
    the shortcut is a 1x1 convolution with batch norm (``shortcut="projection"``, the paper's
    option B) or parameter-free subsampling with zero-padded channels (``"pad"``, option A).
    ``shortcut="none"`` drops the addition: the block of the *plain* network of the same depth.
    ``bn_momentum``: how slowly batch norm's running statistics follow the batches (Keras's
    0.99 by default; 0.9, PyTorch's default, settles within a short training).
    """
    _check_block_args(filters, stride)
    m = bn_momentum
    skip = _shortcut(x, filters, stride, shortcut, name, use_bias, m)
    y = _conv_bn(x, filters, 3, stride, f"{name}_1", use_bias, momentum=m)
    y = _conv_bn(y, filters, 3, 1, f"{name}_2", use_bias, relu=False, momentum=m)
    if skip is not None:
        y = layers.Add(name=f"{name}_add")([skip, y])
    return layers.Activation("relu", name=f"{name}_out")(y)


def bottleneck_block(x, filters: int, stride: int = 1, shortcut: str = "projection",
                     use_bias: bool = True, name: str = "res", bn_momentum: float = 0.99):
    """The bottleneck residual block of ResNet-50/101/152 (He et al. 2016, fig. 5, right).

    1x1 conv to ``filters`` channels (stride ``stride``, as in the original ResNet and
    keras.applications), 3x3 conv with ``filters``, 1x1 conv back up to ``4 * filters``, each
    followed by batch norm (ReLU after the first two), plus the shortcut, then ReLU. The 1x1
    layers make the 3x3 convolution work on 4x fewer channels. Arguments as :func:`residual_block`.
    """
    _check_block_args(filters, stride)
    m = bn_momentum
    skip = _shortcut(x, 4 * filters, stride, shortcut, name, use_bias, m)
    y = _conv_bn(x, filters, 1, stride, f"{name}_1", use_bias, momentum=m)
    y = _conv_bn(y, filters, 3, 1, f"{name}_2", use_bias, momentum=m)
    y = _conv_bn(y, 4 * filters, 1, 1, f"{name}_3", use_bias, relu=False, momentum=m)
    if skip is not None:
        y = layers.Add(name=f"{name}_add")([skip, y])
    return layers.Activation("relu", name=f"{name}_out")(y)


#: Blocks per stage (conv2_x ... conv5_x) and block type, He et al. 2016, table 1.
RESNET_STAGES = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}


def resnet(depth: int = 50, input_shape=(224, 224, 3), num_classes: int = 1000,
           use_bias: bool = True) -> keras.Model:
    """ResNet-18/34/50/101/152 for ImageNet (He et al., CVPR 2016, table 1), input 224x224x3.

    7x7/2 conv with 64 filters, 3x3/2 max pool, four stages of residual blocks with 64, 128,
    256, 512 filters (stride 2 at the start of stages 3-5; basic blocks for 18/34, bottleneck
    blocks for 50+), global average pooling and a softmax layer. Layer names and conventions are
    those of keras.applications (``conv2_block1_1_conv``...): with ``use_bias=True`` (the default,
    as keras.applications, although batch norm makes a convolution's bias redundant) ResNet-50 has
    25,636,712 parameters, exactly ``keras.applications.ResNet50``. ``use_bias=False`` follows the
    paper and torchvision (ResNet-18: 11,689,512 trainable parameters).
    """
    check.one_of("depth", depth, sorted(RESNET_STAGES))
    input_shape = check.image_shape("input_shape", input_shape)
    num_classes = check.integer("num_classes", num_classes)
    kind, stages = RESNET_STAGES[depth]
    block = residual_block if kind == "basic" else bottleneck_block
    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.ZeroPadding2D(3, name="conv1_pad")(inputs)
    x = _conv_bn(x, 64, 7, 2, "conv1", use_bias, padding="valid")
    x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
    x = layers.MaxPooling2D((3, 3), strides=2, name="pool1_pool")(x)
    for stage, (filters, blocks) in enumerate(zip((64, 128, 256, 512), stages, strict=True), 2):
        for b in range(1, blocks + 1):
            stride = 2 if b == 1 and stage > 2 else 1
            x = block(x, filters, stride, use_bias=use_bias, name=f"conv{stage}_block{b}")
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name=f"resnet{depth}")


def cifar_resnet(depth: int = 20, input_shape=(32, 32, 3), num_classes: int = 10, width: int = 16,
                 shortcut: str = "pad") -> keras.Model:
    """The small ResNets of He et al.'s CIFAR-10 experiments (CVPR 2016, sec. 4.2), 32x32x3.

    ``depth = 6n + 2`` layers: a 3x3 conv with ``width`` filters, three stages of n basic
    residual blocks with ``width``, ``2*width``, ``4*width`` filters (stride 2 between stages),
    global average pooling and a softmax layer. ResNet-20/32/44/56/110 have 0.27/0.46/0.66/0.85/1.7
    million parameters. ``shortcut="pad"`` is the paper's parameter-free option A;
    ``shortcut="none"`` builds the *plain* network with the same layers and parameters, which
    trains worse as it gets deeper (the degradation problem, the paper's fig. 6). Batch norm
    uses momentum 0.9 (the Torch/PyTorch value the paper's CIFAR runs used), so its running
    statistics are usable after a short training.
    """
    if (check.integer("depth", depth, minimum=8) - 2) % 6:
        raise ValueError(
            f"depth must be 6n + 2 with n >= 1 (8, 14, 20, 32, 44, 56, 110...), got {depth!r}"
        )
    check.one_of("shortcut", shortcut, SHORTCUTS)
    input_shape = check.image_shape("input_shape", input_shape)
    num_classes = check.integer("num_classes", num_classes)
    n = (depth - 2) // 6
    inputs = keras.Input(shape=input_shape, name="image")
    x = _conv_bn(inputs, width, 3, 1, "conv1", use_bias=False, momentum=0.9)
    for stage, filters in enumerate((width, 2 * width, 4 * width), 2):
        for b in range(1, n + 1):
            stride = 2 if b == 1 and stage > 2 else 1
            x = residual_block(x, filters, stride, shortcut=shortcut, use_bias=False,
                               name=f"conv{stage}_block{b}", bn_momentum=0.9)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    kind = "plain" if shortcut == "none" else "resnet"
    return keras.Model(inputs, outputs, name=f"{kind}{depth}")


# ---------------------------------------------------------------------------------------------
# DenseNet
# ---------------------------------------------------------------------------------------------


def _dense_layer(x, growth_rate, name):
    """BN-ReLU-1x1 conv (4k filters)-BN-ReLU-3x3 conv (k filters), concatenated to the input."""
    y = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_0_bn")(x)
    y = layers.Activation("relu", name=f"{name}_0_relu")(y)
    y = layers.Conv2D(4 * growth_rate, (1, 1), use_bias=False, name=f"{name}_1_conv")(y)
    y = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_1_bn")(y)
    y = layers.Activation("relu", name=f"{name}_1_relu")(y)
    y = layers.Conv2D(growth_rate, (3, 3), padding="same", use_bias=False, name=f"{name}_2_conv")(y)
    return layers.Concatenate(name=f"{name}_concat")([x, y])


def dense_block(x, num_layers: int, growth_rate: int = 32, name: str = "dense"):
    """A dense block (Huang et al., *Densely Connected Convolutional Networks*, CVPR 2017).

    ``num_layers`` composite layers (BN-ReLU-1x1 conv with 4k filters, BN-ReLU-3x3 conv with k =
    ``growth_rate`` filters); each one's k new feature maps are concatenated to everything
    before, so the block's output has ``input channels + num_layers * growth_rate`` channels.
    """
    check.integer("num_layers", num_layers)
    check.integer("growth_rate", growth_rate)
    for i in range(1, num_layers + 1):
        x = _dense_layer(x, growth_rate, name=f"{name}_block{i}")
    return x


def transition_block(x, reduction: float = 0.5, name: str = "transition"):
    """DenseNet's transition between dense blocks: BN-ReLU-1x1 conv keeping ``reduction`` of the
    channels, then 2x2 average pooling (halves the feature maps)."""
    check.number("reduction", reduction, 0, 1, "(]")
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    x = layers.Activation("relu", name=f"{name}_relu")(x)
    x = layers.Conv2D(int(x.shape[-1] * reduction), (1, 1), use_bias=False, name=f"{name}_conv")(x)
    return layers.AveragePooling2D((2, 2), strides=2, name=f"{name}_pool")(x)


def densenet121(input_shape=(224, 224, 3), num_classes: int = 1000, growth_rate: int = 32,
                blocks: Sequence[int] = (6, 12, 24, 16)) -> keras.Model:
    """DenseNet-121 (Huang et al., CVPR 2017, table 1), input 224x224x3.

    7x7/2 conv with 2k filters, 3x3/2 max pool, four dense blocks of 6, 12, 24, 16 layers with
    growth rate k = 32 separated by transitions that halve channels and resolution, BN-ReLU,
    global average pooling and a softmax layer: 8,062,504 parameters, as
    ``keras.applications.DenseNet121`` (whose conventions and layer names it follows).
    """
    input_shape = check.image_shape("input_shape", input_shape)
    num_classes = check.integer("num_classes", num_classes)
    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.ZeroPadding2D(3, name="conv1_pad")(inputs)
    x = layers.Conv2D(2 * growth_rate, (7, 7), strides=2, use_bias=False, name="conv1_conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
    x = layers.MaxPooling2D((3, 3), strides=2, name="pool1")(x)
    for i, n in enumerate(blocks):
        x = dense_block(x, n, growth_rate, name=f"conv{i + 2}")
        if i < len(blocks) - 1:
            x = transition_block(x, 0.5, name=f"pool{i + 2}")
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name="bn")(x)
    x = layers.Activation("relu", name="relu")(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="densenet121")


# ---------------------------------------------------------------------------------------------
# MobileNet v1
# ---------------------------------------------------------------------------------------------


def depthwise_separable_block(x, filters: int, stride: int = 1, name: str = "dwsep"):
    """A depthwise separable convolution (Howard et al., *MobileNets*, 2017, fig. 3, right).

    A 3x3 depthwise convolution (one filter per input channel, stride ``stride``), BN, ReLU6,
    then a 1x1 pointwise convolution mixing the channels into ``filters`` outputs, BN, ReLU6.
    Against a standard 3x3 convolution it costs ``1/filters + 1/9`` as many multiply-adds.
    """
    _check_block_args(filters, stride)
    if stride == 2:  # keras.applications pads bottom/right only, then a "valid" convolution
        x = layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"{name}_pad")(x)
    x = layers.DepthwiseConv2D((3, 3), strides=stride, padding="same" if stride == 1 else "valid",
                               use_bias=False, name=f"{name}_dw")(x)
    x = layers.BatchNormalization(name=f"{name}_dw_bn")(x)
    x = layers.ReLU(6.0, name=f"{name}_dw_relu")(x)
    x = layers.Conv2D(filters, (1, 1), use_bias=False, name=f"{name}_pw")(x)
    x = layers.BatchNormalization(name=f"{name}_pw_bn")(x)
    return layers.ReLU(6.0, name=f"{name}_pw_relu")(x)


#: MobileNet v1 body (Howard et al. 2017, table 1): (pointwise filters, stride) of the 13 blocks.
MOBILENET_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
                    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))


def mobilenet(input_shape=(224, 224, 3), num_classes: int = 1000, alpha: float = 1.0,
              dropout: float = 1e-3) -> keras.Model:
    """MobileNet v1 (Howard et al., *MobileNets: Efficient Convolutional Neural Networks for Mobile
    Vision Applications*, 2017, table 1), input 224x224x3.

    A standard 3x3/2 convolution with 32 filters, 13 depthwise separable blocks, global average
    pooling, dropout and a 1x1 convolution as the classifier. ``alpha`` (the width multiplier)
    scales every layer's filters. ``alpha=1``: 4,253,864 parameters, exactly
    ``keras.applications.MobileNet`` (same conventions), and about 569 million multiply-adds.
    """
    input_shape = check.image_shape("input_shape", input_shape)
    num_classes = check.integer("num_classes", num_classes)
    check.number("alpha", alpha, 0, None, "()")
    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Conv2D(int(32 * alpha), (3, 3), strides=2, padding="same", use_bias=False,
                      name="conv1")(inputs)
    x = layers.BatchNormalization(name="conv1_bn")(x)
    x = layers.ReLU(6.0, name="conv1_relu")(x)
    for i, (filters, stride) in enumerate(MOBILENET_BLOCKS, 1):
        x = depthwise_separable_block(x, int(filters * alpha), stride, name=f"block{i}")
    x = layers.GlobalAveragePooling2D(keepdims=True, name="avg_pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    x = layers.Conv2D(num_classes, (1, 1), name="conv_preds")(x)
    x = layers.Reshape((num_classes,), name="reshape")(x)
    outputs = layers.Activation("softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name=f"mobilenet_{alpha:g}")


# ---------------------------------------------------------------------------------------------
# AlphaGo
# ---------------------------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="cnncourse")
class PositionBias(layers.Layer):
    """Adds a separate learned bias to each position of its (flattened) input.

    AlphaGo's last layer is a 1x1 convolution "with a different bias for each position": a
    convolution shares one bias across the board, this layer gives each of the 361 points its own.
    """

    def build(self, input_shape):
        self.bias = self.add_weight(shape=tuple(input_shape[1:]), initializer="zeros", name="bias")

    def call(self, inputs):
        return inputs + self.bias


def alphago_policy(k: int = 192, input_shape=(19, 19, 48)) -> keras.Model:
    """The AlphaGo SL policy network (Silver et al., *Mastering the game of Go with deep neural
    networks and tree search*, Nature 2016, methods "Neural network architecture").

    Input: the 19x19 board with 48 feature planes. Layer 1 zero-pads to 23x23 and convolves ``k``
    5x5 filters; layers 2-12 zero-pad to 21x21 and convolve ``k`` 3x3 filters (ReLU throughout,
    stride 1, so every layer stays 19x19); layer 13 is a 1x1 convolution with one filter plus a
    separate bias per position, and a softmax over the 361 points. No pooling: every position
    matters, so the network never throws resolution away. ``k=192`` (the match version):
    3,882,793 parameters.
    """
    check.integer("k", k)
    input_shape = check.image_shape("input_shape", input_shape)
    inputs = keras.Input(shape=input_shape, name="board")
    x = layers.ZeroPadding2D(2, name="conv1_pad")(inputs)
    x = layers.Conv2D(k, (5, 5), activation="relu", name="conv1")(x)
    for i in range(2, 13):
        x = layers.ZeroPadding2D(1, name=f"conv{i}_pad")(x)
        x = layers.Conv2D(k, (3, 3), activation="relu", name=f"conv{i}")(x)
    x = layers.Conv2D(1, (1, 1), use_bias=False, name="conv13")(x)
    x = layers.Flatten(name="flatten")(x)
    x = PositionBias(name="position_bias")(x)
    outputs = layers.Softmax(name="move_probabilities")(x)
    return keras.Model(inputs, outputs, name=f"alphago_policy_k{k}")
