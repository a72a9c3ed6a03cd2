"""The CNN family builders against independent references.

References: keras.applications (weights=None, nothing downloaded) for VGG16/19, ResNet50,
DenseNet121 and MobileNet; TensorFlow's own ops for LRN and grouped convolutions; the papers'
tables (AlexNet shapes, GoogLeNet table 1, He et al.'s CIFAR ResNet sizes, AlphaGo's methods)
and torchvision's published ResNet-18/34/50 parameter counts for the bias-free convention.
Each big network is built once per module (fixtures) and never trained.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from cnncourse import models


def _per_layer_counts(model):
    """Multiset of the non-zero per-layer parameter counts (independent of layer names)."""
    return sorted(layer.count_params() for layer in model.layers if layer.count_params())


def _trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def _random_images(shape, n=2, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, size=(n, *shape)).astype("float32")


# --- builders against keras.applications -----------------------------------------------------

# (our builder, keras.applications builder, the count keras.applications reports)
AGAINST_KERAS = {
    "vgg16": (models.vgg16, keras.applications.VGG16, 138_357_544),
    "vgg19": (models.vgg19, keras.applications.VGG19, 143_667_240),
    "resnet50": (lambda: models.resnet(50), keras.applications.ResNet50, 25_636_712),
    "densenet121": (models.densenet121, keras.applications.DenseNet121, 8_062_504),
    "mobilenet": (models.mobilenet, keras.applications.MobileNet, 4_253_864),
}


@pytest.fixture(scope="module")
def built():
    """Our full-size networks, built lazily, each at most once in this module."""
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = AGAINST_KERAS[name][0]()
        return cache[name]

    return get


@pytest.mark.slow
@pytest.mark.parametrize("name", list(AGAINST_KERAS))
def test_parameter_counts_equal_keras_applications(built, name):
    _, reference_builder, published = AGAINST_KERAS[name]
    reference = reference_builder(weights=None)
    ours = built(name)
    assert reference.count_params() == published  # the figure the issue quotes
    assert ours.count_params() == published
    assert _trainable(ours) == _trainable(reference)
    assert _per_layer_counts(ours) == _per_layer_counts(reference), "same layers, layer by layer"
    assert ours.output.shape == reference.output.shape == (None, 1000)
    del reference


@pytest.mark.slow
@pytest.mark.parametrize("name", list(AGAINST_KERAS))
def test_full_size_builders_give_probabilities(built, name):
    model = built(name)
    probabilities = keras.ops.convert_to_numpy(model(_random_images(model.input.shape[1:], n=1)))
    assert probabilities.shape == (1, 1000)
    assert np.all(np.isfinite(probabilities))
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-4)


def test_vgg_layer_names_follow_keras_applications(built):
    names = [layer.name for layer in built("vgg16").layers]
    assert names[1:4] == ["block1_conv1", "block1_conv2", "block1_pool"]
    assert names[-4:] == ["flatten", "fc1", "fc2", "predictions"]


# --- AlexNet ---------------------------------------------------------------------------------

# The lecture's AlexNet: (layer, output shape); LRN/BN rows keep the shape.
ALEXNET_SHAPES = [
    ("conv1", (55, 55, 96)), ("pool1", (27, 27, 96)), ("norm1", (27, 27, 96)),
    ("conv2", (27, 27, 256)), ("pool2", (13, 13, 256)), ("norm2", (13, 13, 256)),
    ("conv3", (13, 13, 384)), ("conv4", (13, 13, 384)), ("conv5", (13, 13, 256)),
    ("pool3", (6, 6, 256)), ("fc6", (4096,)), ("fc7", (4096,)), ("fc8", (1000,)),
]


@pytest.fixture(scope="module")
def alexnet_single():
    return models.alexnet()


def test_alexnet_output_shapes_per_layer(alexnet_single):
    shapes = {layer.name: tuple(layer.output.shape[1:]) for layer in alexnet_single.layers}
    assert alexnet_single.input.shape[1:] == (227, 227, 3)
    for name, shape in ALEXNET_SHAPES:
        assert shapes[name] == shape, name


def test_alexnet_single_tower_parameters(alexnet_single):
    assert alexnet_single.count_params() == 62_378_344
    # conv1 by hand: 11x11x3 weights per filter, 96 filters, 96 biases
    assert alexnet_single.get_layer("conv1").count_params() == 11 * 11 * 3 * 96 + 96
    assert alexnet_single.get_layer("fc6").count_params() == 6 * 6 * 256 * 4096 + 4096


def test_alexnet_finite_output(alexnet_single):
    out = keras.ops.convert_to_numpy(alexnet_single(_random_images((227, 227, 3))))
    assert out.shape == (2, 1000) and np.all(np.isfinite(out))
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-5)


def test_alexnet_two_gpu_split_halves_conv2_conv4_conv5():
    model = models.alexnet(two_gpu=True)
    # conv2/4/5 see half of the input channels (the ones on their own GPU), conv3 and FCs see all
    assert model.get_layer("conv2").count_params() == 5 * 5 * 48 * 256 + 256
    assert model.get_layer("conv3").count_params() == 3 * 3 * 256 * 384 + 384
    assert model.get_layer("conv4").count_params() == 3 * 3 * 192 * 384 + 384
    assert model.get_layer("conv5").count_params() == 3 * 3 * 192 * 256 + 256
    assert model.count_params() == 60_965_224  # the paper's "60 million parameters"


def test_grouped_convolution_is_two_independent_towers():
    """groups=2 equals running each half of the channels through its own convolution (TF ops)."""
    x = _random_images((9, 9, 8), n=2)
    layer = keras.layers.Conv2D(6, (3, 3), groups=2, use_bias=False)
    y = keras.ops.convert_to_numpy(layer(x))
    # (3, 3, 4, 6): each group's 3 filters see 4 channels
    kernel = keras.ops.convert_to_numpy(layer.kernel)
    towers = [
        tf.nn.conv2d(x[..., 4 * g : 4 * g + 4], kernel[..., 3 * g : 3 * g + 3], 1, "VALID").numpy()
        for g in range(2)
    ]
    np.testing.assert_allclose(y, np.concatenate(towers, axis=-1), rtol=1e-5, atol=1e-5)


def test_alexnet_batch_norm_variant_replaces_lrn():
    model = models.alexnet(batch_norm=True)
    types = {layer.name: type(layer).__name__ for layer in model.layers}
    assert types["norm1"] == types["norm2"] == "BatchNormalization"
    assert "LocalResponseNormalization" not in types.values()
    # each batch norm adds 4 vectors (scale, offset, moving mean, moving variance) of its channels
    assert model.count_params() == 62_378_344 + 4 * 96 + 4 * 256


def test_lrn_matches_tensorflow():
    x = _random_images((5, 5, 12), n=3) * 40  # large values so the normalisation matters
    ours = keras.ops.convert_to_numpy(models.LocalResponseNormalization()(x))
    reference = tf.nn.local_response_normalization(x, depth_radius=2, bias=2.0, alpha=1e-4,
                                                   beta=0.75)
    np.testing.assert_allclose(ours, reference.numpy(), rtol=1e-5)


# --- VGG and mini-VGG ------------------------------------------------------------------------


def test_mini_vgg_small_inputs_and_finite_output():
    for shape in ((32, 32, 3), (28, 28, 1)):
        model = models.mini_vgg(input_shape=shape)
        assert model.count_params() < 1_000_000
        out = keras.ops.convert_to_numpy(model(_random_images(shape) * 255))
        assert out.shape == (2, 10) and np.all(np.isfinite(out))
    conv = models.mini_vgg(batch_norm=False).get_layer("block1_conv1")
    assert conv.kernel.shape == (3, 3, 3, 32)  # VGG's recipe: 3x3 filters only


@pytest.mark.parametrize("bad, message", [
    (dict(input_shape=(32, 32)), "height, width, channels"),
    (dict(num_classes=0), "num_classes"),
    (dict(input_shape=(4, 4, 3)), "at least"),
])
def test_bad_arguments_are_explained(bad, message):
    with pytest.raises(ValueError, match=message):
        models.mini_vgg(**bad)


def test_vgg_and_alexnet_reject_bad_input():
    with pytest.raises(ValueError, match="at least 32x32"):
        models.vgg16(input_shape=(16, 16, 3))
    with pytest.raises(ValueError, match="dropout"):
        models.alexnet(dropout=1.5)


# --- GoogLeNet / inception -------------------------------------------------------------------

# Szegedy et al. 2015, table 1: output size after each stage.
GOOGLENET_TABLE = {
    "pool1": (56, 56, 64), "pool2": (28, 28, 192),
    "inception_3a_concat": (28, 28, 256), "inception_3b_concat": (28, 28, 480),
    "pool3": (14, 14, 480), "inception_4a_concat": (14, 14, 512),
    "inception_4b_concat": (14, 14, 512), "inception_4c_concat": (14, 14, 512),
    "inception_4d_concat": (14, 14, 528), "inception_4e_concat": (14, 14, 832),
    "pool4": (7, 7, 832), "inception_5a_concat": (7, 7, 832), "inception_5b_concat": (7, 7, 1024),
    "avg_pool": (1024,),
}


def test_googlenet_matches_the_paper_table():
    model = models.googlenet()
    shapes = {layer.name: tuple(layer.output.shape[1:]) for layer in model.layers}
    for name, shape in GOOGLENET_TABLE.items():
        assert shapes[name] == shape, name
    # the paper: "12 times fewer parameters than AlexNet" (about 7M with biases, 6.8M in table 1)
    assert 6.7e6 < model.count_params() < 7.1e6
    small = models.googlenet(input_shape=(64, 64, 3), num_classes=5)
    out = keras.ops.convert_to_numpy(small(_random_images((64, 64, 3))))
    assert out.shape == (2, 5) and np.all(np.isfinite(out))


def test_inception_module_output_channels():
    x = keras.Input((28, 28, 256))
    assert models.inception_module(x, "naive").shape[1:] == (28, 28, 128 + 192 + 96 + 256)
    bottleneck = models.inception_module(x, "bottleneck", name="b")
    assert bottleneck.shape[1:] == (28, 28, 128 + 192 + 96 + 64)
    with pytest.raises(ValueError, match="naive"):
        models.inception_module(x, "wide")


# --- ResNet ----------------------------------------------------------------------------------

# torchvision's published parameter counts (convolutions without biases, BN scale+offset trainable)
TORCHVISION_RESNET = {18: 11_689_512, 34: 21_797_672, 50: 25_557_032}


@pytest.mark.slow
@pytest.mark.parametrize("depth", sorted(TORCHVISION_RESNET))
def test_resnet_without_conv_biases_matches_torchvision(depth):
    model = models.resnet(depth, use_bias=False)
    assert _trainable(model) == TORCHVISION_RESNET[depth]
    assert model.get_layer("avg_pool").output.shape[1:] == (512 if depth < 50 else 2048,)


def test_residual_block_shortcuts():
    x = keras.Input((8, 8, 16))
    same = models.residual_block(x, 16, name="a")
    assert same.shape[1:] == (8, 8, 16)
    down = models.residual_block(x, 32, stride=2, name="b")
    assert down.shape[1:] == (4, 4, 32)
    bottleneck = models.bottleneck_block(x, 16, name="c")
    assert bottleneck.shape[1:] == (8, 8, 64)
    with pytest.raises(ValueError, match="stride"):
        models.residual_block(x, 16, stride=3)
    with pytest.raises(ValueError, match="shortcut"):
        models.residual_block(x, 32, shortcut="magic")


def test_residual_block_adds_its_input():
    """With the convolutions' last BN scaled to zero, the block is relu(x): the identity path."""
    inputs = keras.Input((6, 6, 4))
    model = keras.Model(inputs, models.residual_block(inputs, 4, name="r"))
    model.get_layer("r_2_bn").gamma.assign(np.zeros(4, "float32"))
    x = _random_images((6, 6, 4)) - 0.5
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(x)), np.maximum(x, 0), atol=1e-6)


