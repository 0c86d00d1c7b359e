"""The small release-format inputs that the golden files under `tests/golden/t2t/` were made from,
written deterministically (NumPy's PCG64 stream), so tests can write them again and compare this
project's records and vocabularies with those T2T 1.15.7 wrote for them (see README.md here)."""
import base64
import os

import numpy as np
import tensorflow as tf

from tests.problems import source_files as src

SYLLABLES = ["ka", "to", "ri", "ne", "sa", "mo", "lu", "pe", "di", "ga", "ver", "stan", "ing", "tion", "é", "ü"]
EXTRA = ["<br />", "n't", "co_op", "back\\slash", "3.14", "1,000", "—", "(", ")", "\"", "!", "?", ":", ";"]


def vocabulary(rng, size=400):
    words = {"".join(rng.choice(SYLLABLES, size=rng.integers(1, 4))) for _ in range(size * 2)}
    return sorted(words)[:size]


def text(rng, words, n_words):
    ranks = np.minimum(rng.zipf(1.3, size=n_words), len(words)) - 1
    tokens = [words[r] for r in ranks]
    for i in rng.choice(n_words, size=max(1, n_words // 8), replace=False):
        tokens[i] = str(rng.choice(EXTRA))
    if rng.random() < 0.5:
        tokens[0] = tokens[0].capitalize()
    return " ".join(tokens)


def write_lm1b(tmp_dir, seed=1):
    """All 99 training shards (a few sentences each), the dev shard and the original vocabulary
    (most words, not all, so that T2T's UNK replacement shows)."""
    rng = np.random.default_rng(seed)
    words = vocabulary(rng)
    train = {shard: [text(rng, words, int(rng.integers(3, 25))) + " ." for _ in range(int(rng.integers(0, 6)))]
             for shard in range(1, 100)}
    dev = [text(rng, words, int(rng.integers(3, 25))) + " ." for _ in range(25)]
    src.write_lm1b(tmp_dir, train=train, dev=dev)
    with open(os.path.join(tmp_dir, "vocab-2016-09-10.txt.en"), "w", encoding="utf-8") as f:
        f.write("".join(w + "\n" for w in words[::3] + [".", ",", "<br", "/>", "!"]))


def write_imdb(tmp_dir, seed=2):
    rng = np.random.default_rng(seed)
    words = vocabulary(rng)
    for split in ("train", "test"):
        for label in ("pos", "neg"):
            folder = os.path.join(tmp_dir, "aclImdb", split, label)
            os.makedirs(folder)
            for i in range(15):
                with open(os.path.join(folder, f"{i}_{7 if label == 'pos' else 2}.txt"), "w", encoding="utf-8") as f:
                    f.write(" " + text(rng, words, int(rng.integers(10, 60))) + "<br /><br />The end.\n")


def subword_texts(seed=3, n=300):
    """Texts for learning vocabularies at several target sizes (the bisection on min_count)."""
    rng = np.random.default_rng(seed)
    words = vocabulary(rng, 600)
    return [text(rng, words, int(rng.integers(5, 40))) for _ in range(n)]


def write_cifar10(tmp_dir):
    src.write_cifar10(tmp_dir)


def feature_lists(serialized):
    """A serialized `tf.train.Example` -> `{feature: list}` (bytes as base64 text), for JSON."""
    features = tf.train.Example.FromString(serialized).features.feature
    out = {}
    for name, feature in sorted(features.items()):
        kind = feature.WhichOneof("kind")
        values = list(getattr(feature, kind).value)
        out[name] = [base64.b64encode(v).decode("ascii") for v in values] if kind == "bytes_list" else values
    return out


def records(data_dir, prefix):
    """`{"train": [...], "dev": [...]}`: every record of the problem's shards as `feature_lists`,
    sorted (T2T shuffles inside shards, so records compare as multisets)."""
    import glob
    import json

    out = {}
    for split in ("train", "dev"):
        rows = [feature_lists(raw.numpy()) for path in sorted(glob.glob(f"{data_dir}/{prefix}-{split}-*"))
                for raw in tf.data.TFRecordDataset(path)]
        out[split] = sorted(rows, key=lambda r: json.dumps(r, sort_keys=True))
    return out
