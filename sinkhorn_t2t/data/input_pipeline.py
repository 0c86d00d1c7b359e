"""Batching as T2T does it: length buckets with batch_size in tokens on CPU/GPU; fixed,
padded shapes with `drop_remainder=True` on TPU / XLA (or with `use_fixed_batch_size`), from a
small set of bucket lengths so that short examples are not padded to `max_length`."""
import bisect
import math

import tensorflow as tf

from sinkhorn_t2t.data.problem import DatasetSplit


def bucket_boundaries(max_length, min_length=8, length_bucket_step=1.1):
    """T2T's geometric bucket boundaries below `max_length`."""
    boundaries, x = [], min_length
    while x < max_length:
        boundaries.append(x)
        x = max(x + 1, int(x * length_bucket_step))
    return boundaries


def highly_composite_numbers(limit):
    """The highly composite numbers (more divisors than any smaller number) up to `limit`, in order.

    Each is a product of the first primes with non-increasing exponents (Ramanujan), so they are
    the divisor-count records among those products, which are few."""
    primes = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47)
    products = []  # (number, its divisor count)

    def extend(number, divisors, index, max_exponent):
        products.append((number, divisors))
        if index == len(primes):  # limits beyond 2 x 3 x ... x 47 (6e17) are not reached
            return
        for exponent in range(1, max_exponent + 1):
            number *= primes[index]
            if number > limit:
                break
            extend(number, divisors * (exponent + 1), index + 1, exponent)

    extend(1, 1, 0, max(int(limit).bit_length(), 1))
    records, most = [], 0
    for number, divisors in sorted(products):
        if divisors > most:
            records.append(number)
            most = divisors
    return records