@pytest.mark.parametrize("depth, millions", [(20, 0.27), (56, 0.85)])
def test_cifar_resnets_have_the_papers_sizes(depth, millions):
    """He et al. 2016, table 6; the plain twin has exactly the same parameters (option A
    shortcuts)."""
    resnet = models.cifar_resnet(depth)
    plain = models.cifar_resnet(depth, shortcut="none")
    assert round(_trainable(resnet) / 1e6, 2) == millions
    assert plain.count_params() == resnet.count_params()
    assert not any(isinstance(layer, keras.layers.Add) for layer in plain.layers)
    assert sum(isinstance(layer, keras.layers.Add) for layer in resnet.layers) == (depth - 2) // 2


def test_cifar_resnet_on_mnist_sized_input_and_bad_depth():
    model = models.cifar_resnet(8, input_shape=(28, 28, 1), width=4)
    out = keras.ops.convert_to_numpy(model(_random_images((28, 28, 1))))
    assert out.shape == (2, 10) and np.all(np.isfinite(out))
    with pytest.raises(ValueError, match="6n \\+ 2"):
        models.cifar_resnet(21)
    with pytest.raises(ValueError, match="depth must be one of"):
        models.resnet(19)


def test_zero_pad_shortcut_subsamples_and_pads():
    x = np.arange(2 * 4 * 4 * 2, dtype="float32").reshape(2, 4, 4, 2)
    y = keras.ops.convert_to_numpy(models.ZeroPadShortcut(6, 2)(x))
    assert y.shape == (2, 2, 2, 6)
    np.testing.assert_array_equal(y[..., 2:4], x[:, ::2, ::2, :])
    assert not y[..., :2].any() and not y[..., 4:].any()


