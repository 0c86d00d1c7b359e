"""Batching as T2T does it: length buckets with batch_size in tokens on CPU/GPU; fixed,
padded shapes with `drop_remainder=True` on TPU (or with `use_fixed_batch_size`)."""
import tensorflow as tf

from sinkhorn_t2t.data.problem import DatasetSplit


def bucket_boundaries(max_length, min_length=8, length_bucket_step=1.1):
    """T2T's geometric bucket boundaries below `max_length`."""
    boundaries, x = [], min_length
    while x < max_length:
        boundaries.append(x)
        x = max(x + 1, int(x * length_bucket_step))
    return boundaries


def example_length(example):
    """Longest of the example's sequence features."""
    lengths = [tf.shape(v)[0] for k, v in example.items() if k in ("inputs", "targets")]
    return tf.reduce_max(tf.stack(lengths))


def _to_int32(example):
    return {k: tf.cast(v, tf.int32) for k, v in example.items()}


def batch_dataset(dataset, problem, hparams, mode, fixed_shapes=False, num_replicas=1, seed=None):
    """Batches an unbatched problem dataset.

    Args:
      dataset: from `Problem.dataset`.
      problem, hparams: the problem and model hparams (`batch_size`, `max_length`,
        `min_length_bucket`, `length_bucket_step`, `use_fixed_batch_size`).
      mode: a `DatasetSplit` value; training drops examples longer than `max_length`,
        evaluation keeps them unless `eval_drop_long_sequences` (or shapes are fixed).
      fixed_shapes: pad every feature to `max_length` and drop the remainder (TPU / XLA).
      num_replicas: batch sizes are per replica, as T2T's are per core.
    """
    max_length = problem.max_length(hparams)
    training = mode == DatasetSplit.TRAIN
    fixed_shapes = fixed_shapes or hparams.use_fixed_batch_size
    dataset = dataset.map(_to_int32)
    if training or fixed_shapes or hparams.eval_drop_long_sequences:
        dataset = dataset.filter(lambda ex: example_length(ex) <= max_length)
    if training:
        dataset = dataset.shuffle(hparams.get("batch_shuffle_size", 512) * 4, seed=seed,
                                  reshuffle_each_iteration=True).repeat()
    tokens = problem.batch_size_means_tokens and not hparams.use_fixed_batch_size
    if fixed_shapes:
        per_replica = max(1, hparams.batch_size // max_length) if tokens else hparams.batch_size
        shapes = {k: [max_length] if len(spec.shape) else [] for k, spec in dataset.element_spec.items()}
        for key, spec in dataset.element_spec.items():
            if len(spec.shape) and key not in ("inputs", "targets") and not key.endswith(("_segmentation", "_position")):
                shapes[key] = spec.shape.as_list()
        return dataset.padded_batch(per_replica * num_replicas, padded_shapes=shapes, drop_remainder=True) \
            .prefetch(tf.data.AUTOTUNE)
    if not tokens:
        return dataset.padded_batch(hparams.batch_size * num_replicas).prefetch(tf.data.AUTOTUNE)
    boundaries = bucket_boundaries(max_length, hparams.min_length_bucket, hparams.length_bucket_step)
    sizes = [max(1, hparams.batch_size // length) * num_replicas for length in boundaries + [max_length]]
    return dataset.bucket_by_sequence_length(example_length, boundaries, sizes,
                                             drop_remainder=num_replicas > 1 and training) \
        .prefetch(tf.data.AUTOTUNE)
