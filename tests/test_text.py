"""1-D text convnets (cnncourse.models.text) and the text data (cnncourse.textdata), checked
against NumPy, keras.utils.pad_sequences and scikit-learn n-gram models."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression

from cnncourse import explain, models, textdata


def test_text_cnn_layers_and_parameter_count_match_kims_architecture():
    model = models.text_cnn(vocab_size=5000, sequence_length=50, embedding_dim=128)
    names = [layer.name for layer in model.layers]
    for k in (3, 4, 5):
        conv = model.get_layer(f"conv_{k}gram")
        assert conv.kernel_size == (k,) and conv.filters == 100
        assert f"maxpool_{k}gram" in names
    assert model.get_layer("dropout").rate == 0.5
    assert model.output_shape == (None, 1)
    # Embedding 5000*128, three conv layers (k*128 + 1)*100, dense 300 + 1
    assert model.count_params() == 5000 * 128 + sum((k * 128 + 1) * 100 for k in (3, 4, 5)) + 301
    assert models.text_cnn(100, 20, num_classes=4, filter_sizes=(2,)).output_shape == (None, 4)


def test_conv1d_is_an_ngram_detector_numpy_reference():
    """Each output of the conv layer is the dot product of the kernel with k consecutive word
    vectors."""
    keras.utils.set_random_seed(0)
    model = models.simple_text_cnn(vocab_size=30, sequence_length=9, embedding_dim=5, filters=4,
                                   kernel_size=3)
    tokens = np.array([[4, 7, 1, 9, 12, 3, 0, 0, 0]], dtype="int32")
    embedding = model.get_layer("embedding").get_weights()[0]
    kernel, bias = model.get_layer("conv").get_weights()
    vectors = embedding[tokens[0]]  # (9, 5)
    reference = np.stack([np.maximum(0, np.einsum("kd,kdf->f", vectors[i : i + 3], kernel) + bias)
                          for i in range(9 - 3 + 1)])
    conv_out = keras.Model(model.inputs[0], model.get_layer("conv").output)(tokens).numpy()[0]
    np.testing.assert_allclose(conv_out, reference, rtol=1e-5, atol=1e-6)
    pooled = keras.Model(model.inputs[0], model.get_layer("maxpool").output)(tokens).numpy()[0]
    np.testing.assert_allclose(pooled, reference.max(axis=0), rtol=1e-5, atol=1e-6)


def test_builders_reject_bad_arguments():
    with pytest.raises(ValueError, match="longer than the sequence"):
        models.text_cnn(100, 4, filter_sizes=(3, 5))
    with pytest.raises(TypeError, match="vocab_size must be an int"):
        models.simple_text_cnn(100.0, 20)
    with pytest.raises(ValueError, match="num_classes must be at least 2"):
        models.text_cnn(100, 20, num_classes=1)
    with pytest.raises(ValueError, match="dropout"):
        models.text_cnn(100, 20, dropout=1.5)


def test_grad_cam_over_words_has_one_value_per_conv_position():
    """Kim's model has parallel branches around each conv layer; Grad-CAM still works."""
    model = models.text_cnn(60, 12, embedding_dim=8, num_filters=6)
    tokens = np.arange(2, 14, dtype="int32")
    for k in (3, 4, 5):
        heat = explain.grad_cam(model, tokens, layer_name=f"conv_{k}gram")
        assert heat.shape == (12 - k + 1,) and heat.min() >= 0 and heat.max() <= 1


def _keras_io_grad_cam_sigmoid(model, tokens, layer_name):
    """The keras.io recipe (examples/vision/grad_cam.py) on this flat Functional model: one model
    with two outputs, the layer's feature map and the prediction; score p of the predicted class
    (1 - p for class 0), as explain does for one sigmoid unit."""
    two_outputs = keras.Model(model.inputs, [model.get_layer(layer_name).output, model.output])
    with tf.GradientTape() as tape:
        maps, p = two_outputs(tokens[None], training=False)
        score = p[:, 0] if float(p[0, 0]) >= 0.5 else 1 - p[:, 0]
    grads = tape.gradient(score, maps)
    weights = tf.reduce_mean(grads, axis=1, keepdims=True)
    heat = tf.nn.relu(tf.reduce_sum(weights * maps, axis=-1))[0].numpy()
    return heat / heat.max() if heat.max() > 0 else heat


def test_grad_cam_over_words_matches_the_keras_io_recipe_and_the_cut_keeps_the_other_branches():
    model = models.text_cnn(60, 12, embedding_dim=8, num_filters=6)
    tokens = np.arange(2, 14, dtype="int32")
    for k in (3, 4, 5):
        np.testing.assert_allclose(explain.grad_cam(model, tokens, layer_name=f"conv_{k}gram"),
                                   _keras_io_grad_cam_sigmoid(model, tokens, f"conv_{k}gram"),
                                   rtol=1e-4, atol=1e-5)
    features, head = explain.split_model(model, "conv_4gram")
    assert len(head.inputs) == 2  # the 3- and 5-gram branches go around the cut
    batch = tf.constant(np.stack([tokens, tokens[::-1]]))
    np.testing.assert_allclose(head([batch, features(batch)]).numpy(), model(batch).numpy(),
                               rtol=1e-5, atol=1e-6)
    features, head = explain.split_model(model, "concat")  # after the join, one input is enough
    assert len(head.inputs) == 1