# --- DenseNet, MobileNet ---------------------------------------------------------------------


def test_dense_block_grows_by_the_growth_rate():
    x = keras.Input((8, 8, 24))
    y = models.dense_block(x, 5, growth_rate=12)
    assert y.shape[-1] == 24 + 5 * 12
    assert models.transition_block(y, 0.5).shape[1:] == (4, 4, 42)
    with pytest.raises(ValueError, match="growth_rate"):
        models.dense_block(x, 2, growth_rate=0)


def test_depthwise_separable_block_parameters():
    x = keras.Input((16, 16, 32))
    block = keras.Model(x, models.depthwise_separable_block(x, 64, stride=2))
    # 3x3 depthwise (one filter per channel) + 1x1 pointwise, no biases; BN: 4 vectors each
    assert block.count_params() == 3 * 3 * 32 + 32 * 64 + 4 * 32 + 4 * 64
    assert block.output.shape[1:] == (8, 8, 64)


def test_mobilenet_width_multiplier():
    half = models.mobilenet(input_shape=(128, 128, 3), alpha=0.5)
    reference = keras.applications.MobileNet(weights=None, input_shape=(128, 128, 3), alpha=0.5)
    assert half.count_params() == reference.count_params()


# --- AlphaGo ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def alphago():
    return models.alphago_policy()


