"""1-D convolutional networks for sentence classification.

A sentence of ``sequence_length`` word indices becomes a (sequence_length, embedding_dim)
matrix through an ``Embedding`` layer. A ``Conv1D`` filter of width k slides along the words:
at each position it takes the dot product of its (k, embedding_dim) kernel with k consecutive
word vectors, so it is an **n-gram detector** (k = 3: trigrams). Global max pooling keeps each
filter's strongest match anywhere in the sentence, whatever the sentence length.

- :func:`text_cnn`: Kim (2014), parallel filter widths 3, 4, 5, max-over-time pooling, dropout.
- :func:`simple_text_cnn`: one filter width, the smallest 1-D convnet (a ``keras.Sequential``).

Input: int token indices (0 = padding) of shape ``(sequence_length,)``. Output: one sigmoid
unit for two classes (the probability of class 1), ``num_classes`` softmax units otherwise.
"""

from __future__ import annotations

import keras
from keras import layers

__all__ = ["text_cnn", "simple_text_cnn"]


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


def _check_common(vocab_size, sequence_length, embedding_dim, num_classes, widths) -> None:
    _positive_int("vocab_size", vocab_size)
    _positive_int("sequence_length", sequence_length)
    _positive_int("embedding_dim", embedding_dim)
    if _positive_int("num_classes", num_classes) < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}")
    for k in widths:
        _positive_int("filter width", k)
        if k > sequence_length:
            raise ValueError(
                f"filter width {k} is longer than the sequence ({sequence_length} tokens); "
                "use shorter filters or longer (padded) sequences"
            )


def _classifier(num_classes: int) -> layers.Dense:
    """One sigmoid unit for two classes, softmax over ``num_classes`` otherwise."""
    if num_classes == 2:
        return layers.Dense(1, activation="sigmoid", name="probability")
    return layers.Dense(num_classes, activation="softmax", name="probabilities")


def text_cnn(vocab_size: int, sequence_length: int, embedding_dim: int = 128,
             filter_sizes=(3, 4, 5), num_filters: int = 100, num_classes: int = 2,
             dropout: float = 0.5, name: str = "text_cnn") -> keras.Model:
    """Kim's sentence-classification CNN (Functional model).

    Reference: Yoon Kim, "Convolutional Neural Networks for Sentence Classification",
    EMNLP 2014. Defaults follow the paper: filter widths 3, 4, 5 with 100 filters each,
    ReLU, max-over-time pooling, dropout 0.5 (the paper's 300-d word2vec embeddings are
    replaced by a 128-d embedding learnt from scratch).

    Layers: ``tokens`` -> ``embedding`` -> for each width k: ``conv_{k}gram`` (Conv1D, valid)
    -> ``maxpool_{k}gram`` (GlobalMaxPooling1D); ``concat`` -> ``dropout`` -> classifier.
    Parameters: vocab_size*embedding_dim + sum_k (k*embedding_dim + 1)*num_filters + head.

    >>> text_cnn(1000, 40, embedding_dim=8, filter_sizes=(2, 3), num_filters=4).count_params()
    8177
    """
    try:
        widths = tuple(filter_sizes)
    except TypeError:
        raise TypeError(f"filter_sizes must be a sequence of ints, got {filter_sizes!r}") from None
    if not widths:
        raise ValueError("filter_sizes must name at least one filter width, got an empty sequence")
    _check_common(vocab_size, sequence_length, embedding_dim, num_classes, widths)
    _positive_int("num_filters", num_filters)
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")

    tokens = keras.Input(shape=(sequence_length,), dtype="int32", name="tokens")
    x = layers.Embedding(vocab_size, embedding_dim, name="embedding")(tokens)
    pooled = []
    for k in widths:
        h = layers.Conv1D(num_filters, k, activation="relu", name=f"conv_{k}gram")(x)
        pooled.append(layers.GlobalMaxPooling1D(name=f"maxpool_{k}gram")(h))
    x = pooled[0] if len(pooled) == 1 else layers.Concatenate(name="concat")(pooled)
    x = layers.Dropout(dropout, name="dropout")(x)
    return keras.Model(tokens, _classifier(num_classes)(x), name=name)


def simple_text_cnn(vocab_size: int, sequence_length: int, embedding_dim: int = 64,
                    filters: int = 64, kernel_size: int = 3, num_classes: int = 2,
                    name: str = "simple_text_cnn") -> keras.Model:
    """The smallest 1-D convnet for text: embedding, one Conv1D, global max pooling, classifier.

    Layers: ``embedding`` -> ``conv`` (``filters`` detectors of ``kernel_size``-grams, ReLU)
    -> ``maxpool`` (GlobalMaxPooling1D) -> classifier. A ``keras.Sequential``.

    >>> simple_text_cnn(100, 20, embedding_dim=4, filters=2, kernel_size=3).count_params()
    429
    """
    _check_common(vocab_size, sequence_length, embedding_dim, num_classes, (kernel_size,))
    _positive_int("filters", filters)
    return keras.Sequential(
        [
            keras.Input(shape=(sequence_length,), dtype="int32", name="tokens"),
            layers.Embedding(vocab_size, embedding_dim, name="embedding"),
            layers.Conv1D(filters, kernel_size, activation="relu", name="conv"),
            layers.GlobalMaxPooling1D(name="maxpool"),
            _classifier(num_classes),
        ],
        name=name,
    )
