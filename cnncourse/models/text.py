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

from cnncourse import validation as check

__all__ = ["text_cnn", "simple_text_cnn"]


def _check_common(vocab_size, sequence_length, embedding_dim, num_classes, widths) -> None:
    check.integer("vocab_size", vocab_size)
    check.integer("sequence_length", sequence_length)
    check.integer("embedding_dim", embedding_dim)
    check.integer("num_classes", num_classes, minimum=2)
    for k in widths:
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
    widths = check.shape("filter_sizes", filter_sizes)
    _check_common(vocab_size, sequence_length, embedding_dim, num_classes, widths)
    check.integer("num_filters", num_filters)
    check.dropout("dropout", dropout)

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
    widths = (check.integer("kernel_size", kernel_size),)
    _check_common(vocab_size, sequence_length, embedding_dim, num_classes, widths)
    check.integer("filters", filters)
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
