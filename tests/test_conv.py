"""cnncourse.conv: the lectures' worked examples, and random cases against TensorFlow and SciPy.

References: the numbers on the lecture slides; tf.nn.conv2d / keras Conv2D (convolution),
tf.nn.max_pool2d / avg_pool2d and their gradient through tf.GradientTape (pooling),
scipy.signal.convolve2d (mathematical convolution). Nothing here checks conv against itself.
"""

import itertools

import numpy as np
import pytest
import scipy.signal

from cnncourse import conv

IMPLEMENTATIONS = [conv.conv2d, conv.conv2d_naive]

# ----------------------------------------------------------------- the lectures' worked examples

IMAGE_6x6 = [[1, 0, 0, 0, 0, 1], [0, 1, 0, 0, 1, 0], [0, 0, 1, 1, 0, 0],
             [1, 0, 0, 0, 1, 0], [0, 1, 0, 0, 1, 0], [0, 0, 1, 0, 1, 0]]
FILTER_1 = [[1, -1, -1], [-1, 1, -1], [-1, -1, 1]]
FILTER_2 = [[-1, 1, -1]] * 3
MAP_1 = [[3, -1, -3, -1], [-3, 1, 0, -3], [-3, -3, 0, 1], [3, -2, -2, -1]]
MAP_2 = [[-1, -1, -1, -1], [-1, -1, -2, 1], [-1, -1, -2, 1], [-1, 0, -4, 3]]

POOL_INPUT = [[2, 4, 8, 3, 6], [9, 3, 4, 2, 5], [5, 4, 6, 3, 1], [2, 3, 1, 3, 4], [2, 7, 4, 5, 7]]
POOL_GRAD_OUT = [[1, 3, 1], [1, 4, 2], [6, 2, 1]]
POOL_GRAD_IN = [[0, 0, 4, 0, 0], [2, 0, 0, 0, 0], [0, 0, 6, 0, 0], [0, 0, 0, 0, 0], [0, 8, 0, 0, 1]]


@pytest.mark.parametrize("conv2d", IMPLEMENTATIONS)
def test_six_by_six_image_with_the_two_filters(conv2d):
    np.testing.assert_array_equal(conv2d(IMAGE_6x6, FILTER_1), MAP_1)
    np.testing.assert_array_equal(conv2d(IMAGE_6x6, FILTER_1, stride=2), [[3, -3], [-3, 0]])
    np.testing.assert_array_equal(conv2d(IMAGE_6x6, FILTER_2), MAP_2)
    # Both filters at once: a (3, 3, 1, 2) kernel gives a (4, 4, 2) stack of feature maps.
    both = np.stack([FILTER_1, FILTER_2], axis=-1)[:, :, None, :]
    np.testing.assert_array_equal(conv2d(IMAGE_6x6, both), np.stack([MAP_1, MAP_2], axis=-1))


def test_max_pooling_the_two_feature_maps():
    np.testing.assert_array_equal(conv.max_pool2d(MAP_1, 2), [[3, 0], [3, 1]])
    np.testing.assert_array_equal(conv.max_pool2d(MAP_2, 2), [[-1, 1], [0, 3]])
    stacked = np.stack([MAP_1, MAP_2], axis=-1)
    expected = np.stack([[[3, 0], [3, 1]], [[-1, 1], [0, 3]]], -1)
    np.testing.assert_array_equal(conv.max_pool2d(stacked), expected)


@pytest.mark.parametrize("conv2d", IMPLEMENTATIONS)
def test_five_by_five_image(conv2d):
    image = [[3, 3, 2, 1, 0], [0, 0, 1, 3, 1], [3, 1, 2, 2, 3], [2, 0, 0, 2, 2], [2, 0, 0, 0, 1]]
    kernel = [[0, 1, 2], [2, 2, 0], [0, 1, 2]]
    np.testing.assert_array_equal(conv2d(image, kernel), [[12, 12, 17], [10, 17, 19], [9, 6, 14]])


