"""Text data for the 1-D convnet lecture: IMDB movie reviews online, generated sentences offline.

:func:`load_text_data` returns a :class:`TextDataset`: padded int token sequences (0 = padding),
0/1 sentiment labels and the vocabulary to turn indices back into words.

- ``source="imdb"``: the 50,000 IMDB reviews of ``keras.datasets.imdb`` (Maas et al. 2011),
  downloaded once into ``~/.keras/datasets`` (needs internet the first time).
- ``source="synthetic"``: **generated** movie-review sentences (:func:`make_review_sentences`),
  made by this module from a small grammar, so the course runs offline. They are not real
  reviews. Their sentiment depends on word order ("not good" is negative, "not bad" positive,
  "not very good" negative), and for about one sentence in six a bag of words cannot tell the
  label at all (two clauses, one of them negated): "the plot was not bad and the music was
  great" (positive) has the same words as "the plot was not great and the music was bad"
  (negative). An n-gram detector (a Conv1D of width >= 2-3) can.
- ``source="auto"``: IMDB when it can be downloaded, otherwise the generated sentences, and one
  line on screen says which.

Nothing here imports TensorFlow except the IMDB download itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from cnncourse import validation as check
from cnncourse.data import try_online

__all__ = [
    "TextDataset",
    "load_text_data",
    "make_review_sentences",
    "tokenize",
    "build_vocabulary",
    "encode",
    "TEXT_SOURCES",
]

TEXT_SOURCES = ("auto", "imdb", "synthetic")
PAD, UNK = "<pad>", "<unk>"

# The grammar of the generated sentences (every word is ordinary English; nothing is sampled
# from real reviews).
SUBJECTS = (
    "the acting", "the plot", "the music", "the script", "the story", "the ending", "the cast",
    "the dialogue", "the photography", "the pacing", "this film", "the soundtrack", "the humour",
    "the direction", "the lead actor", "the second half",
)
VERBS = ("was", "is", "felt", "seemed")
NEGATIONS = ("not", "never")
INTENSIFIERS = ("very", "really", "truly", "quite", "so")
POSITIVE = ("good", "great", "excellent", "wonderful", "brilliant", "enjoyable", "superb",
            "moving", "clever", "charming")
NEGATIVE = ("bad", "terrible", "awful", "boring", "dull", "weak", "poor", "clumsy", "tedious",
            "forgettable")
OPENERS = ("", "", "", "honestly ,", "overall", "i thought", "in my opinion", "to be fair ,")
CONNECTORS = ("and", ", and", "; also", "and also")
CLOSERS = (".", ".", "!", "...")


def tokenize(text: str) -> list[str]:
    """Lower-case words and punctuation marks as separate tokens.

    >>> tokenize("Honestly, the plot was NOT good!")
    ['honestly', ',', 'the', 'plot', 'was', 'not', 'good', '!']
    """
    if not isinstance(text, str):
        raise TypeError(f"expected a str, got {type(text).__name__}")
    return re.findall(r"[a-z0-9']+|\.\.\.|[.,!?;]", text.lower())


def _clause(rng: np.random.Generator) -> tuple[str, int]:
    """One clause and its polarity (+1 / -1): negation flips the adjective's polarity."""
    polarity = 1 if rng.random() < 0.5 else -1
    adjective = rng.choice(POSITIVE if polarity > 0 else NEGATIVE)
    words = [rng.choice(SUBJECTS), rng.choice(VERBS)]
    if rng.random() < 0.4:
        words.append(rng.choice(NEGATIONS))
        polarity = -polarity
    if rng.random() < 0.3:
        words.append(rng.choice(INTENSIFIERS))
    words.append(adjective)
    return " ".join(words), polarity


