"""The MNIST builders against the lecture's numbers (parameter counts and output shapes derived
by hand on the slides) and against Keras itself (shapes, inference), plus the shared callbacks."""

import re

import keras
import numpy as np
import pytest

from cnncourse import callbacks
from cnncourse.models import conv_model, improved_cnn, lecture_cnn, lenet5, mlp, simple_cnn
from cnncourse.models import mnist as mnist_models

# Per-layer parameter counts, each the slide's arithmetic (k*k*c_in*c_out + c_out,
# n_in*n_out + n_out).
LECTURE_LAYERS = {
    "mlp": (mlp, [0, 784 * 784 + 784, 784 * 10 + 10], 623_290),
    "simple_cnn": (simple_cnn, [3 * 3 * 1 * 32 + 32, 0, 3 * 3 * 32 * 64 + 64, 0,
                                3 * 3 * 64 * 64 + 64, 0, 576 * 64 + 64, 64 * 10 + 10], 93_322),
    "lecture_cnn": (lecture_cnn, [3 * 3 * 1 * 25 + 25, 0, 3 * 3 * 25 * 50 + 50, 0, 0,
                                  1250 * 100 + 100, 100 * 10 + 10], 137_660),
    "conv_model": (conv_model, [5 * 5 * 1 * 30 + 30, 0, 3 * 3 * 30 * 15 + 15, 0, 0, 0,
                                375 * 128 + 128, 128 * 50 + 50, 50 * 10 + 10], 59_933),
    # LeNet-5 with full C3 connections: C1 156, C3 2,416, C5 48,120, F6 10,164, output 850
    "lenet5": (lenet5, [5 * 5 * 6 + 6, 0, 5 * 5 * 6 * 16 + 16, 0, 0, 400 * 120 + 120, 120 * 84 + 84,
                        84 * 10 + 10], 61_706),
}


@pytest.mark.parametrize("name", LECTURE_LAYERS)
def test_parameter_counts_equal_the_lecture(name):
    builder, per_layer, total = LECTURE_LAYERS[name]
    model = builder()
    assert sum(per_layer) == total  # the slide's arithmetic adds up
    assert model.count_params() == total
    assert [layer.count_params() for layer in model.layers] == per_layer
    assert model.name == name


def test_simple_cnn_output_shapes():
    shapes = [tuple(layer.output.shape[1:]) for layer in simple_cnn().layers]
    assert shapes == [(26, 26, 32), (13, 13, 32), (11, 11, 64), (5, 5, 64), (3, 3, 64), (576,),
                      (64,), (10,)]


def test_lecture_cnn_output_shapes_and_kernel_is_3x3_at_stride_1():
    model = lecture_cnn()
    shapes = [tuple(layer.output.shape[1:]) for layer in model.layers]
    assert shapes == [(26, 26, 25), (13, 13, 25), (11, 11, 50), (5, 5, 50), (1250,), (100,), (10,)]
    conv = model.get_layer("conv1")
    assert conv.kernel_size == (3, 3) and conv.strides == (1, 1)  # not Keras-1's Conv2D(25, 3, 3)


def test_conv_model_and_lenet5_shapes():
    shapes = [tuple(layer.output.shape[1:]) for layer in conv_model().layers]
    assert shapes == [(24, 24, 30), (12, 12, 30), (10, 10, 15), (5, 5, 15), (5, 5, 15), (375,),
                      (128,), (50,), (10,)]
    # LeCun et al. 1998: C1 28x28x6, S2 14x14x6, C3 10x10x16, S4 5x5x16, C5 120, F6 84
    shapes = [tuple(layer.output.shape[1:]) for layer in lenet5().layers]
    assert shapes == [(28, 28, 6), (14, 14, 6), (10, 10, 16), (5, 5, 16), (400,), (120,), (84,),
                      (10,)]


def test_lenet5_pads_mnist_digits_to_32x32():
    model = lenet5(input_shape=(28, 28, 1))
    assert model.get_layer("pad_to_32").output.shape[1:] == (32, 32, 1)
    assert model.count_params() == 61_706
    assert model.get_layer("s2").strides == (2, 2) and model.get_layer("c1").strides == (1, 1)


ALL_BUILDERS = [mlp, simple_cnn, lecture_cnn, conv_model, lenet5, improved_cnn]


@pytest.mark.parametrize("builder", ALL_BUILDERS)
def test_builders_return_uncompiled_models_starting_with_an_input(builder):
    model = builder()
    assert isinstance(model, keras.Model)
    assert not model.compiled
    assert len(model.inputs) == 1 and model.inputs[0].shape[0] is None
    assert builder.__name__ in mnist_models.__all__


@pytest.mark.parametrize("builder", [mlp, simple_cnn, lecture_cnn, conv_model, lenet5])
def test_docstring_states_the_parameter_count_of_the_default_model(builder):
    # the docstrings are read beside the slides: their hand-worked counts must stay true
    stated = re.search(r"\*\*([\d,]+) parameters\*\*", builder.__doc__ or "")
    assert stated, f"{builder.__name__}'s docstring states no **N parameters**"
    assert int(stated.group(1).replace(",", "")) == builder().count_params()


def test_class_count_changes_only_the_output_layer():
    model = simple_cnn(num_classes=3)
    assert model.outputs[0].shape[1:] == (3,)
    assert model.count_params() == 93_322 - 650 + (64 * 3 + 3)
    small = mlp(input_shape=(8, 8, 1), num_classes=2)
    assert small.count_params() == (64 * 784 + 784) + (784 * 2 + 2)


