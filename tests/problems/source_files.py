"""Tiny datasets written in each original release format, and as prepared TFDS datasets."""
import json
import os
import pickle

import numpy as np
import tensorflow as tf

WORDS = "the a cat dog sat ran on in mat park while and then it was very big small good bad film".split()


def sentences(n, seed, low=3, high=12):
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=rng.integers(low, high))) for _ in range(n)]


LM1B_VOCAB = [w for w in WORDS if w not in ("mat", "park")] + [".", "<S>", "</S>"]  # mat, park -> UNK


def write_lm1b(tmp_dir, train=None, dev=None):
    """The LM1B release tree: all 99 training shards (`train`: {shard: sentences}; by default 30
    sentences in shards 1 and 2, the others empty), the first heldout shard, a shard 00000 that is
    not training data, and the original vocabulary file T2T reads from --tmp_dir."""
    root = os.path.join(tmp_dir, "1-billion-word-language-modeling-benchmark-r13output")
    train_dir = os.path.join(root, "training-monolingual.tokenized.shuffled")
    dev_dir = os.path.join(root, "heldout-monolingual.tokenized.shuffled")
    os.makedirs(train_dir), os.makedirs(dev_dir)
    if train is None:
        train = {shard: [s + " ." for s in sentences(30, shard, 4, 40)] for shard in (1, 2)}
    for shard in range(1, 100):
        with open(os.path.join(train_dir, f"news.en-{shard:05d}-of-00100"), "w") as f:
            f.write("".join(line + "\n" for line in train.get(shard, [])))
    with open(os.path.join(train_dir, "news.en-00000-of-00100"), "w") as f:  # not a training shard in LM1B
        f.write("HELDOUT ONLY SENTENCE .\n")
    with open(os.path.join(dev_dir, "news.en.heldout-00000-of-00050"), "w") as f:
        f.write("".join(line + "\n" for line in (dev or [s + " ." for s in sentences(12, 9, 4, 40)])))
    with open(os.path.join(tmp_dir, "vocab-2016-09-10.txt.en"), "w") as f:
        f.write("".join(w + "\n" for w in LM1B_VOCAB))


def cifar_arrays(n, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8), [int(x) for x in rng.integers(0, 10, size=n)]


def write_cifar10(tmp_dir):
    root = os.path.join(tmp_dir, "cifar-10-batches-py")
    os.makedirs(root)
    for i, name in enumerate([f"data_batch_{b}" for b in range(1, 6)] + ["test_batch"]):
        images, labels = cifar_arrays(3, i)
        data = images.transpose(0, 3, 1, 2).reshape(len(images), 3072)  # the release's R|G|B rows
        with open(os.path.join(root, name), "wb") as f:
            pickle.dump({"batch_label": name, "labels": labels, "data": data}, f)  # as T2T reads them (latin1)


def write_imdb(tmp_dir):
    for split, seed in (("train", 1), ("test", 2)):
        for label in ("pos", "neg"):
            root = os.path.join(tmp_dir, "aclImdb", split, label)
            os.makedirs(root)
            for i, text in enumerate(sentences(12, seed + len(label))):
                with open(os.path.join(root, f"{i}_{7 if label == 'pos' else 2}.txt"), "w") as f:
                    f.write(f"{text}<br />{label} review")


def write_sst2(tmp_dir):
    root = os.path.join(tmp_dir, "SST-2")
    os.makedirs(root)
    for name, n in (("train.tsv", 30), ("dev.tsv", 10)):
        with open(os.path.join(root, name), "w") as f:
            f.write("sentence\tlabel\n")
            for i, text in enumerate(sentences(n, n)):
                f.write(f"{text} \t{i % 2}\n")


NLI_GOLD = ["entailment", "neutral", "contradiction", "-"]


def _write_jsonl(path, n, seed):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    first, second = sentences(n, seed), sentences(n, seed + 100)
    with open(path, "w") as f:
        for i in range(n):
            f.write(json.dumps({"gold_label": NLI_GOLD[i % 4], "sentence1": first[i], "sentence2": second[i],
                                "annotator_labels": [NLI_GOLD[i % 4]], "pairID": str(i)}) + "\n")


def write_snli(tmp_dir):
    _write_jsonl(os.path.join(tmp_dir, "snli_1.0", "snli_1.0_train.jsonl"), 32, 1)
    _write_jsonl(os.path.join(tmp_dir, "snli_1.0", "snli_1.0_dev.jsonl"), 12, 2)


def write_mnli(tmp_dir):
    _write_jsonl(os.path.join(tmp_dir, "multinli_1.0", "multinli_1.0_train.jsonl"), 32, 3)
    _write_jsonl(os.path.join(tmp_dir, "multinli_1.0", "multinli_1.0_dev_matched.jsonl"), 12, 4)
    _write_jsonl(os.path.join(tmp_dir, "multinli_1.0", "multinli_1.0_dev_mismatched.jsonl"), 12, 5)


def write_tfds(tmp_dir, name, splits):
    """Writes `splits` ({split: [feature dicts]}) as a prepared TFDS dataset `name` under
    `<tmp_dir>/tensorflow_datasets`, in TFDS's own record and metadata format."""
    import tensorflow_datasets as tfds

    builder = tfds.builder(name, data_dir=os.path.join(tmp_dir, "tensorflow_datasets"))
    os.makedirs(builder.data_dir, exist_ok=True)
    features = builder.info.features
    file_name = name.split("/")[0]
    for split, examples in splits.items():
        path = os.path.join(builder.data_dir, f"{file_name}-{split}.tfrecord-00000-of-00001")
        with tf.io.TFRecordWriter(path) as writer:
            for example in examples:
                writer.write(features.serialize_example(example))
    tfds.folder_dataset.write_metadata(data_dir=builder.data_dir, features=features, check_data=True)
