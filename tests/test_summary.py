"""Layer accounting against the lectures' tables, the papers and TensorFlow's own arithmetic.

The VGG16 table is the lecture's slide typed in by hand (shape and weights per row); the
inception costs are the slide's 854M and the bottleneck sum; multiply-adds per layer are checked
with TensorFlow itself: a layer fed with ones through all-ones weights outputs, at each position,
the number of products it computed there.
"""

import keras
import numpy as np
import pytest

from cnncourse import models, summary

# The lecture's VGG16 slide: (height, width, channels, weights without biases), INPUT first.
VGG16_SLIDE = [
    (224, 224, 3, 0),
    (224, 224, 64, 3 * 3 * 3 * 64), (224, 224, 64, 3 * 3 * 64 * 64), (112, 112, 64, 0),
    (112, 112, 128, 3 * 3 * 64 * 128), (112, 112, 128, 3 * 3 * 128 * 128), (56, 56, 128, 0),
    (56, 56, 256, 3 * 3 * 128 * 256), (56, 56, 256, 3 * 3 * 256 * 256),
    (56, 56, 256, 3 * 3 * 256 * 256),
    (28, 28, 256, 0),
    (28, 28, 512, 3 * 3 * 256 * 512), (28, 28, 512, 3 * 3 * 512 * 512),
    (28, 28, 512, 3 * 3 * 512 * 512),
    (14, 14, 512, 0),
    (14, 14, 512, 3 * 3 * 512 * 512), (14, 14, 512, 3 * 3 * 512 * 512),
    (14, 14, 512, 3 * 3 * 512 * 512),
    (7, 7, 512, 0),
    (1, 1, 4096, 7 * 7 * 512 * 4096), (1, 1, 4096, 4096 * 4096), (1, 1, 1000, 4096 * 1000),
]


@pytest.fixture(scope="module")
def vgg16_table():
    return summary.layer_table(models.vgg16())


def test_vgg16_table_reproduces_the_slide_row_by_row(vgg16_table):
    rows = vgg16_table[vgg16_table["type"] != "Flatten"]
    assert len(rows) == len(VGG16_SLIDE)
    for (_, row), (h, w, c, weights) in zip(rows.iterrows(), VGG16_SLIDE, strict=True):
        assert row["activations"] == h * w * c, row["layer"]
        assert row["weights"] == weights, row["layer"]
    first = vgg16_table.set_index("layer").loc["block1_conv1"]
    assert first["activations"] == 3_211_264
    assert summary.format_count(first["activations"]) == "3.2M"
    assert first["weights"] == 1_728 and first["biases"] == 64
    assert vgg16_table.set_index("layer").loc["fc1", "weights"] == 102_760_448


def test_vgg16_totals(vgg16_table):
    assert vgg16_table.attrs["parameters"] == vgg16_table.attrs["total"] == 138_357_544
    per_image = sum(h * w * c for h, w, c, _ in VGG16_SLIDE)
    assert vgg16_table.attrs["activations"] == per_image == 15_237_608
    assert vgg16_table.attrs["memory float32"] == 4 * per_image
    assert vgg16_table.attrs["memory mixed"] == 2 * per_image
    # multiply-adds: every conv output value costs 3x3xC_in, every FC output its inputs
    pairs = zip(VGG16_SLIDE[:-1], VGG16_SLIDE[1:], strict=True)
    macs = sum(h * w * c * 9 * prev_c for (_, _, prev_c, _), (h, w, c, wts) in pairs
               if wts and h > 1)
    macs += 7 * 7 * 512 * 4096 + 4096 * 4096 + 4096 * 1000
    assert vgg16_table.attrs["MACs"] == macs == 15_470_264_320
    assert summary.format_count(vgg16_table.attrs["parameters"]) == "138.4M"


@pytest.mark.parametrize("kind, slide", [("naive", 854_196_224), ("bottleneck", 271_351_808)])
def test_inception_multiply_adds(kind, slide):
    x = keras.Input((28, 28, 256))
    module = keras.Model(x, models.inception_module(x, kind))
    hand = {  # the slide's rows: output H x W x filters x (kernel x kernel x input channels)
        "naive": 28 * 28 * 128 * 256 + 28 * 28 * 192 * 3 * 3 * 256 + 28 * 28 * 96 * 5 * 5 * 256,
        "bottleneck": 3 * (28 * 28 * 64 * 256) + 28 * 28 * 128 * 256
        + 28 * 28 * 192 * 3 * 3 * 64 + 28 * 28 * 96 * 5 * 5 * 64,
    }[kind]
    assert summary.count_macs(module) == hand == slide


def _ones_count(layer, input_shape):
    """Multiply-adds per TensorFlow: all-ones input and weights, zero biases, sum of the output."""
    model = keras.Sequential([keras.Input(input_shape), layer])
    for weight in layer.weights:
        fill = np.ones if len(weight.shape) > 1 else np.zeros  # kernels of ones, zero biases
        weight.assign(fill(weight.shape, "float32"))
    ones = np.ones((1, *input_shape), "float32")
    return model, int(round(float(keras.ops.sum(model(ones)))))


@pytest.mark.parametrize("layer, input_shape", [
    (lambda: keras.layers.Conv2D(7, (3, 3)), (9, 9, 5)),
    (lambda: keras.layers.Conv2D(6, (3, 3), strides=2), (11, 11, 4)),
    (lambda: keras.layers.Conv2D(8, (3, 3), groups=2), (8, 8, 6)),
    (lambda: keras.layers.Conv1D(5, 4), (20, 3)),
    (lambda: keras.layers.DepthwiseConv2D((3, 3), depth_multiplier=2), (7, 7, 4)),
    (lambda: keras.layers.Conv2DTranspose(3, (3, 3), strides=2), (5, 5, 4)),
    (lambda: keras.layers.Dense(6), (10,)),
    (lambda: keras.layers.Dense(3), (4, 5)),
])
def test_layer_macs_agree_with_tensorflow(layer, input_shape):
    model, reference = _ones_count(layer(), input_shape)
    assert summary.layer_macs(model.layers[-1]) == reference


