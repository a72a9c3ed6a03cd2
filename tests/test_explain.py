"""cnncourse.explain against independent references: the weights of models built so that the
answer is known, TensorFlow's own gradients, and the keras.io Grad-CAM recipe on a Functional
model (where that recipe works); plus shapes and ranges on Sequential, Functional and
nested-backbone models."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from cnncourse import explain, transfer

RNG = np.random.default_rng(0)


def _patch_model(kind: str):
    """12x12x2 input; only rows 3-6, columns 4-7 reach the output (Cropping2D), softmax over 3."""
    crop = layers.Cropping2D(((3, 5), (4, 4)), name="crop")
    flat = layers.Flatten(name="flat")
    dense = layers.Dense(3, activation="softmax", name="scores")
    if kind == "sequential":
        return keras.Sequential([keras.Input((12, 12, 2)), crop, flat, dense]), dense
    inputs = keras.Input((12, 12, 2))
    return keras.Model(inputs, dense(flat(crop(inputs)))), dense


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_saliency_is_zero_outside_the_patch_the_model_sees_and_equals_the_weights_inside(kind):
    model, dense = _patch_model(kind)
    image = RNG.random((12, 12, 2)).astype("float32")
    sal = explain.saliency_map(model, image, class_index=2)
    assert sal.shape == (12, 12)
    inside = np.zeros((12, 12), bool)
    inside[3:7, 4:8] = True
    assert np.all(sal[~inside] == 0)
    assert np.all(sal[inside] > 0)
    # The pre-softmax score is linear: its gradient is the Dense kernel column, |.|, max over
    # channels.
    kernel = dense.get_weights()[0][:, 2].reshape(4, 4, 2)
    np.testing.assert_allclose(sal[inside].reshape(4, 4), np.abs(kernel).max(axis=-1), rtol=1e-5)


def test_saliency_uses_pre_softmax_score_and_leaves_the_model_unchanged():
    model, _ = _patch_model("functional")
    image = RNG.random((12, 12, 2)).astype("float32")
    before = model(image[None]).numpy()
    explain.saliency_map(model, image)
    np.testing.assert_allclose(model(image[None]).numpy(), before)  # softmax restored
    assert np.isclose(before.sum(), 1.0, atol=1e-5)


def test_saliency_matches_tensorflow_gradient_for_a_sigmoid_model():
    inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(4, (3, 3), activation="relu")(inputs)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    image = RNG.random((8, 8, 3)).astype("float32")
    x_t = tf.constant(image[None])
    with tf.GradientTape() as tape:
        tape.watch(x_t)
        p = model(x_t)[:, 0]
    reference = np.abs(tape.gradient(p, x_t).numpy()[0]).max(axis=-1)
    np.testing.assert_allclose(explain.saliency_map(model, image, class_index=1), reference,
                               rtol=1e-5, atol=1e-8)
    # class 0 of a binary model has score 1 - p: same magnitude
    np.testing.assert_allclose(explain.saliency_map(model, image, class_index=0), reference,
                               rtol=1e-5, atol=1e-8)


# --------------------------------------------------------------------------- three model styles


def _shared_layers():
    keras.utils.set_random_seed(1)
    return dict(
        conv1=layers.Conv2D(4, (3, 3), activation="relu", padding="same", name="conv1"),
        pool=layers.MaxPooling2D(name="pool"),
        conv2=layers.Conv2D(6, (3, 3), activation="relu", name="conv2"),
        gap=layers.GlobalAveragePooling2D(name="gap"),
        dense=layers.Dense(5, activation="softmax", name="probs"),
    )


def _three_styles():
    """The same network (same layer objects, so same weights) as Functional, Sequential and
    with conv1-conv2 inside a nested backbone model."""
    ly = _shared_layers()
    inputs = keras.Input((16, 16, 3))
    functional = keras.Model(
        inputs, ly["dense"](ly["gap"](ly["conv2"](ly["pool"](ly["conv1"](inputs)))))
    )
    sequential = keras.Sequential([keras.Input((16, 16, 3)), ly["conv1"], ly["pool"], ly["conv2"],
                                   ly["gap"], ly["dense"]])
    bb_in = keras.Input((16, 16, 3))
    backbone = keras.Model(bb_in, ly["conv2"](ly["pool"](ly["conv1"](bb_in))), name="backbone")
    outer_in = keras.Input((16, 16, 3))
    scaled = layers.Rescaling(1.0, name="identity_scale")(outer_in)
    nested = keras.Model(outer_in, ly["dense"](ly["gap"](backbone(scaled, training=False))))
    return functional, sequential, nested


def _keras_io_grad_cam(model, image, layer_name, class_index):
    """The keras.io recipe (examples/vision/grad_cam.py), which works on a flat Functional model."""
    logits_layer = model.get_layer("probs")
    logits_layer.activation = keras.activations.linear
    try:
        grad_model = keras.Model(model.input, [model.get_layer(layer_name).output, model.output])
        with tf.GradientTape() as tape:
            conv_out, preds = grad_model(image[None])
            score = preds[:, class_index]
        grads = tape.gradient(score, conv_out)
    finally:
        logits_layer.activation = keras.activations.softmax
    pooled = tf.reduce_mean(grads, axis=(0, 1, 2))
    heat = tf.nn.relu(conv_out[0] @ pooled[..., None])[..., 0].numpy()
    return heat / heat.max() if heat.max() > 0 else heat


def test_split_model_reproduces_the_model_in_all_three_styles():
    image = RNG.random((2, 16, 16, 3)).astype("float32")
    for model in _three_styles():
        expected = model(image).numpy()
        for name in ("conv1", "pool", "conv2"):
            features, head = explain.split_model(model, name)
            np.testing.assert_allclose(head(features(image)).numpy(), expected,
                                       rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("layer_name, size", [("conv2", 6), ("conv1", 16)])
def test_grad_cam_matches_keras_io_recipe_on_all_three_styles(layer_name, size):
    functional, sequential, nested = _three_styles()
    image = RNG.random((16, 16, 3)).astype("float32")
    cls = int(np.argmax(functional(image[None])))
    reference = _keras_io_grad_cam(functional, image, layer_name, cls)
    for model in (functional, sequential, nested):
        heat = explain.grad_cam(model, image, layer_name=layer_name)
        assert heat.shape == (size, size)
        assert heat.min() >= 0 and heat.max() <= 1
        np.testing.assert_allclose(heat, reference, rtol=1e-4, atol=1e-5)


def test_grad_cam_default_layer_is_last_feature_map():
    functional, sequential, nested = _three_styles()
    assert explain.default_gradcam_layer(functional) == "conv2"
    assert explain.default_gradcam_layer(sequential) == "conv2"
    assert explain.default_gradcam_layer(nested) == "backbone"
    image = RNG.random((16, 16, 3)).astype("float32")
    heat = explain.grad_cam(nested, image, class_index=3)
    reference = explain.grad_cam(functional, image, "conv2", class_index=3)
    np.testing.assert_allclose(heat, reference, rtol=1e-4, atol=1e-5)


def test_grad_cam_and_saliency_on_a_transfer_model_with_a_keras_applications_backbone():
    """build_transfer_model: preprocessing layer, nested MobileNetV2, sigmoid head."""
    model = transfer.build_transfer_model("mobilenetv2", input_shape=(64, 64, 3), num_classes=2,
                                          weights=None)
    image = RNG.uniform(0, 255, (64, 64, 3)).astype("float32")
    # inside the backbone, 4x4
    heat = explain.grad_cam(model, image, layer_name="block_13_expand_relu")
    assert heat.shape == (4, 4) and heat.min() >= 0 and heat.max() <= 1
    assert explain.grad_cam(model, image).shape == (2, 2)  # default: the whole backbone's output
    sal = explain.saliency_map(model, image)
    assert sal.shape == (64, 64) and sal.min() >= 0
    occ = explain.occlusion_map(model, image, patch=16, stride=16)
    assert occ.shape == (4, 4) and occ.min() >= -1 and occ.max() <= 1


def test_cut_inside_a_residual_block_gives_a_two_input_head_and_the_keras_io_grad_cam():
    keras.utils.set_random_seed(2)
    inputs = keras.Input((8, 8, 2))
    a = layers.Conv2D(3, (3, 3), padding="same", activation="relu", name="a")(inputs)
    b = layers.Conv2D(3, (3, 3), padding="same", activation="relu", name="b")(a)
    joined = layers.Add(name="add")([a, b])  # the skip connection goes around "b"
    pooled = layers.GlobalAveragePooling2D()(joined)
    out = layers.Dense(4, activation="softmax", name="probs")(pooled)
    model = keras.Model(inputs, out)
    x = tf.constant(RNG.random((2, 8, 8, 2)).astype("float32"))
    features, head = explain.split_model(model, "b")
    assert len(head.inputs) == 2
    np.testing.assert_allclose(head([x, features(x)]).numpy(), model(x).numpy(),
                               rtol=1e-5, atol=1e-6)
    features, head = explain.split_model(model, "add")  # after the join, one input is enough
    assert len(head.inputs) == 1
    image = x.numpy()[0]
    cls = int(np.argmax(model(x[:1])))
    np.testing.assert_allclose(explain.grad_cam(model, image, "b"),
                               _keras_io_grad_cam(model, image, "b", cls), rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------- occlusion


def test_occlusion_shape_range_and_zero_away_from_the_patch():
    model, _ = _patch_model("sequential")  # sees only rows 3-6, columns 4-7
    image = RNG.random((12, 12, 2)).astype("float32")
    occ = explain.occlusion_map(model, image, patch=2, stride=2, class_index=0)
    assert occ.shape == (6, 6)
    assert occ.min() >= -1 and occ.max() <= 1
    sees = np.zeros((6, 6), bool)
    sees[1:4, 2:4] = True  # squares starting at rows 2,4,6 / columns 4,6 overlap the patch
    assert np.abs(occ[~sees]).max() < 1e-6
    assert np.all(occ[sees] != 0)
    # one entry against the model's own prediction on the occluded image
    occluded = image.copy()
    occluded[4:6, 6:8] = image.mean()
    expected = model(image[None])[0, 0] - model(occluded[None])[0, 0]
    assert np.isclose(occ[2, 3], float(expected), atol=1e-6)


@pytest.mark.parametrize("style", [0, 1, 2])
def test_occlusion_on_three_styles(style):
    model = _three_styles()[style]
    image = RNG.random((16, 16, 3)).astype("float32")
    occ = explain.occlusion_map(model, image, patch=4, stride=3)
    assert occ.shape == (5, 5)
    assert occ.min() >= -1 and occ.max() <= 1
    # default: patch round(16/7) = 2, stride 1
    assert explain.occlusion_map(model, image).shape == (15, 15)


# --------------------------------------------------------------------------- helpers and errors


def test_overlay_and_upsample():
    heat = np.array([[0.0, 1.0], [0.5, 0.25]], dtype="float32")
    up = explain.upsample_heatmap(heat, (28, 28))
    assert up.shape == (28, 28) and up.min() >= 0 and up.max() <= 1
    grey = RNG.integers(0, 256, (28, 28), dtype=np.uint8)
    rgb = explain.overlay_heatmap(grey, heat)
    assert rgb.shape == (28, 28, 3) and rgb.min() >= 0 and rgb.max() <= 1
    np.testing.assert_allclose(explain.overlay_heatmap(grey, heat, alpha=0.0)[..., 0], grey / 255,
                               atol=1e-6)


def test_bad_inputs_say_what_was_expected():
    model, _ = _patch_model("functional")
    with pytest.raises(ValueError, match=r"shape \(12, 12, 2\)"):
        explain.saliency_map(model, np.zeros((10, 10, 2)))
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        explain.grad_cam(model, np.zeros((12, 12, 2)), layer_name="nope")
    with pytest.raises(ValueError, match=r"class_index must be in \[0, 2\]"):
        explain.saliency_map(model, np.zeros((12, 12, 2)), class_index=3)
    with pytest.raises(ValueError, match="patch"):
        explain.occlusion_map(model, np.zeros((12, 12, 2)), patch=20)
    with pytest.raises(TypeError, match="keras.Model"):
        explain.saliency_map("not a model", np.zeros((12, 12, 2)))
