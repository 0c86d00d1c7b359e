"""Writing T2T's on-disk layout: sharded TFRecords of `tf.train.Example`."""
import contextlib
import os
import random
import time

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


T2T_DATAGEN_SEED = 429459  # t2t-datagen's --random_seed default, which seeds its shard shuffling


def _read_records(path, chunk=8192):
    """Every record of the TFRecord file at `path`, as bytes, in file order. Read in batches of
    `chunk`: one iterator step per record costs about 0.2 ms, most of datagen's time."""
    return [record for batch in tf.data.TFRecordDataset(path).batch(chunk).as_numpy_iterator() for record in batch]


def generate_files(generator, filepaths, shuffle=True, seed=0, progress_every=100000, log=print, rng=None,
                   extra_fn=None):
    """Writes the generator's feature dicts round-robin into `filepaths`, streaming, then shuffles
    each shard (one shard in memory at a time) with `rng` (a `random.Random`, else one seeded with
    `seed`) and passes its records through `extra_fn` (T2T's `shuffle_dataset(extra_fn=...)`, how
    it packs). Files are written as `*.incomplete` and renamed, so a killed run leaves no
    half-written shard under a final name; when the generator raises, they are removed. Prints
    progress every `progress_every` examples. Returns the number of examples written (0 if all
    shards exist)."""
    if all(tf.io.gfile.exists(p) for p in filepaths):
        return 0
    tf.io.gfile.makedirs(os.path.dirname(filepaths[0]) or ".")
    count, start = 0, time.time()
    try:
        with contextlib.ExitStack() as stack:  # every writer closed, whatever happens
            writers = [stack.enter_context(tf.io.TFRecordWriter(p + ".incomplete")) for p in filepaths]
            for count, features in enumerate(generator, start=1):
                writers[(count - 1) % len(writers)].write(to_example(features).SerializeToString())
                if progress_every and count % progress_every == 0:
                    log(f"  {os.path.basename(filepaths[0]).rsplit('-', 3)[0]}: {count} examples "
                        f"({count / max(time.time() - start, 1e-9):.0f}/s)")
    except BaseException:  # the source failed (missing data, a bug in a generator): leave nothing behind
        for path in filepaths:
            if tf.io.gfile.exists(path + ".incomplete"):
                tf.io.gfile.remove(path + ".incomplete")
        raise
    rng = rng or random.Random(seed)
    for path in filepaths:
        if shuffle or extra_fn:
            records = _read_records(path + ".incomplete")
            if shuffle:
                rng.shuffle(records)
            if extra_fn:
                records = extra_fn(records)
            with tf.io.TFRecordWriter(path + ".incomplete") as writer:
                for record in records:
                    writer.write(record)
        tf.io.gfile.rename(path + ".incomplete", path, overwrite=True)
    return count
