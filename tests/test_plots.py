"""cnncourse.plots: every helper returns a figure for small inputs, headless, and draws the right
numbers (checked against scikit-learn, SciPy and TensorFlow, not against the plotting code)."""

import keras
import numpy as np
import plotly.graph_objects as go
import pytest
from matplotlib.figure import Figure
from scipy.signal import correlate2d
from sklearn.metrics import confusion_matrix

from cnncourse import plots

# --- plot_history ----------------------------------------------------------------------------

def _history(n=4, offset=0.0):
    return {"loss": list(np.linspace(1, 0.2, n) + offset),
            "val_loss": list(np.linspace(1.1, 0.4, n) + offset),
            "accuracy": list(np.linspace(0.5, 0.9, n)),
            "val_accuracy": list(np.linspace(0.45, 0.85, n))}


def test_plot_history_one_run_train_solid_validation_dashed():
    fig = plots.plot_history(_history())
    assert isinstance(fig, go.Figure)
    assert len(fig.data) == 4  # 2 metrics x (train, validation)
    dashes = {trace.name: trace.line.dash for trace in fig.data}
    assert dashes["model train"] == "solid" and dashes["model validation"] == "dash"
    np.testing.assert_allclose(fig.data[0].y, _history()["loss"])


def test_plot_history_overlays_runs_and_accepts_a_keras_history():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(np.ones((8, 3)), np.ones(8), epochs=2, validation_split=0.25, verbose=0)
    fig = plots.plot_history({"mlp": _history(), "convnet": history}, metrics=("loss",))
    names = [trace.name for trace in fig.data]
    assert names == ["mlp train", "mlp validation", "convnet train", "convnet validation"]
    assert list(fig.data[2].x) == [1, 2]
    assert fig.data[0].line.color != fig.data[2].line.color


def test_plot_history_rejects_unknown_metrics_and_types():
    with pytest.raises(ValueError, match="none of the requested metrics"):
        plots.plot_history(_history(), metrics=("auc",))
    with pytest.raises(TypeError, match="History"):
        plots.plot_history({"run": 3})


# --- show_images -----------------------------------------------------------------------------

def test_show_images_marks_mistakes_in_red():
    images = np.random.default_rng(0).random((4, 8, 8))
    fig = plots.show_images(images, labels=[1, 2, 3, 4], predictions=[1, 7, 3, 4], ncols=2)
    assert isinstance(fig, Figure)
    titles = [(ax.get_title(), ax.title.get_color()) for ax in fig.axes]
    assert titles[1] == ("2→7", "red")
    assert titles[0][0] == "1" and titles[0][1] != "red"


def test_show_images_rejects_bad_input():
    with pytest.raises(ValueError, match="non-empty"):
        plots.show_images(np.zeros((5, 5)))
    with pytest.raises(ValueError, match="labels has 2 entries for 3 images"):
        plots.show_images(np.zeros((3, 5, 5)), labels=[1, 2])


# --- plot_confusion_matrix -------------------------------------------------------------------

def test_confusion_matrix_counts_match_scikit_learn():
    rng = np.random.default_rng(1)
    y_true = rng.integers(0, 10, 500)
    y_pred = np.where(rng.random(500) < 0.7, y_true, rng.integers(0, 10, 500))
    fig = plots.plot_confusion_matrix(y_true, y_pred)
    assert isinstance(fig, go.Figure)
    np.testing.assert_array_equal(np.array(fig.data[0].z),
                                  confusion_matrix(y_true, y_pred, labels=range(10)))
    accuracy = np.mean(y_true == y_pred)
    assert f"{accuracy:.2%}" in fig.layout.title.text


def test_confusion_matrix_takes_probabilities_and_normalizes_rows():
    y_true = np.array([0, 0, 1, 2, 2, 2])
    probabilities = np.eye(3)[[0, 1, 1, 2, 0, 2]] * 0.8 + 0.05
    fig = plots.plot_confusion_matrix(y_true, probabilities, class_names=["a", "b", "c"],
                                      normalize=True)
    expected = confusion_matrix(y_true, probabilities.argmax(1), normalize="true")
    np.testing.assert_allclose(np.array(fig.data[0].z), expected)
    assert list(fig.data[0].x) == ["a", "b", "c"]


def test_confusion_matrix_rejects_bad_input():
    with pytest.raises(ValueError, match="same non-zero number"):
        plots.plot_confusion_matrix([0, 1, 2], [0, 1])
    with pytest.raises(TypeError, match="integers"):
        plots.plot_confusion_matrix([0.5, 1.0], [0, 1])
    with pytest.raises(ValueError, match="2 class names"):
        plots.plot_confusion_matrix([0, 1, 2], [0, 1, 2], class_names=["x", "y"])


# --- plot_filters ----------------------------------------------------------------------------

def _conv(filters, kernel, channels, seed=0):
    model = keras.Sequential([keras.Input((12, 12, channels)),
                              keras.layers.Conv2D(filters, kernel, name="conv")])
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=(kernel, kernel, channels, filters)).astype("float32")
    model.get_layer("conv").set_weights([weights, np.zeros(filters, "float32")])
    return model, weights


def test_plot_filters_draws_each_kernel_of_the_first_conv_layer():
    model, weights = _conv(filters=5, kernel=3, channels=1)
    fig = plots.plot_filters(model, ncols=4)
    assert isinstance(fig, Figure)
    drawn = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert len(drawn) == 5
    for i, image in enumerate(drawn):
        np.testing.assert_allclose(image, weights[:, :, 0, i])
    # one symmetric colour scale for all filters, so signs and sizes can be compared
    limit = np.abs(weights).max()
    assert fig.axes[0].images[0].get_clim() == pytest.approx((-limit, limit))