# --------------------------------------------------------------------------- data


def test_generated_sentences_are_deterministic_balanced_and_need_word_order():
    texts, labels = textdata.make_review_sentences(4000, seed=0)
    assert texts == textdata.make_review_sentences(4000, seed=0)[0]
    assert 0.45 < labels.mean() < 0.55
    data = textdata.load_text_data("synthetic", verbose=False)  # trained on exactly these 4,000
    np.testing.assert_array_equal(data.y_train, labels)
    assert not set(data.texts_test) & set(texts)

    def accuracy(ngrams):
        vectorizer = CountVectorizer(ngram_range=ngrams, token_pattern=r"[a-z']+", binary=True)
        classifier = LogisticRegression(max_iter=3000, C=10)
        classifier.fit(vectorizer.fit_transform(texts), labels)
        return classifier.score(vectorizer.transform(data.texts_test), data.y_test)

    # scikit-learn reference: a bag of words cannot read negation, word trigrams can.
    assert accuracy((1, 1)) < 0.75
    assert accuracy((1, 3)) > 0.93


def test_one_sentence_in_six_has_a_twin_with_the_same_words_and_the_other_label():
    positive = "the plot was not bad and the music was great."
    negative = "the plot was not great and the music was bad."
    assert sorted(textdata.tokenize(positive)) == sorted(textdata.tokenize(negative))
    texts, _ = textdata.make_review_sentences(4000, seed=0)
    tokens = [textdata.tokenize(t) for t in texts]
    # such twins: two clauses (joined by "and" / "also") of which exactly one is negated
    twins = [("and" in t or "also" in t) and sum(w in ("not", "never") for w in t) == 1
             for t in tokens]
    assert 0.12 < np.mean(twins) < 0.21


def test_synthetic_dataset_encoding_round_trip(capsys):
    data = textdata.load_text_data("synthetic", max_train=500, max_test=100, maxlen=24)
    assert "OFFLINE SYNTHETIC" in capsys.readouterr().out
    assert data.x_train.shape == (500, 24) and data.x_test.shape == (100, 24)
    assert data.x_train.dtype == np.int32 and data.vocabulary[:2] == ["<pad>", "<unk>"]
    assert data.vocab_size == len(data.vocabulary) and data.x_train.max() < data.vocab_size
    assert data.decode(data.x_test[0]) == " ".join(textdata.tokenize(data.texts_test[0]))
    np.testing.assert_array_equal(data.encode([data.texts_test[0]])[0], data.x_test[0])
    assert data.encode(["the plot was zzyzx"])[0, 3] == 1  # unknown word


def _fake_imdb(num_words):
    rng = np.random.default_rng(0)
    x = [list(rng.integers(1, num_words, size=n)) for n in (5, 300, 40)]
    train = (np.array(x, dtype=object), np.array([1, 0, 1]))
    test = (np.array(x[:2], dtype=object), np.array([0, 1]))
    return train, test


def test_imdb_path_pads_like_keras_and_decodes(monkeypatch, capsys):
    monkeypatch.setattr(textdata, "_imdb_raw", _fake_imdb)
    monkeypatch.setattr(textdata, "_imdb_vocabulary",
                        lambda n: ["<pad>", "<start>", "<unk>", "<unused>"]
                        + [f"w{i}" for i in range(4, n)])
    data = textdata.load_text_data("auto", num_words=50, maxlen=20)
    assert "IMDB movie reviews" in capsys.readouterr().out
    raw_train = _fake_imdb(50)[0][0]
    reference = keras.utils.pad_sequences(list(raw_train), maxlen=20, padding="post",
                                          truncating="post")
    np.testing.assert_array_equal(data.x_train, reference)
    assert data.source == "imdb" and data.vocab_size == 50
    assert data.decode([5, 6, 0]) == "w5 w6"


def test_offline_auto_falls_back_to_labelled_sentences_and_imdb_explains(monkeypatch, capsys):
    def offline(num_words):
        raise Exception("URL fetch failure on https://storage.googleapis.com/imdb.npz: "
                        "Name or service not known")

    monkeypatch.setattr(textdata, "_imdb_raw", offline)
    data = textdata.load_text_data("auto", max_train=50, max_test=10)
    out = capsys.readouterr().out
    assert "IMDB reviews (keras.datasets): not available" in out and "OFFLINE SYNTHETIC" in out
    assert data.source == "synthetic"
    with pytest.raises(RuntimeError, match="imdb.npz"):
        textdata.load_text_data("imdb")
    with pytest.raises(ValueError, match="source must be one of"):
        textdata.load_text_data("yelp")
