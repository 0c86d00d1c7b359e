import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from sinkhorn_t2t import registry
from sinkhorn_t2t.training import metrics
from sinkhorn_t2t.training.optimizers import FusedAdam, T2TSchedule, make_optimizer


def levenshtein(a, b):
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def test_metric_sums_match_a_direct_computation(rng):
    targets = np.array([[3, 4, 5, 1, 0, 0], [6, 7, 1, 0, 0, 0], [2, 2, 2, 2, 2, 1]], np.int32)
    logits = rng.normal(size=(3, 6, 9)).astype("float32")
    logits[0, np.arange(4), targets[0, :4]] += 20  # example 0 entirely right
    weights = metrics.target_weights(tf.constant(targets), "symbol").numpy()
    sums = metrics.finalize({k: tuple(np.asarray(x) for x in v) for k, v in
                             metrics.metric_sums(tf.constant(logits), tf.constant(targets), weights).items()})
    pred = logits.argmax(-1)
    real = targets != 0
    assert sums["accuracy"] == pytest.approx((pred == targets)[real].mean())
    per_seq = [all(pred[i][real[i]] == targets[i][real[i]]) for i in range(3)]
    assert sums["accuracy_per_sequence"] == pytest.approx(np.mean(per_seq)) and per_seq[0]
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    nll = -np.take_along_axis(logp, targets[..., None], -1)[..., 0]
    assert sums["neg_log_perplexity"] == pytest.approx(-nll[real].mean(), rel=1e-5)
    # T2T's definition: every non-zero predicted token of the padded row counts, zeros are dropped.
    dist = sum(levenshtein([p for p in pred[i] if p], [t for t in targets[i] if t]) for i in range(3))
    assert sums["edit_distance"] == pytest.approx(dist / real.sum())


# (targets, argmax predictions, T2T's sequence_edit_distance), worked out by hand from T2T's
# definition: Levenshtein(non-zero predictions, non-zero labels) summed over rows / label count.
EDIT_CASES = [
    ([[3, 4, 5, 1, 0, 0, 0, 0]], [[3, 4, 5, 1, 7, 7, 9, 2]], 4 / 4),  # tokens after the reference: insertions
    ([[3, 4, 5, 1]], [[3, 4, 0, 0]], 2 / 4),  # shorter prediction: zeros dropped, 2 deletions
    ([[3, 4, 5, 1, 0]], [[3, 0, 4, 5, 1]], 0.0),  # a zero inside the prediction is dropped
    ([[3, 4, 5, 1]], [[3, 9, 5, 1]], 1 / 4),  # one substitution
    ([[2, 3, 1, 0, 0, 0], [0, 0, 0, 0, 0, 0]], [[2, 3, 1, 0, 0, 0], [5, 5, 0, 0, 0, 0]], 2 / 3),  # batch padding row
    ([[6, 7, 1, 0], [2, 1, 0, 0]], [[7, 6, 1, 0], [2, 2, 1, 0]], (2 + 1) / 5),
]


@pytest.mark.parametrize("targets,predictions,expected", EDIT_CASES)
def test_sequence_edit_distance_is_t2ts(targets, predictions, expected):
    logits = tf.one_hot(np.array(predictions), 10) * 10.0
    distance, reference_length = metrics.sequence_edit_distance(logits, tf.constant(targets))
    assert float(distance) == pytest.approx(expected)
    assert float(reference_length) == np.count_nonzero(targets)
    sums = metrics.metric_sums(logits, tf.constant(targets, tf.int32),
                               metrics.target_weights(tf.constant(targets), "symbol"))
    assert float(sums["edit_distance"][0]) / float(sums["edit_distance"][1]) == pytest.approx(expected)


def test_weights_count_padding_only_for_symbol_modality():
    targets = tf.constant([[5, 0, 0]])
    np.testing.assert_array_equal(metrics.target_weights(targets, "symbol").numpy(), [[1, 0, 0]])
    np.testing.assert_array_equal(metrics.target_weights(targets, "symbol_weights_all").numpy(), [[1, 1, 1]])


def test_label_smoothing_matches_t2t(rng):
    logits = rng.normal(size=(2, 3, 7)).astype("float32")
    targets = rng.integers(0, 7, size=(2, 3)).astype("int32")
    ls, vocab = 0.1, 7
    soft = np.full((2, 3, vocab), ls / (vocab - 1))
    np.put_along_axis(soft, targets[..., None], 1 - ls, -1)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    constant = -((1 - ls) * math.log(1 - ls) + (vocab - 1) * ls / (vocab - 1) * math.log(ls / (vocab - 1)))
    expected = -(soft * logp).sum(-1) - constant
    np.testing.assert_allclose(metrics.smoothed_cross_entropy(logits, targets, ls).numpy(), expected, rtol=1e-5)
    perfect = np.where(np.eye(vocab)[targets] > 0, 1 - ls, ls / (vocab - 1))
    assert metrics.smoothed_cross_entropy(np.log(perfect).astype("float32"), targets, ls).numpy().max() < 1e-4