@pytest.mark.parametrize("conv2d", IMPLEMENTATIONS)
def test_zero_padding_then_relu(conv2d):
    image = [[-1, 1, -1, 1, -1],
             [-1, 1, -1, 1, -1],
             [-1, 1, 1, 1, -1],
             [-1, -1, -1, 1, -1],
             [-1, -1, -1, 1, -1]]
    kernel = [[-1, -1, -1], [1, 1, 1], [-1, -1, -1]]
    out = conv2d(image, kernel, padding=1)
    np.testing.assert_array_equal(out, [[0, 0, 0, 0, 0], [0, -1, -3, -1, 0], [2, 5, 3, 3, 0],
                                        [0, -1, -3, -1, 0], [0, 0, 0, 0, 0]])
    activated = conv.relu(out)
    np.testing.assert_array_equal(activated[2], [2, 5, 3, 3, 0])
    assert np.count_nonzero(np.delete(activated, 2, axis=0)) == 0


def test_max_pool_three_by_three_stride_one_and_its_backward_pass():
    np.testing.assert_array_equal(conv.max_pool2d(POOL_INPUT, 3, 1),
                                  [[9, 8, 8], [9, 6, 6], [7, 7, 7]])
    np.testing.assert_array_equal(conv.max_pool2d_backward(POOL_INPUT, POOL_GRAD_OUT, 3, 1),
                                  POOL_GRAD_IN)
    # The gradient is only routed, never created or lost.
    assert np.sum(POOL_GRAD_IN) == np.sum(POOL_GRAD_OUT)


def test_output_sizes_from_the_lecture():
    assert conv.output_size(7, 3, stride=1) == 5
    assert conv.output_size(7, 3, stride=2) == 3
    with pytest.raises(ValueError, match=r"2\.33"):
        conv.output_size(7, 3, stride=3)
    assert conv.output_size(7, 3, stride=1, padding=1) == 7
    assert conv.pad(np.ones((7, 7)), 2).shape == (11, 11)
    padded = conv.pad(np.ones((7, 7)), 2)
    assert padded.sum() == 49 and padded[:2].sum() == 0 and padded[:, -2:].sum() == 0


def test_output_size_modes():
    assert conv.output_size(7, 3, stride=3, mode="floor") == 2
    assert conv.output_size(7, 3, stride=3, mode="ceil") == 3
    assert conv.output_size(7, 3, stride=2, mode="ceil") == 3  # modes agree when the filter fits
    assert conv.output_size(7, 3, padding="same", stride=3) == 3
    assert conv.output_size(7, 3, padding="full") == 9
    assert conv.output_size(7, 3, padding="valid") == 5
    assert conv.output_size(7, 3, dilation=2) == 3


def test_receptive_field_from_the_lecture():
    # kernel 3, padding 1, stride 2 on 5x5: 3x3, then 2x2 (the second does not fit: floor).
    assert conv.output_size(5, 3, stride=2, padding=1) == 3
    assert conv.output_size(3, 3, stride=2, padding=1) == 2
    assert conv.receptive_field([(3, 2), (3, 2)]) == [(3, 2), (7, 4)]
    # Three stacked 3x3 convolutions see 7x7 ...
    assert [r.size for r in conv.receptive_field([(3, 1)] * 3)] == [3, 5, 7]
    # ... with 3 * (3*3*C*C) weights against 7*7*C*C for one 7x7 layer: 27 C^2 vs 49 C^2.
    keras = pytest.importorskip("keras")
    channels = 8
    stacked = keras.Sequential(
        [keras.Input((32, 32, channels))]
        + [keras.layers.Conv2D(channels, (3, 3), use_bias=False) for _ in range(3)]
    )
    single = keras.Sequential([keras.Input((32, 32, channels)),
                               keras.layers.Conv2D(channels, (7, 7), use_bias=False)])
    assert stacked.count_params() == 3 * (3 ** 2 * channels ** 2)
    assert single.count_params() == 7 ** 2 * channels ** 2
    assert stacked.output_shape == single.output_shape == (None, 26, 26, channels)


def test_parameter_counts_from_the_lecture():
    keras = pytest.importorskip("keras")
    dense = keras.Sequential([keras.Input((7 * 7,)), keras.layers.Dense(5 * 5)])
    assert dense.count_params() == 49 * 25 + 25 == 1250
    shared = keras.Sequential([keras.Input((7, 7, 1)), keras.layers.Conv2D(1, (3, 3))])
    assert shared.output_shape == (None, 5, 5, 1)
    assert shared.count_params() == 9 + 1
    rgb = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(16, (3, 3))])
    assert rgb.count_params() == 16 * (3 * 3 * 3) + 16 == 448


