"""Writing T2T's on-disk layout: sharded TFRecords of `tf.train.Example`."""
import os
import random

import tensorflow as tf


def to_example(features):
    """`{"inputs": [ints], "targets": [ints], ...}` -> `tf.train.Example` (int64, float or bytes lists)."""
    feature = {}
    for name, values in features.items():
        values = list(values) if isinstance(values, (list, tuple)) else [values]
        if not values or isinstance(values[0], int):
            feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=values))
        elif isinstance(values[0], float):
            feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=values))
        elif isinstance(values[0], (bytes, str)):
            values = [v.encode("utf-8") if isinstance(v, str) else v for v in values]
            feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=values))
        else:
            raise ValueError(f"feature {name!r}: unsupported value type {type(values[0]).__name__}.")
    return tf.train.Example(features=tf.train.Features(feature=feature))


def sharded_name(base, shard, total):
    """T2T's shard naming: `base-00003-of-00010`."""
    return f"{base}-{shard:05d}-of-{total:05d}"


def shard_filepaths(data_dir, dataset_filename, split_file, num_shards):
    """`<data_dir>/<dataset>-<split>-NNNNN-of-MMMMM` for every shard."""
    base = os.path.join(data_dir, f"{dataset_filename}-{split_file}")
    return [sharded_name(base, i, num_shards) for i in range(num_shards)]


def generate_files(generator, filepaths, shuffle=True, seed=0):
    """Writes the generator's feature dicts round-robin into `filepaths` (shuffled within each
    shard when `shuffle`). Writes to `*.incomplete` and renames, so a killed run leaves no
    half-written shard under a final name. Returns the number of examples written."""
    if all(tf.io.gfile.exists(p) for p in filepaths):
        return 0
    tf.io.gfile.makedirs(os.path.dirname(filepaths[0]) or ".")
    shards = [[] for _ in filepaths]
    count = 0
    for count, features in enumerate(generator, start=1):
        shards[(count - 1) % len(filepaths)].append(to_example(features).SerializeToString())
    rng = random.Random(seed)
    for path, records in zip(filepaths, shards):
        if shuffle:
            rng.shuffle(records)
        tmp = path + ".incomplete"
        with tf.io.TFRecordWriter(tmp) as writer:
            for record in records:
                writer.write(record)
        tf.io.gfile.rename(tmp, path, overwrite=True)
    return count