def bucket_batch_sizes(batch_size, boundaries, max_length):
    """T2T's examples per batch of each length bucket (`boundaries`, then the last bucket up to
    `max_length`): `batch_size` tokens over the bucket's longest length, rounded down to a divisor
    of the largest highly composite number at most 3x the biggest batch (T2T's window size, which
    every batch size divides), as T2T's `batching_scheme` does. Per replica / data shard."""
    sizes = [max(1, batch_size // length) for length in list(boundaries) + [max_length]]
    window = highly_composite_numbers(3 * max(sizes))[-1]
    divisors = sorted({d for i in range(1, math.isqrt(window) + 1) if window % i == 0 for d in (i, window // i)})
    return [divisors[bisect.bisect_right(divisors, size) - 1] for size in sizes]


def fixed_bucket_lengths(max_length, min_length=8):
    """The padded lengths of fixed-shape batches: four per octave (`2^k` times 1, 5/4, 3/2 and
    7/4, whole numbers only) from `min_length` up to `max_length`, and `max_length` itself: one XLA
    program per length the data reaches, and an example longer than `min_length` is padded by under
    a fifth of its bucket's length."""
    lengths, x = [], 1 << max(int(min_length) - 1, 0).bit_length()
    while x < max_length:
        lengths += sorted({x * n // 4 for n in (4, 5, 6, 7) if x * n % 4 == 0 and x * n // 4 < max_length})
        x *= 2
    return lengths + [max_length]


def example_length(example, axis=0):
    """Longest of the example's sequence features (`axis=1`: of a batch's padded features)."""
    lengths = [tf.shape(v)[axis] for k, v in example.items() if k in ("inputs", "targets")]
    return tf.reduce_max(tf.stack(lengths))


def align_packed_rows(dataset, block_size, packed_length):
    """Re-packs T2T's packed LM rows so that every example starts on a block boundary.

    The data dir holds T2T's packing (examples back to back, rows as full as possible). Models
    that sort blocks (Sinkhorn, SortCut) need blocks that never mix two examples; for them the
    rows are unpacked here and packed again, next fit, each example padded to a multiple of
    `block_size`. Output rows are `packed_length` long (static shapes), `targets`,
    `targets_segmentation` (1, 2, ...; 0 = padding) and `targets_position` (restarting at 0).
    """
    if packed_length % block_size:
        raise ValueError(f"packed length {packed_length} is not a multiple of the block size {block_size}.")

    def examples(row):
        seg = tf.cast(row["targets_segmentation"], tf.int32)
        return tf.data.Dataset.range(1, tf.cast(tf.reduce_max(seg), tf.int64) + 1).map(
            lambda number: (tf.boolean_mask(row["targets"], tf.equal(seg, tf.cast(number, tf.int32))), False))

    empty = tf.zeros([packed_length], tf.int32)

    def place(state, element):
        """Next fit: emits the open row when the example does not fit, then opens a new one."""
        targets, segments, positions, fill, count = state
        tokens, is_flush = element
        tokens = tf.cast(tokens, tf.int32)
        n = tf.shape(tokens)[0]
        size = (n + block_size - 1) // block_size * block_size
        emit = tf.logical_and(count > 0, tf.logical_or(is_flush, fill + size > packed_length))
        out = (targets, segments, positions)
        targets, segments, positions, fill, count = tuple(
            tf.where(emit, fresh, kept) for fresh, kept in zip((empty, empty, empty, 0, 0),
                                                              (targets, segments, positions, fill, count)))
        index = fill + tf.range(n)[:, None]
        add = tf.logical_not(is_flush)
        targets = tf.where(add, tf.tensor_scatter_nd_update(targets, index, tokens), targets)
        segments = tf.where(add, tf.tensor_scatter_nd_update(segments, index, tf.fill([n], count + 1)), segments)
        positions = tf.where(add, tf.tensor_scatter_nd_update(positions, index, tf.range(n)), positions)
        fill, count = tf.where(add, fill + size, fill), tf.where(add, count + 1, count)
        return (targets, segments, positions, fill, count), (emit, out)

    flush = tf.data.Dataset.from_tensors((tf.zeros([0], tf.int64), tf.constant(True)))
    state = (empty, empty, empty, tf.constant(0), tf.constant(0))
    rows = dataset.flat_map(examples).concatenate(flush).scan(state, place)
    return rows.filter(lambda emit, _: emit).map(lambda _, row: {
        "targets": row[0], "targets_segmentation": row[1], "targets_position": row[2]})


def _to_int32(example):
    return {k: tf.cast(v, tf.int32) for k, v in example.items()}


def batch_dataset(dataset, problem, hparams, mode, fixed_shapes=False, num_replicas=1, seed=None,
                  drop_long=False, align_blocks=None):
    """Batches an unbatched problem dataset.

    Args:
      dataset: from `Problem.dataset`.
      problem, hparams: the problem and model hparams (`batch_size`, `max_length`,
        `min_length_bucket`, `length_bucket_step`, `use_fixed_batch_size`).
      mode: a `DatasetSplit` value; training drops examples longer than `max_length`,
        evaluation keeps them unless `eval_drop_long_sequences` (or shapes are fixed).
      fixed_shapes: pad every sequence feature to a length of `fixed_bucket_lengths` and drop
        each bucket's remainder (TPU / XLA); examples per batch as T2T's scheme gives a bucket of
        that length (`bucket_batch_sizes`).
      num_replicas: batch sizes are per replica, as T2T's are per core.
      drop_long: drop examples longer than `max_length` in evaluation too (models whose
        attention has a fixed longest input: Sinkhorn, SortCut).
      align_blocks: block size to which packed rows are re-aligned (`align_packed_rows`), for
        models that sort blocks; None keeps T2T's rows as written.
    """
    max_length = problem.max_length(hparams)
    training = mode == DatasetSplit.TRAIN
    fixed_shapes = fixed_shapes or hparams.use_fixed_batch_size
    if align_blocks and getattr(problem, "packed_length", None):
        dataset = align_packed_rows(dataset, align_blocks, problem.packed_length)
    options = tf.data.Options()  # fewer per-example function calls: CPU the model step can use
    options.experimental_optimization.map_fusion = True
    options.experimental_optimization.map_and_filter_fusion = True
    dataset = dataset.map(_to_int32).with_options(options)
    if training or fixed_shapes or drop_long or hparams.eval_drop_long_sequences:
        dataset = dataset.filter(lambda ex: example_length(ex) <= max_length)
    if training:
        dataset = dataset.shuffle(hparams.get("batch_shuffle_size", 512) * 4, seed=seed,
                                  reshuffle_each_iteration=True).repeat()
    tokens = problem.batch_size_means_tokens and not hparams.use_fixed_batch_size
    if fixed_shapes:
        # Each example is padded to the shortest bucket length that holds it; every batch of a
        # bucket has the same shape (remainders dropped), so each length compiles once.
        lengths = fixed_bucket_lengths(max_length, hparams.min_length_bucket)
        sizes = [size * num_replicas for size in (bucket_batch_sizes(hparams.batch_size, lengths[:-1], max_length)
                                                  if tokens else [hparams.batch_size] * len(lengths))]
        return dataset.bucket_by_sequence_length(
            example_length, [length + 1 for length in lengths], sizes + [sizes[-1]], pad_to_bucket_boundary=True,
            drop_remainder=True).prefetch(tf.data.AUTOTUNE)
    if not tokens:
        return dataset.padded_batch(hparams.batch_size * num_replicas).prefetch(tf.data.AUTOTUNE)
    boundaries = bucket_boundaries(max_length, hparams.min_length_bucket, hparams.length_bucket_step)
    sizes = [size * num_replicas for size in bucket_batch_sizes(hparams.batch_size, boundaries, max_length)]
    return dataset.bucket_by_sequence_length(example_length, boundaries, sizes,
                                             drop_remainder=num_replicas > 1 and training) \
        .prefetch(tf.data.AUTOTUNE)