def test_plot_filters_colour_bar_says_which_colour_is_which_sign():
    model, weights = _conv(filters=5, kernel=3, channels=1)
    fig = plots.plot_filters(model)
    bars = [ax for ax in fig.axes if ax.get_ylabel().startswith("weight")]
    assert len(bars) == 1
    limit = np.abs(weights).max()
    assert bars[0].get_ylim() == pytest.approx((-limit, limit))  # centred on 0
    fig = plots.plot_filters(_conv(filters=2, kernel=3, channels=3)[0])
    # colour images: no scale
    assert not any(ax.get_ylabel().startswith("weight") for ax in fig.axes)


def test_plot_history_ticks_whole_epochs():
    assert plots.plot_history(_history(n=2)).layout.xaxis.dtick == 1
    assert plots.plot_history(_history(n=25)).layout.xaxis.dtick == 3


def test_plot_filters_rgb_kernels_and_arrays():
    model, weights = _conv(filters=2, kernel=3, channels=3)
    fig = plots.plot_filters(model.get_layer("conv"))
    image = fig.axes[0].images[0].get_array()
    assert image.shape == (3, 3, 3)
    assert image.min() == pytest.approx(0) and image.max() == pytest.approx(1)
    fig = plots.plot_filters(np.zeros((5, 5, 4, 6)), channel=3)
    assert sum(bool(ax.images) for ax in fig.axes) == 6


def test_plot_filters_rejects_bad_input():
    dense = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="no Conv2D"):
        plots.plot_filters(dense)
    with pytest.raises(ValueError, match="channel must be in"):
        plots.plot_filters(np.zeros((3, 3, 1, 4)), channel=1)
    with pytest.raises(ValueError, match="kernel array"):
        plots.plot_filters(np.zeros((3, 3, 4)))


# --- plot_feature_maps -----------------------------------------------------------------------

def test_feature_maps_are_the_layer_activations():
    model = keras.Sequential([
        keras.Input((10, 10, 1)),
        keras.layers.Conv2D(3, (3, 3), activation="relu", name="conv"),
        keras.layers.MaxPooling2D((2, 2), name="pool"),
    ])
    rng = np.random.default_rng(2)
    kernel = rng.normal(size=(3, 3, 1, 3)).astype("float32")
    model.get_layer("conv").set_weights([kernel, np.zeros(3, "float32")])
    image = rng.random((10, 10)).astype("float32")
    fig = plots.plot_feature_maps(model, image, max_maps=2)
    assert isinstance(fig, Figure)
    # reference: SciPy's cross-correlation (what Conv2D computes), ReLU, then 2x2 max pooling
    conv = np.stack([np.maximum(correlate2d(image, kernel[:, :, 0, k], mode="valid"), 0)
                     for k in range(3)], -1)
    pool = conv.reshape(4, 2, 4, 2, 3).max(axis=(1, 3))
    np.testing.assert_allclose(fig.activations["conv"], conv, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fig.activations["pool"], pool, rtol=1e-5, atol=1e-5)
    # two rows (layers) of max_maps=2 panels, each showing one map; a map that is 0 everywhere
    # says so
    assert len(fig.axes) == 4
    panels = [("conv", 0), ("conv", 1), ("pool", 0), ("pool", 1)]
    for ax, (name, col) in zip(fig.axes, panels, strict=True):
        constant = fig.activations[name][:, :, col].max() == 0
        assert ("all 0" in [t.get_text() for t in ax.texts]) == constant
    np.testing.assert_allclose(fig.axes[1].images[0].get_array(), conv[:, :, 1],
                               rtol=1e-5, atol=1e-5)
    # ReLU of <= 0: off
    model.get_layer("conv").set_weights([-np.abs(kernel), np.zeros(3, "float32")])
    fig = plots.plot_feature_maps(model, image, max_maps=2)
    assert all([t.get_text() for t in ax.texts] == ["all 0"] for ax in fig.axes)


def test_feature_maps_reject_bad_input():
    model = keras.Sequential([keras.Input((10, 10, 1)), keras.layers.Conv2D(2, 3, name="conv"),
                              keras.layers.Flatten(name="flat")])
    with pytest.raises(ValueError, match=r"input shape \(10, 10, 1\)"):
        plots.plot_feature_maps(model, np.zeros((12, 12)))
    with pytest.raises(ValueError, match="no layer named"):
        plots.plot_feature_maps(model, np.zeros((10, 10)), layer_names=["conv9"])
    with pytest.raises(ValueError, match="does not output feature maps"):
        plots.plot_feature_maps(model, np.zeros((10, 10)), layer_names=["flat"])
    with pytest.raises(TypeError, match="keras Model"):
        plots.plot_feature_maps("model", np.zeros((10, 10)))


def test_feature_maps_by_default_show_convolutions_and_poolings_not_global_poolings():
    model = keras.Sequential([
        keras.Input((10, 10, 1)),
        keras.layers.Conv2D(2, 3, name="conv"),
        keras.layers.DepthwiseConv2D(3, name="depthwise"),
        keras.layers.AveragePooling2D(2, name="pool"),
        keras.layers.GlobalAveragePooling2D(name="gap"),
        keras.layers.Dense(2, name="dense"),
    ])
    fig = plots.plot_feature_maps(model, np.zeros((10, 10)))
    assert list(fig.activations) == ["conv", "depthwise", "pool"]