def test_improved_cnn_has_the_ingredients_and_its_parameter_count():
    model = improved_cnn()
    kinds = {type(layer).__name__ for layer in model.layers}
    assert {"BatchNormalization", "Dropout", "RandomRotation", "RandomTranslation",
            "RandomZoom"} <= kinds
    # convs without bias (BN's beta replaces it); BN holds 4 vectors per channel (2 trainable)
    expected = (3 * 3 * 1 * 32 + 4 * 32) + (3 * 3 * 32 * 32 + 4 * 32) + (3 * 3 * 32 * 64 + 4 * 64) \
        + (3 * 3 * 64 * 64 + 4 * 64) + (1024 * 128 + 4 * 128) + (128 * 10 + 10)
    assert model.count_params() == expected == 198_442
    assert model.get_layer("block2_pool").output.shape[1:] == (4, 4, 64)
    assert not any("Random" in type(layer).__name__ for layer in improved_cnn(augment=False).layers)


def test_improved_cnn_augmentation_is_off_at_inference():
    keras.utils.set_random_seed(0)
    with_aug, without_aug = improved_cnn(), improved_cnn(augment=False)
    without_aug.set_weights(with_aug.get_weights())
    x = np.random.default_rng(0).random((4, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(with_aug(x, training=False), without_aug(x, training=False),
                               rtol=1e-5, atol=1e-6)
    shifted = np.asarray(with_aug.layers[1](x, training=True))
    assert np.abs(shifted - x).max() > 0.05  # shifts while training


@pytest.mark.parametrize("builder", ALL_BUILDERS)
@pytest.mark.parametrize("bad", [0, -1])
def test_builders_reject_nonsense_class_counts(builder, bad):
    with pytest.raises(ValueError, match="num_classes must be at least 1"):
        builder(num_classes=bad)


@pytest.mark.parametrize("bad", [2.5, "10", True])
def test_builders_reject_non_integer_class_counts(bad):
    with pytest.raises(TypeError, match="num_classes must be an int"):
        simple_cnn(num_classes=bad)


@pytest.mark.parametrize("builder, smallest", [(simple_cnn, 18), (lecture_cnn, 10),
                                               (conv_model, 12), (improved_cnn, 16)])
def test_input_too_small_is_rejected_and_the_smallest_accepted_input_works(builder, smallest):
    with pytest.raises(ValueError, match=f"too small.*at least {smallest}x{smallest}"):
        builder(input_shape=(smallest - 1, smallest - 1, 1))
    model = builder(input_shape=(smallest, smallest, 1))
    # Keras's own shape inference agrees: the last spatial layer is 1 pixel wide
    spatial = [layer.output.shape[1] for layer in model.layers if len(layer.output.shape) == 4]
    assert min(spatial) == 1


def test_lenet5_and_input_shape_errors():
    with pytest.raises(ValueError, match="too small"):
        lenet5(input_shape=(20, 20, 1))
    with pytest.raises(ValueError, match=r"\(height, width, channels\)"):
        simple_cnn(input_shape=(28, 28))
    with pytest.raises(ValueError, match="positive ints"):
        mlp(input_shape=(28, -1))
    with pytest.raises(ValueError, match="dropout"):
        conv_model(dropout=1.5)


# --- cnncourse.callbacks ---------------------------------------------------------------------

def test_standard_callbacks_stop_on_val_loss_and_restore_best_weights(tmp_path):
    made = callbacks.standard_callbacks(patience=2, checkpoint=tmp_path / "best.keras")
    stop, checkpoint = made
    assert isinstance(stop, keras.callbacks.EarlyStopping)
    assert stop.monitor == "val_loss" and stop.restore_best_weights and stop.patience == 2
    assert isinstance(checkpoint, keras.callbacks.ModelCheckpoint) and checkpoint.save_best_only
    assert len(callbacks.standard_callbacks()) == 1

    # a model that overfits noise: the validation loss rises after a few epochs
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 20)), rng.integers(0, 2, 64)
    model = keras.Sequential([keras.Input((20,)), keras.layers.Dense(64, activation="relu"),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy")
    snapshots = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: snapshots.append(model.get_weights())
    )
    history = model.fit(x, y, epochs=30, validation_split=0.5, verbose=0, callbacks=[record, *made])
    best = int(np.argmin(history.history["val_loss"]))
    assert len(history.history["val_loss"]) < 30  # stopped early
    assert callbacks.best_epoch(history) == best + 1
    for restored, at_best in zip(model.get_weights(), snapshots[best], strict=True):
        np.testing.assert_array_equal(restored, at_best)
    saved = keras.saving.load_model(tmp_path / "best.keras")
    np.testing.assert_allclose(saved.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_training_helpers_reject_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="patience"):
        callbacks.early_stopping(patience=-1)
    with pytest.raises(ValueError, match=r"\.keras"):
        callbacks.best_checkpoint("best.h5")
    assert callbacks.best_checkpoint(tmp_path / "out" / "w.weights.h5").save_weights_only
    with pytest.raises(ValueError, match="did fit get validation data"):
        callbacks.best_epoch({"loss": [1.0, 0.5]})
    assert callbacks.best_epoch({"val_accuracy": [0.5, 0.9, 0.8]}, monitor="val_accuracy") == 2