def make_review_sentences(n: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """``n`` generated movie-review sentences and their labels (1 positive, 0 negative).

    Each sentence has one or two clauses ("the plot was not very good"); two clauses always agree
    in sentiment, so every label is well defined. Labels are balanced and the same seed always
    gives the same sentences.

    >>> texts, labels = make_review_sentences(2, seed=0)
    >>> for text in texts:
    ...     print(text)
    i thought the story is not weak...
    honestly, the photography felt so poor and the direction was tedious.
    >>> labels.tolist()
    [1, 0]
    """
    check.integer("n", n)
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    while len(texts) < n:
        clause, polarity = _clause(rng)
        parts = [rng.choice(OPENERS), clause]
        if rng.random() < 0.5:
            second, second_polarity = _clause(rng)
            if second_polarity != polarity:
                continue  # keep only sentences whose clauses agree
            parts += [rng.choice(CONNECTORS), second]
        parts.append(rng.choice(CLOSERS))
        texts.append(" ".join(p for p in parts if p).replace(" ,", ",").replace(" ;", ";")
                     .replace(" .", ".").replace(" !", "!"))
        labels.append(int(polarity > 0))
    return texts, np.asarray(labels, dtype="int32")


def build_vocabulary(texts, max_words: int | None = None) -> list[str]:
    """Index -> word: ``[PAD, UNK, most frequent word, ...]`` (ties in alphabetical order)."""
    counts: dict[str, int] = {}
    for text in texts:
        for token in tokenize(text):
            counts[token] = counts.get(token, 0) + 1
    words = sorted(counts, key=lambda w: (-counts[w], w))
    vocab = [PAD, UNK, *words]
    return vocab[:max_words] if max_words else vocab


def encode(texts, vocabulary, maxlen: int) -> np.ndarray:
    """Token indices, padded with 0 (and cut) at the end to ``maxlen``; unknown words -> 1."""
    check.integer("maxlen", maxlen)
    if isinstance(texts, str):
        raise TypeError("expected a list of texts, got a single str (wrap it in a list)")
    index = {word: i for i, word in enumerate(vocabulary)}
    out = np.zeros((len(texts), maxlen), dtype="int32")
    for row, text in enumerate(texts):
        ids = [index.get(token, 1) for token in tokenize(text)][:maxlen]
        out[row, : len(ids)] = ids
    return out


def _pad(sequences, maxlen: int) -> np.ndarray:
    out = np.zeros((len(sequences), maxlen), dtype="int32")
    for row, seq in enumerate(sequences):
        seq = list(seq)[:maxlen]
        out[row, : len(seq)] = seq
    return out


@dataclass
class TextDataset:
    """Padded token sequences (0 = padding), 0/1 labels, and the vocabulary (index -> word)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    vocabulary: list[str] | None
    source: str
    description: str
    texts_test: list[str] | None = field(default=None, repr=False)

    @property
    def maxlen(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def vocab_size(self) -> int:
        """Size of the index range (for ``Embedding(vocab_size, ...)``)."""
        return int(max(self.x_train.max(), self.x_test.max())) + 1 if self.vocabulary is None \
            else len(self.vocabulary)

    def decode(self, sequence) -> str:
        """Words of a token sequence, padding dropped (indices when no vocabulary is known)."""
        ids = [int(i) for i in np.asarray(sequence).ravel() if int(i) != 0]
        if self.vocabulary is None:
            return " ".join(f"#{i}" for i in ids)
        return " ".join(self.vocabulary[i] if i < len(self.vocabulary) else UNK for i in ids)

    def encode(self, texts) -> np.ndarray:
        """Encode new sentences with this dataset's vocabulary and length (synthetic source)."""
        if self.vocabulary is None:
            raise ValueError("this dataset has no vocabulary "
                             "(the IMDB word index could not be downloaded)")
        return encode(texts, self.vocabulary, self.maxlen)


# --------------------------------------------------------------------------- IMDB


def _imdb_raw(num_words: int):
    import keras

    return keras.datasets.imdb.load_data(num_words=num_words)


def _imdb_vocabulary(num_words: int):
    import keras

    word_index = keras.datasets.imdb.get_word_index()
    # keras.datasets.imdb: 0 padding, 1 start of review, 2 out of vocabulary, words from index 3.
    vocab = [PAD, "<start>", UNK, "<unused>"] + [""] * max(0, num_words - 4)
    for word, i in word_index.items():
        if i + 3 < num_words:
            vocab[i + 3] = word
    return vocab


def _subsample(x, y, limit, rng):
    if limit is None or limit >= len(y):
        return x, y
    keep = np.sort(rng.permutation(len(y))[:limit])
    return x[keep], y[keep]


def _load_imdb(num_words, maxlen, max_train, max_test, seed):
    raw = try_online(lambda: _imdb_raw(num_words), "IMDB reviews (keras.datasets)")
    if raw is None:
        return None
    (xs_train, y_train), (xs_test, y_test) = raw
    vocab = try_online(lambda: _imdb_vocabulary(num_words), "IMDB word index (keras.datasets)")
    rng = np.random.default_rng(seed)
    x_train, y_train = _subsample(_pad(xs_train, maxlen), np.asarray(y_train, "int32"), max_train,
                                  rng)
    x_test, y_test = _subsample(_pad(xs_test, maxlen), np.asarray(y_test, "int32"), max_test, rng)
    description = (
        f"IMDB movie reviews from keras.datasets: {len(y_train):,} train / {len(y_test):,} test "
        f"(of {len(xs_train):,} / {len(xs_test):,}), {num_words:,}-word vocabulary, "
        f"first {maxlen} tokens"
    )
    return TextDataset(x_train, y_train, x_test, y_test, vocab, "imdb", description)


# --------------------------------------------------------------------------- generated sentences


def _load_synthetic(maxlen, n_train, n_test, seed):
    texts_train, y_train = make_review_sentences(n_train, seed=seed)
    seen = set(texts_train)
    texts_test, labels_test = [], []
    extra = seed + 1
    while len(texts_test) < n_test:  # test sentences never appear in the training set
        texts, labels = make_review_sentences(n_test, seed=10_000 + extra)
        extra += 1
        for text, label in zip(texts, labels, strict=True):
            if text not in seen and len(texts_test) < n_test:
                seen.add(text)
                texts_test.append(text)
                labels_test.append(label)
    vocab = build_vocabulary(texts_train)
    description = (
        f"OFFLINE SYNTHETIC sentences generated by cnncourse.textdata (a small grammar of "
        f"movie-review phrases with negation, NOT real reviews): {n_train:,} train / "
        f"{n_test:,} test, {len(vocab)}-token vocabulary, up to {maxlen} tokens; accuracies are "
        f"not comparable with IMDB figures"
    )
    return TextDataset(encode(texts_train, vocab, maxlen), y_train,
                       encode(texts_test, vocab, maxlen), np.asarray(labels_test, "int32"),
                       vocab, "synthetic", description, texts_test)


def load_text_data(source: str = "auto", num_words: int = 10_000, maxlen: int | None = None,
                   max_train: int | None = None, max_test: int | None = None, seed: int = 0,
                   verbose: bool = True) -> TextDataset:
    """Sentiment data as padded token sequences; one line on screen says which data it is.

    ``source``: "imdb", "synthetic" or "auto" (IMDB when it can be downloaded, otherwise the
    generated sentences). ``maxlen``: tokens kept per text (default 200 for IMDB, 32 for the
    sentences). ``max_train`` / ``max_test``: use a random subset (fast mode); for the generated
    sentences they are the numbers generated (default 4,000 / 1,000). ``num_words``: IMDB
    vocabulary size (most frequent words).
    """
    check.one_of("source", source, TEXT_SOURCES)
    for name, value in (("maxlen", maxlen), ("max_train", max_train), ("max_test", max_test)):
        check.integer(name, value, allow_none=True)
    data = None
    if source in ("auto", "imdb"):
        data = _load_imdb(num_words, maxlen or 200, max_train, max_test, seed)
        if data is None and source == "imdb":
            raise RuntimeError(
                "Could not download IMDB through keras.datasets (no internet?). Put imdb.npz and "
                "imdb_word_index.json into ~/.keras/datasets/ (or $KERAS_HOME/datasets/), or use "
                "load_text_data('synthetic') for the generated offline sentences."
            )
    if data is None:
        data = _load_synthetic(maxlen or 32, max_train or 4000, max_test or 1000, seed)
    if verbose:
        print(f"Text data: {data.description}.")
    return data
