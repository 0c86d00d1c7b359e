"""Loss and the paper's metrics, computed on padded batches (id 0 = padding unless the target
modality counts every position).

Metric names follow T2T (`accuracy`, `accuracy_per_sequence`, `neg_log_perplexity`,
`edit_distance`); the paper's exact match (EM) is `accuracy_per_sequence` and its edit distance
is T2T's `sequence_edit_distance`: summed Levenshtein distance over summed reference length.
"""
import math

import tensorflow as tf

from sinkhorn_t2t.data.problem import Modality


def target_weights(targets, modality):
    """float `(B, L)`: 1 where a target position carries loss."""
    if modality == Modality.SYMBOL:
        return tf.cast(tf.not_equal(targets, 0), tf.float32)
    return tf.ones_like(targets, tf.float32)


def smoothed_cross_entropy(logits, targets, label_smoothing):
    """T2T's `smoothing_cross_entropy`: cross-entropy against smoothed one-hot targets, minus its
    minimum so that a perfect prediction has loss 0. `(B, L, V)`, `(B, L)` -> `(B, L)`."""
    vocab = tf.shape(logits)[-1]
    if not label_smoothing:
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits)
    confidence = 1.0 - label_smoothing
    low = label_smoothing / tf.cast(vocab - 1, tf.float32)
    soft = tf.one_hot(targets, vocab, on_value=confidence, off_value=low)
    normalizing = -(confidence * math.log(confidence) + tf.cast(vocab - 1, tf.float32) * low * tf.math.log(low + 1e-20))
    return tf.nn.softmax_cross_entropy_with_logits(labels=soft, logits=logits) - normalizing


def metric_sums(logits, targets, weights):
    """Sums (numerator, denominator) per metric for one batch, so that batches and replicas add.

    Returns a dict name -> (value_sum, weight_sum) for accuracy, accuracy_per_sequence,
    neg_log_perplexity and edit_distance (teacher-forced argmax predictions, as T2T computes them;
    edit_distance is T2T's `sequence_edit_distance`, which ignores `weights`).
    """
    predictions = tf.argmax(logits, axis=-1, output_type=targets.dtype)
    correct = tf.cast(tf.equal(predictions, targets), tf.float32) * weights
    token_count = tf.reduce_sum(weights)
    nll = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits) * weights
    has_target = tf.cast(tf.reduce_sum(weights, axis=-1) > 0, tf.float32)
    all_correct = tf.cast(tf.reduce_all(tf.equal(correct, weights), axis=-1), tf.float32) * has_target
    return {
        "accuracy": (tf.reduce_sum(correct), token_count),
        "accuracy_per_sequence": (tf.reduce_sum(all_correct), tf.reduce_sum(has_target)),
        "neg_log_perplexity": (-tf.reduce_sum(nll), token_count),
        "edit_distance": edit_distance_sums(predictions, targets),  # T2T's: see `sequence_edit_distance`
    }


def _nonzero_sparse(ids):
    """Dense int `[B, L]` -> SparseTensor of its non-zero entries (row order kept, zeros dropped)."""
    where = tf.where(tf.not_equal(ids, 0))
    return tf.SparseTensor(where, tf.cast(tf.gather_nd(ids, where), tf.int64), tf.shape(ids, out_type=tf.int64))


def edit_distance_sums(predictions, labels):
    """T2T's edit distance as sums that add over batches and replicas: (sum over rows of the
    Levenshtein distance between the row's non-zero predicted ids and its non-zero label ids,
    number of non-zero labels). Int `[B, L]` each."""
    distance = tf.edit_distance(_nonzero_sparse(predictions), _nonzero_sparse(labels), normalize=False)
    return tf.reduce_sum(distance), tf.reduce_sum(tf.cast(tf.not_equal(labels, 0), tf.float32))


def sequence_edit_distance(logits, labels):
    """T2T's `metrics.sequence_edit_distance`: `(distance / reference_length, reference_length)`.

    Predictions are the argmax of `logits [B, L, V]` at *every* position of the padded batch: a
    non-zero token predicted after the reference ends counts as an insertion, a predicted 0 is
    dropped (as T2T does). `labels [B, L]` int, 0 = padding. The distance of a batch with no
    reference token is 0 (T2T divides by zero there).
    """
    predictions = tf.argmax(logits, axis=-1, output_type=tf.int32)
    distance, reference_length = edit_distance_sums(predictions, tf.cast(labels, tf.int32))
    return tf.math.divide_no_nan(distance, reference_length), reference_length


def finalize(sums):
    """`{name: (value_sum, weight_sum)}` -> `{name: value}`."""
    return {name: float(value) / max(float(weight), 1e-9) for name, (value, weight) in sums.items()}
