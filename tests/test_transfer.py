"""cnncourse.transfer against keras.applications (weights=None) and published parameter counts."""

import socket

import keras
import numpy as np
import pytest

from cnncourse import transfer

# keras.applications module whose preprocess_input each backbone name must reproduce.
PREPROCESS_MODULES = {
    "mobilenetv2": "mobilenet_v2", "efficientnetb0": "efficientnet", "resnet50": "resnet50",
    "densenet121": "densenet", "vgg16": "vgg16", "resnet50v2": "resnet_v2",
    "inceptionv3": "inception_v3", "efficientnetv2b0": "efficientnet_v2",
    "convnexttiny": "convnext",
}

# Published sizes of the networks without their top (keras.io/api/applications, include_top=False)
# and the number of features their last block outputs.
NO_TOP_PARAMS = {
    "mobilenetv2": (2_257_984, 1280), "efficientnetb0": (4_049_571, 1280),
    "resnet50": (23_587_712, 2048),
    "densenet121": (7_037_504, 1024), "vgg16": (14_714_688, 512),
}


def tiny_backbone():
    """A small conv + batch-norm network standing in for a pretrained backbone."""
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(4, 3, name="conv1")(x)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2D(4, 3, name="conv2")(x)
    x = keras.layers.BatchNormalization(name="bn2")(x)
    return keras.Model(inputs, x, name="tiny_backbone")


def test_every_backbone_preprocesses_like_keras_applications():
    assert set(PREPROCESS_MODULES) == set(transfer.BACKBONES)
    images = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    for name, module in PREPROCESS_MODULES.items():
        expected = getattr(keras.applications, module).preprocess_input(images.copy())
        layer = transfer.BackbonePreprocessing(transfer.BACKBONES[name].preprocessing)
        np.testing.assert_allclose(np.asarray(layer(images)), np.asarray(expected),
                                   rtol=1e-5, atol=1e-4, err_msg=name)


@pytest.mark.parametrize("name", sorted(NO_TOP_PARAMS))
def test_backbone_is_frozen_and_only_the_head_trains(name):
    backbone_params, features = NO_TOP_PARAMS[name]
    model = transfer.build_transfer_model(name, input_shape=(32, 32, 3), weights=None)
    base = transfer.get_backbone(model)
    assert base.count_params() == backbone_params
    assert base.trainable_weights == []
    assert [w.path for w in model.trainable_weights] == ["head/kernel", "head/bias"]
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == features + 1
    assert model.output_shape == (None, 1)
    assert model.get_layer("head").activation is keras.activations.sigmoid


def test_head_for_more_classes_and_initial_bias():
    model = transfer.build_transfer_model(tiny_backbone(), input_shape=(16, 16, 3), num_classes=5)
    assert model.output_shape == (None, 5)
    assert model.get_layer("head").activation is keras.activations.softmax
    multi = transfer.build_transfer_model(tiny_backbone(), (16, 16, 3), num_classes=3,
                                          head_activation="sigmoid")
    assert multi.get_layer("head").activation is keras.activations.sigmoid
    assert multi.output_shape == (None, 3)
    biased = transfer.build_transfer_model(tiny_backbone(), (16, 16, 3), output_bias=np.log(3.0))
    np.testing.assert_allclose(biased.get_layer("head").bias.numpy(), [np.log(3.0)], rtol=1e-6)


def test_batch_norm_stays_in_inference_mode_even_when_unfrozen():
    base = tiny_backbone()
    model = transfer.build_transfer_model(base, input_shape=(16, 16, 3), dropout=0.0)
    bn = base.get_layer("bn1")
    bn.moving_mean.assign(np.full(4, 0.3, "float32"))  # statistics unlike any batch's
    transfer.unfreeze_top(model, len(base.layers))
    images = np.random.default_rng(1).uniform(0, 255, (8, 16, 16, 3)).astype("float32")
    # Reference: the head applied to the backbone's inference-mode features, computed by hand.
    features = np.asarray(base(images, training=False)).mean(axis=(1, 2))
    head = model.get_layer("head")
    expected = 1 / (1 + np.exp(-(features @ head.kernel.numpy() + head.bias.numpy())))
    np.testing.assert_allclose(np.asarray(model(images, training=True)), expected,
                               rtol=1e-4, atol=1e-6)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy")
    model.fit(images, np.arange(8) % 2, epochs=1, verbose=0)
    # a fit step did not touch the statistics
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.3)