def test_t2t_schedule_values():
    base = T2TSchedule("constant*linear_warmup*rsqrt_decay*rsqrt_hidden_size", 2.0, 8000, 512)
    for step in (0, 3999, 7999, 20000):
        s = step + 1
        expected = 2.0 * min(1.0, s / 8000) / math.sqrt(max(s, 8000)) / math.sqrt(512)
        assert float(base(step)) == pytest.approx(expected, rel=1e-5)
    assert float(base(7999)) == pytest.approx(9.88e-4, rel=1e-2)  # the peak T2T documents (~1e-3)
    tpu = T2TSchedule("rsqrt_decay", 1.0, 10000, 512)
    assert float(tpu(5)) == pytest.approx(0.01) and float(tpu(39999)) == pytest.approx(0.005)
    with pytest.raises(ValueError, match="learning_rate_schedule"):
        T2TSchedule("cosine", 1.0, 1, 1)


def test_optimizers_from_hparams():
    assert type(make_optimizer(registry.hparams("transformer_base"))) is FusedAdam
    assert type(make_optimizer(registry.hparams("lmx_base"))).__name__ == "Adafactor"
    hp = registry.hparams("transformer_base")
    hp.optimizer = "sgd"
    with pytest.raises(ValueError, match="optimizer"):
        make_optimizer(hp)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_fused_adam_takes_keras_adams_steps(jit_compile):
    """Five steps of `FusedAdam` (one fused kernel per variable) equal five of `keras.optimizers.Adam`
    from the same start, with a schedule, gradient clipping and a gradient that is IndexedSlices."""
    rng = np.random.default_rng(0)
    start = [rng.normal(size=s).astype(np.float32) for s in ((3, 4), (4,), (6, 2))]
    grads = [[rng.normal(size=w.shape).astype(np.float32) for w in start] for _ in range(5)]
    schedule = T2TSchedule("constant*linear_warmup", 0.1, 3, 8)
    results = []
    for make in (keras.optimizers.Adam, FusedAdam):
        variables = [keras.Variable(w) for w in start]
        optimizer = make(schedule, beta_1=0.85, beta_2=0.997, epsilon=1e-6, global_clipnorm=4.0)
        optimizer.build(variables)

        @tf.function(jit_compile=jit_compile)
        def apply(step_grads):
            sparse = tf.IndexedSlices(step_grads[2][1:], tf.constant([1, 2, 3, 4, 5]), tf.constant([6, 2]))
            optimizer.apply_gradients(zip([step_grads[0], step_grads[1], sparse], variables))

        for step_grads in grads:
            apply([tf.constant(g) for g in step_grads])
        results.append([v.numpy() for v in variables])
    for keras_adam, fused, first in zip(*results, start):
        assert not np.allclose(fused, first, atol=1e-3)  # the steps moved the weights
        np.testing.assert_allclose(fused, keras_adam, rtol=1e-5, atol=1e-6)


def test_fused_adam_refuses_amsgrad_naming_it():
    with pytest.raises(ValueError, match="amsgrad.*keras.optimizers.Adam"):
        FusedAdam(amsgrad=True)
    with pytest.raises(ValueError, match="amsgrad"):
        FusedAdam(0.1, 0.9, 0.999, 1e-7, True)  # Keras's positional order: amsgrad fifth


def test_a_checkpoint_of_keras_adam_restores_into_fused_adam(tmp_path):
    """Runs saved before `FusedAdam` (with `keras.optimizers.Adam`) resume with their slots."""
    weights = [keras.Variable(np.ones((3, 2), np.float32)), keras.Variable(np.ones(4, np.float32))]
    saved = keras.optimizers.Adam(0.1)
    saved.build(weights)
    saved.apply_gradients(zip([tf.fill((3, 2), 2.0), tf.fill((4,), -1.0)], weights))
    path = tf.train.Checkpoint(optimizer=saved, weights=weights).save(str(tmp_path / "ckpt"))
    fresh = [keras.Variable(np.zeros((3, 2), np.float32)), keras.Variable(np.zeros(4, np.float32))]
    restored = FusedAdam(0.1)
    restored.build(fresh)
    tf.train.Checkpoint(optimizer=restored, weights=fresh).restore(path).assert_consumed()
    assert int(restored.iterations) == 1
    for a, b in zip(saved.variables + weights, restored.variables + fresh):
        np.testing.assert_array_equal(b.numpy(), a.numpy())