def test_classic_kernels_as_on_the_slide():
    k = conv.KERNELS
    assert set(k) == {"identity", "edge_detection_1", "edge_detection_2", "edge_detection_3",
                      "sharpen", "box_blur", "gaussian_blur_3x3", "gaussian_blur_5x5"}
    np.testing.assert_array_equal(k["gaussian_blur_3x3"] * 16, [[1, 2, 1], [2, 4, 2], [1, 2, 1]])
    binomial = np.array([[1, 4, 6, 4, 1]])
    np.testing.assert_array_equal(k["gaussian_blur_5x5"] * 256, binomial.T @ binomial)
    np.testing.assert_array_equal(k["edge_detection_3"], [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]])
    np.testing.assert_array_equal(k["sharpen"], [[0, -1, 0], [-1, 5, -1], [0, -1, 0]])
    np.testing.assert_allclose(k["box_blur"], np.full((3, 3), 1 / 9))
    for name in ("box_blur", "gaussian_blur_3x3", "gaussian_blur_5x5", "identity", "sharpen"):
        assert k[name].sum() == pytest.approx(1.0), name  # these keep the image's brightness
    for name in ("edge_detection_1", "edge_detection_2", "edge_detection_3"):
        assert k[name].sum() == pytest.approx(0.0), name  # flat regions go to zero
    image = np.random.default_rng(0).random((9, 9))
    np.testing.assert_array_equal(conv.conv2d(image, k["identity"], padding="same"), image)
    with pytest.raises(ValueError):
        k["identity"][1, 1] = 2  # read-only: a notebook cannot corrupt them


# ----------------------------------------------------------------- against TensorFlow

tf = pytest.importorskip("tensorflow")


def tf_conv(x, kernel, stride, padding, dilation=1):
    """tf.nn.conv2d on one channels-last image; padding is 'valid', 'same', 'full' or an int."""
    kh, kw = kernel.shape[:2]
    if padding == "full":
        padding = [[0, 0], [(kh - 1) * dilation, (kh - 1) * dilation],
                   [(kw - 1) * dilation, (kw - 1) * dilation], [0, 0]]
    elif isinstance(padding, int):
        padding = [[0, 0], [padding, padding], [padding, padding], [0, 0]]
    else:
        padding = padding.upper()
    out = tf.nn.conv2d(x[None].astype(np.float64), kernel.astype(np.float64), strides=stride,
                       padding=padding, dilations=dilation)
    return out.numpy()[0]


