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
    neg_log_perplexity and edit_distance (teacher-forced argmax predictions, as T2T computes them).
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
        "edit_distance": edit_distance_sums(predictions, targets, weights),
    }


def _to_sparse(ids, weights):
    mask = weights > 0
    return tf.SparseTensor(tf.where(mask), tf.cast(tf.boolean_mask(ids, mask), tf.int64),
                           tf.shape(ids, out_type=tf.int64))


def edit_distance_sums(predictions, targets, weights):
    """(sum of Levenshtein distances, sum of reference lengths) over the real target positions."""
    distance = tf.edit_distance(_to_sparse(predictions, weights), _to_sparse(targets, weights), normalize=False)
    return tf.reduce_sum(distance), tf.reduce_sum(weights)


def finalize(sums):
    """`{name: (value_sum, weight_sum)}` -> `{name: value}`."""
    return {name: float(value) / max(float(weight), 1e-9) for name, (value, weight) in sums.items()}