def test_separable_convolution_is_depthwise_plus_pointwise():
    x = keras.Input((10, 10, 8))
    sep = keras.Model(x, keras.layers.SeparableConv2D(16, (3, 3))(x))
    two = keras.Model(x, keras.layers.Conv2D(16, (1, 1))(keras.layers.DepthwiseConv2D((3, 3))(x)))
    assert summary.count_macs(sep) == summary.count_macs(two) == 8 * 8 * 8 * 9 + 8 * 8 * 8 * 16


def test_three_3x3_convolutions_against_one_7x7():
    c = 64
    x = keras.Input((32, 32, c))
    y = x
    for _ in range(3):
        y = keras.layers.Conv2D(c, (3, 3), padding="same", use_bias=False)(y)
    stack = summary.layer_table(keras.Model(x, y))
    seven = keras.layers.Conv2D(c, (7, 7), padding="same", use_bias=False)
    single = summary.layer_table(keras.Model(x, seven(x)))
    assert stack["weights"].sum() == 3 * (3 * 3 * c * c) == 110_592
    assert single["weights"].sum() == 7 * 7 * c * c == 200_704
    assert stack.attrs["MACs"] / single.attrs["MACs"] == pytest.approx(27 / 49)


def test_depthwise_separable_saving_is_the_papers_ratio():
    """MobileNet paper, eq. 5: separable / standard cost = 1/N + 1/D_K^2."""
    x = keras.Input((14, 14, 512))
    standard = keras.Model(x, keras.layers.Conv2D(512, (3, 3), padding="same")(x))
    separable = keras.Model(x, models.depthwise_separable_block(x, 512))
    ratio = summary.count_macs(separable) / summary.count_macs(standard)
    assert ratio == pytest.approx(1 / 512 + 1 / 9)


@pytest.mark.parametrize("alpha, million_mult_adds", [(1.0, 569), (0.5, 149)])
def test_mobilenet_cost_matches_the_paper(alpha, million_mult_adds):
    """Howard et al. 2017, table 6 (224x224 input)."""
    assert round(summary.count_macs(models.mobilenet(alpha=alpha)) / 1e6) == million_mult_adds


def test_table_of_a_sequential_model_lists_its_input():
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(4, (3, 3)),
                              keras.layers.Flatten(), keras.layers.Dense(10)])
    table = summary.layer_table(model)
    assert list(table["type"]) == ["InputLayer", "Conv2D", "Flatten", "Dense"]
    assert list(table["activations"]) == [784, 26 * 26 * 4, 0, 10]  # Flatten stores nothing new
    assert list(table["parameters"]) == [0, 3 * 3 * 4 + 4, 0, 26 * 26 * 4 * 10 + 10]
    assert table.attrs["MACs"] == 26 * 26 * 4 * 9 + 26 * 26 * 4 * 10


def test_nested_model_counts_once():
    inner_in = keras.Input((8, 8, 3))
    inner_out = keras.layers.Conv2D(4, (3, 3), padding="same")(inner_in)
    inner = keras.Model(inner_in, inner_out, name="backbone")
    x = keras.Input((8, 8, 3))
    outer = keras.Model(x, keras.layers.Dense(2)(keras.layers.Flatten()(inner(x))))
    table = summary.layer_table(outer)
    assert table.attrs["MACs"] == 8 * 8 * 4 * 27 + 256 * 2
    assert table.attrs["activations"] == 8 * 8 * 3 + 8 * 8 * 4 + 2
    assert summary.count_macs(outer) == table.attrs["MACs"]


def test_parameter_table_still_works():
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(32, (3, 3)),
                              keras.layers.Conv2D(64, (3, 3))])
    table = summary.parameter_table(model, nested=False)
    assert list(table.columns) == ["layer", "type", "output shape", "parameters", "arithmetic"]
    assert table["arithmetic"].iloc[1] == "3x3x32x64 + 64 = 18,496"
    assert table.attrs["total"] == 320 + 18_496


def test_bad_input():
    with pytest.raises(TypeError, match="keras.Model"):
        summary.layer_table("vgg16")
    with pytest.raises(TypeError, match="keras.Model"):
        summary.count_macs(42)
    x = keras.Input((None, None, 3))
    with pytest.raises(ValueError, match="fixed input size"):
        summary.count_macs(keras.Model(x, keras.layers.Conv2D(2, (3, 3))(x)))


def test_format_count():
    assert summary.format_count(150_528) == "150.5K"
    assert summary.format_count(1_728) == "1,728"
    assert summary.format_count(15_470_264_320) == "15.5G"
    assert summary.format_count(61_050_432, "B") == "58.2 MiB"


def test_walk_descends_into_nested_models_with_their_path():
    from cnncourse.nested import leaf_layers, walk

    inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="a"),
                              keras.layers.Dense(2, name="b")], name="inner")
    inputs = keras.Input((4,))
    outer = keras.Model(inputs, keras.layers.Dense(1, name="c")(inner(inputs)), name="outer")
    seen = [([m.name for m in path], layer.name) for path, layer in walk(outer)]
    assert seen[1:] == [([], "inner"), (["inner"], "a"), (["inner"], "b"), ([], "c")]
    assert [layer.name for layer in leaf_layers(outer)][1:] == ["a", "b", "c"]