def random_cases(n, seed):
    """Random (image, kernel, stride, padding, dilation) covering strides 1-3, 1-8 channels,
    square and non-square kernels 1-5, odd and even image sizes, every padding mode."""
    rng = np.random.default_rng(seed)
    paddings = ["valid", "same", "full", 0, 1, 2]
    cases = []
    for i in range(n):
        stride = 1 + i % 3
        padding = paddings[(i // 3) % len(paddings)]
        channels = int(rng.integers(1, 9))
        filters = int(rng.integers(1, 5))
        kh, kw = (int(v) for v in rng.choice([1, 2, 3, 4, 5], size=2))
        # TF allows dilation only with stride 1; cases 18-35 and 54-71 with stride 1 are dilated
        dilation = 2 if stride == 1 and (i // 18) % 2 == 1 else 1
        h, w = (int(v) for v in rng.integers(max(kh, kw) * dilation + 1, 14, size=2))
        x = rng.standard_normal((h, w, channels))
        kernel = rng.standard_normal((kh, kw, channels, filters))
        cases.append((x, kernel, stride, padding, dilation))
    return cases


@pytest.mark.parametrize("case", random_cases(72, seed=1), ids=lambda c: (
    f"{c[0].shape}-k{c[1].shape[:2]}-s{c[2]}-{c[3]}-d{c[4]}"))
def test_conv2d_matches_tf_nn_conv2d(case):
    x, kernel, stride, padding, dilation = case
    expected = tf_conv(x, kernel, stride, padding, dilation)
    for conv2d in IMPLEMENTATIONS:
        got = conv2d(x, kernel, stride=stride, padding=padding, dilation=dilation)
        assert got.shape == expected.shape, conv2d.__name__
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10, err_msg=conv2d.__name__)


@pytest.mark.parametrize("stride", [2, 3])
@pytest.mark.parametrize("size", [5, 6, 7, 8])
@pytest.mark.parametrize("kernel_size", [1, 2, 3, 4])
def test_same_padding_is_tensorflows_asymmetric_rule(size, kernel_size, stride):
    rng = np.random.default_rng(size * 100 + kernel_size * 10 + stride)
    x = rng.standard_normal((size, size + 1, 2))
    kernel = rng.standard_normal((kernel_size, kernel_size, 2, 3))
    expected = tf_conv(x, kernel, stride, "same")
    got = conv.conv2d(x, kernel, stride=stride, padding="same")
    assert got.shape == expected.shape == (-(-size // stride), -(-(size + 1) // stride), 3)
    np.testing.assert_allclose(got, expected, atol=1e-10)
    # TF with our widths given explicitly computes the same as TF's own "SAME"
    widths = conv.padding_widths("same", x.shape, kernel.shape, stride)
    explicit = tf.nn.conv2d(x[None], kernel, stride, [[0, 0], *widths, [0, 0]]).numpy()[0]
    np.testing.assert_allclose(explicit, expected, atol=1e-10)


def test_same_padding_puts_the_extra_zero_bottom_right():
    assert conv.same_padding(6, 3, stride=2) == (0, 1)
    assert conv.same_padding(5, 3, stride=2) == (1, 1)
    assert conv.same_padding(7, 4, stride=1) == (1, 2)
    assert conv.same_padding(28, 3, stride=1) == (1, 1)


def test_two_and_three_dimensional_kernels_match_tf():
    rng = np.random.default_rng(3)
    gray, rgb = rng.standard_normal((9, 8)), rng.standard_normal((9, 8, 3))
    k2, k3 = rng.standard_normal((3, 3)), rng.standard_normal((3, 3, 3))
    np.testing.assert_allclose(conv.conv2d(gray, k2, padding="same"),
                               tf_conv(gray[..., None], k2[..., None, None], 1, "same")[..., 0],
                               atol=1e-10)
    np.testing.assert_allclose(conv.conv2d_naive(rgb, k3, stride=2),
                               tf_conv(rgb, k3[..., None], 2, "valid")[..., 0], atol=1e-10)


@pytest.mark.parametrize("padding,stride", [("valid", 1), ("same", 1), ("same", 2), ("valid", 3)])
def test_conv2d_matches_keras_conv2d_with_hand_set_weights(padding, stride):
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(4)
    x = rng.standard_normal((11, 10, 3)).astype("float32")
    kernel = rng.standard_normal((3, 3, 3, 4)).astype("float32")
    bias = rng.standard_normal(4).astype("float32")
    layer = keras.layers.Conv2D(4, (3, 3), strides=stride, padding=padding)
    layer.build((None, 11, 10, 3))
    layer.set_weights([kernel, bias])
    expected = keras.ops.convert_to_numpy(layer(x[None]))[0]
    for conv2d in IMPLEMENTATIONS:
        got = conv2d(x, kernel, stride=stride, padding=padding, bias=bias)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_uint8_image_with_integer_kernel_does_not_overflow():
    image = np.full((4, 4), 255, dtype=np.uint8)
    out = conv.conv2d(image, np.full((3, 3), 255, dtype=np.uint8))
    np.testing.assert_array_equal(out, np.full((2, 2), 9 * 255 * 255))


POOL_CASES = [(size, stride, padding, shape)
              for size, stride in [(2, None), (3, 1), (3, 2), (2, 1), ((2, 3), (1, 2))]
              for padding in ("valid", "same")
              for shape in [(6, 6, 1), (7, 5, 3)]]


@pytest.mark.parametrize("size,stride,padding,shape", POOL_CASES)
def test_pooling_matches_tensorflow(size, stride, padding, shape):
    x = np.random.default_rng(5).standard_normal(shape)
    strides = size if stride is None else stride
    expected_max = tf.nn.max_pool2d(x[None], size, strides, padding.upper()).numpy()[0]
    expected_avg = tf.nn.avg_pool2d(x[None], size, strides, padding.upper()).numpy()[0]
    np.testing.assert_allclose(conv.max_pool2d(x, size, stride, padding), expected_max)
    np.testing.assert_allclose(conv.avg_pool2d(x, size, stride, padding), expected_avg, atol=1e-12)


def tf_max_pool_gradient(x, grad_out, size, stride, padding):
    xt = tf.constant(x[None].astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = tf.nn.max_pool2d(xt, size, stride, padding.upper())
        loss = tf.reduce_sum(y * grad_out[None].astype(np.float32))
    return tape.gradient(loss, xt).numpy()[0]


@pytest.mark.parametrize("size,stride,padding,shape", POOL_CASES)
def test_max_pool_backward_matches_tensorflow_gradient(size, stride, padding, shape):
    rng = np.random.default_rng(6)
    x = rng.standard_normal(shape)
    strides = size if stride is None else stride
    out_shape = conv.max_pool2d(x, size, stride, padding).shape
    grad_out = rng.integers(1, 10, out_shape).astype(float)
    expected = tf_max_pool_gradient(x, grad_out, size, strides, padding)
    got = conv.max_pool2d_backward(x, grad_out, size, stride, padding)
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_max_pool_backward_of_the_lecture_example_matches_tensorflow():
    x = np.array(POOL_INPUT)[..., None]
    expected = tf_max_pool_gradient(x, np.array(POOL_GRAD_OUT)[..., None], 3, 1, "valid")
    np.testing.assert_array_equal(expected[..., 0], POOL_GRAD_IN)


def test_max_pool_backward_breaks_ties_like_tensorflow():
    # Small integers: many windows hold the same maximum several times.
    x = np.random.default_rng(7).integers(0, 3, (8, 8, 2)).astype(float)
    grad_out_shape = conv.max_pool2d(x, 3, 1).shape
    grad_out = np.arange(1, 1 + np.prod(grad_out_shape), dtype=float).reshape(grad_out_shape)
    expected = tf_max_pool_gradient(x, grad_out, 3, 1, "valid")
    np.testing.assert_array_equal(conv.max_pool2d_backward(x, grad_out, 3, 1), expected)


def test_receptive_field_matches_the_gradient_footprint_in_tensorflow():
    """The input pixels that influence one output (non-zero gradient) span the receptive field."""
    stacks = [[(3, 1), (3, 1), (3, 1)], [(3, 2), (3, 2)], [(5, 2), (3, 1), (2, 2)],
              [(3, 1, 2), (3, 1, 4)], [(7, 2), (3, 2), (3, 1, 2)]]
    for stack in stacks:
        x = tf.Variable(tf.ones((1, 64, 64, 1)))
        with tf.GradientTape() as tape:
            y = x
            for layer in stack:
                k, s = layer[0], layer[1]
                d = layer[2] if len(layer) == 3 else 1
                # a dilated kernel written out with its holes (TF's CPU gradient lacks dilation)
                taps = np.zeros(((k - 1) * d + 1,) * 2, np.float32)
                taps[::d, ::d] = 1
                y = tf.nn.conv2d(y, taps[:, :, None, None], strides=s, padding="VALID")
            centre = y[0, y.shape[1] // 2, y.shape[2] // 2, 0]
        footprint = np.flatnonzero(tape.gradient(centre, x).numpy()[0, :, :, 0].any(axis=1))
        expected_size = footprint[-1] - footprint[0] + 1
        assert conv.receptive_field(stack)[-1].size == expected_size, stack
        jump = int(np.prod([layer[1] for layer in stack]))
        assert conv.receptive_field(stack)[-1].jump == jump


# ----------------------------------------------------------------- against SciPy


@pytest.mark.parametrize("kernel_shape", [(1, 1), (2, 2), (3, 3), (2, 3), (4, 5), (5, 5)])
def test_convolve2d_matches_scipy(kernel_shape):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((9, 11))
    kernel = rng.standard_normal(kernel_shape)
    for mode in ("full", "valid"):
        np.testing.assert_allclose(conv.convolve2d(x, kernel, padding=mode),
                                   scipy.signal.convolve2d(x, kernel, mode=mode), atol=1e-12)
    if all(k % 2 for k in kernel_shape):
        np.testing.assert_allclose(conv.convolve2d(x, kernel, padding="same"),
                                   scipy.signal.convolve2d(x, kernel, mode="same"), atol=1e-12)
    # and cross-correlation is scipy's correlate2d
    np.testing.assert_allclose(conv.conv2d(x, kernel), scipy.signal.correlate2d(x, kernel, "valid"),
                               atol=1e-12)


def test_convolution_differs_from_cross_correlation_for_an_asymmetric_kernel():
    x = np.arange(16.0).reshape(4, 4)
    kernel = np.array([[1.0, 0.0], [0.0, 0.0]])
    assert not np.allclose(conv.convolve2d(x, kernel), conv.conv2d(x, kernel))
    np.testing.assert_array_equal(conv.conv2d(x, kernel), x[:3, :3])   # top-left tap
    np.testing.assert_array_equal(conv.convolve2d(x, kernel), x[1:, 1:])  # flipped: bottom-right


def test_plot_conv_steps_draws_the_lecture_steps():
    fig = conv.plot_conv_steps(IMAGE_6x6, FILTER_1)
    titles = [ax.get_title() for ax in fig.axes]
    assert len(fig.axes) == 8
    assert "output[0, 0] = 3" in titles and "output[3, 3] = -1" in titles
    fig = conv.plot_conv_steps(IMAGE_6x6, FILTER_1, stride=2, padding="same", steps=[(2, 2)])
    image, kernel = np.array(IMAGE_6x6, float), np.array(FILTER_1, float)
    value = tf_conv(image[..., None], kernel[..., None, None], 2, "same")[2, 2, 0]
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["window at row 4, col 4", f"output[2, 2] = {value:g}"]
    with pytest.raises(ValueError, match="not an output position"):
        conv.plot_conv_steps(IMAGE_6x6, FILTER_1, steps=[(4, 0)])


# ----------------------------------------------------------------- bad input


@pytest.mark.parametrize("call,match", [
    (lambda: conv.conv2d(np.ones((3, 3)), np.ones((5, 5))), "larger than the padded input"),
    (lambda: conv.conv2d(np.ones((5, 5, 3)), np.ones((3, 3, 2))), "3"),
    (lambda: conv.conv2d(np.ones((5, 5, 3)), np.ones((3, 3))), "channel"),
    (lambda: conv.conv2d(np.ones((5, 5)), np.ones((3, 3)), stride=0), "at least 1"),
    (lambda: conv.conv2d(np.ones((5, 5)), np.ones((3, 3)), padding=-1), "at least 0"),
    (lambda: conv.conv2d(np.ones((5, 5)), np.ones((3, 3)), padding="half"), "valid"),
    (lambda: conv.conv2d(np.ones(5), np.ones((3, 3))), r"\(H, W\)"),
    (lambda: conv.conv2d(np.ones((1, 5, 5, 1)), np.ones((3, 3))), r"got shape \(1, 5, 5, 1\)"),
    (lambda: conv.conv2d(np.ones((5, 5)), np.ones(3)), r"\(kh, kw\)"),
    (lambda: conv.conv2d(np.ones((5, 5)), np.ones((3, 3, 1, 2)), bias=[1, 2, 3]), r"\(2,\)"),
    (lambda: conv.output_size(3, 5), "larger than the padded input"),
    (lambda: conv.output_size(7, 3, mode="round"), "strict"),
    (lambda: conv.max_pool2d(np.ones((3, 3)), 4), "larger than the input"),
    (lambda: conv.max_pool2d(np.ones((4, 4)), 2, padding=1), "'valid' or 'same'"),
    (lambda: conv.max_pool2d_backward(np.ones((4, 4)), np.ones((3, 3)), 2), r"\(2, 2\)"),
    (lambda: conv.receptive_field([(3,)]), "kernel, stride"),
    (lambda: conv.receptive_field([(3, 0)]), "at least 1"),
])
def test_bad_input_raises_value_error_that_says_what_was_expected(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_wrong_types_raise_type_error():
    with pytest.raises(TypeError, match="numbers"):
        conv.conv2d(np.array([["a"]]), np.ones((1, 1)))
    with pytest.raises(TypeError, match="int"):
        conv.conv2d(np.ones((5, 5)), np.ones((3, 3)), stride="2")
    # a float where an int belongs is a wrong type (one rule, cnncourse.validation)
    with pytest.raises(TypeError, match="stride must be an int, got float 1.5"):
        conv.conv2d(np.ones((5, 5)), np.ones((3, 3)), stride=1.5)
    with pytest.raises(TypeError, match=r"n \(input size\) must be an int, got float 7.5"):
        conv.output_size(7.5, 3)
    with pytest.raises(TypeError, match="pad width"):
        conv.pad(np.ones((3, 3)), "same")
    with pytest.raises(TypeError):
        conv.receptive_field(3)


def test_output_size_floor_mode_is_tensorflows_output_shape():
    for n, f, s, p in itertools.product(range(3, 9), range(1, 4), range(1, 4), range(3)):
        expected = tf_conv(np.ones((n, n, 1)), np.ones((f, f, 1, 1)), s, p).shape[0]
        assert conv.output_size(n, f, s, p, mode="floor") == expected, (n, f, s, p)
        out = conv.conv2d(np.ones((n, n)), np.ones((f, f)), stride=s, padding=p)
        assert out.shape == (expected,) * 2