def test_unfreeze_top_never_unfreezes_batch_norm():
    model = transfer.build_transfer_model("mobilenetv2", input_shape=(32, 32, 3), weights=None)
    reference = keras.applications.MobileNetV2(include_top=False, weights=None,
                                               input_shape=(32, 32, 3))
    top = reference.layers[-20:]
    expected = [layer.name for layer in top
                if layer.weights and not isinstance(layer, keras.layers.BatchNormalization)]
    assert expected  # depthwise and 1x1 convolutions among MobileNetV2's last 20 layers
    assert transfer.unfreeze_top(model, 20) == expected
    base = transfer.get_backbone(model)
    assert not any(layer.trainable for layer in base.layers
                   if isinstance(layer, keras.layers.BatchNormalization))
    trainable = sum(len(reference.get_layer(n).trainable_weights) for n in expected) + 2
    assert len(model.trainable_weights) == trainable
    assert transfer.unfreeze_top(model, 20) == []  # nothing changes the second time
    assert transfer.unfreeze_top(model, 0) == expected  # frozen again
    assert [w.path for w in model.trainable_weights] == ["head/kernel", "head/bias"]
    with pytest.raises(ValueError, match="has 154 layers"):
        transfer.unfreeze_top(model, 1000)
    with pytest.raises(ValueError, match="at least 0"):
        transfer.unfreeze_top(model, -1)


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network (name resolution fails as on an offline machine) and an empty Keras cache."""
    def no_network(*args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    import keras.src.backend.config as keras_config

    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(tmp_path))
    return tmp_path


def test_offline_imagenet_weights_give_one_clear_error(offline, capsys):
    with pytest.raises(transfer.WeightsUnavailableError) as info:
        transfer.build_transfer_model("mobilenetv2", input_shape=(96, 96, 3), weights="imagenet")
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    assert "KERAS_HOME" in message and str(offline / "models") in message
    assert "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.h5" in message
    assert "imagenet-or-random" in message
    # Raised "from None": no chained download traceback behind it.
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert capsys.readouterr().out == ""  # Keras's "Downloading data from" line is held back


def test_offline_imagenet_or_random_says_so_in_one_line(offline, capsys):
    model, source = transfer.build_transfer_model("mobilenetv2", input_shape=(96, 96, 3),
                                                  weights="imagenet-or-random", return_source=True)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and "RANDOM weights" in lines[0] and "MobileNetV2" in lines[0]
    assert source.startswith("random") and not hasattr(model, "weights_source")
    assert transfer.get_backbone(model).trainable_weights == []


def test_bad_input_says_what_was_expected():
    with pytest.raises(ValueError, match="backbone must be one of"):
        transfer.build_transfer_model("alexnet", weights=None)
    with pytest.raises(ValueError, match="3-channel"):
        transfer.build_transfer_model("vgg16", input_shape=(32, 32, 1), weights=None)
    with pytest.raises(ValueError, match="dropout"):
        transfer.build_transfer_model(tiny_backbone(), (16, 16, 3), dropout=1.5)
    with pytest.raises(ValueError, match="num_classes"):
        transfer.build_transfer_model(tiny_backbone(), (16, 16, 3), num_classes=0)
    with pytest.raises(ValueError, match="input_shape"):
        transfer.build_transfer_model(tiny_backbone(), (16, 16))
    # wrong types are TypeErrors (one rule, cnncourse.validation)
    with pytest.raises(TypeError, match="weights"):
        transfer.build_transfer_model("vgg16", (32, 32, 3), weights=3)
    with pytest.raises(TypeError, match="backbone must be a name from"):
        transfer.build_transfer_model(3, weights=None)


def test_saved_model_loads_with_its_preprocessing(tmp_path):
    model = transfer.build_transfer_model("mobilenetv2", input_shape=(32, 32, 3), weights=None)
    images = np.random.default_rng(2).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.get_layer("preprocess").mode == "tf"
    np.testing.assert_allclose(np.asarray(loaded(images)), np.asarray(model(images)), rtol=1e-5)