def test_alphago_policy_outputs_361_probabilities(alphago):
    boards = (np.random.default_rng(1).uniform(size=(3, 19, 19, 48)) > 0.8).astype("float32")
    p = keras.ops.convert_to_numpy(alphago(boards))
    assert p.shape == (3, 361)
    assert np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)


def test_alphago_policy_architecture(alphago):
    k = 192
    # Silver et al. 2016: 5x5 conv (k), 11 3x3 convs (k), 1x1 conv (1 filter), 361 position biases
    expected = (5 * 5 * 48 * k + k) + 11 * (3 * 3 * k * k + k) + k + 361
    assert alphago.count_params() == expected == 3_882_793
    convs = [layer for layer in alphago.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) == 13
    assert all(tuple(c.output.shape[1:3]) == (19, 19) for c in convs)
    assert alphago.get_layer("conv1").input.shape[1:3] == (23, 23)
    assert alphago.get_layer("conv2").input.shape[1:3] == (21, 21)
    assert not any("Pooling" in type(layer).__name__ for layer in alphago.layers)


def test_position_bias_gives_each_point_its_own_bias():
    layer = models.PositionBias()
    x = np.zeros((2, 361), "float32")
    layer.build(x.shape)
    layer.bias.assign(np.arange(361, dtype="float32"))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x))[1], np.arange(361))
    with pytest.raises(ValueError, match="k must be"):
        models.alphago_policy(k=0)
