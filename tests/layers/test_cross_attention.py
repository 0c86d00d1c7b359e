"""CrossAttention == keras.layers.MultiHeadAttention with the same weights and seed state."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from sinkhorn_t2t.layers import CrossAttention

B, T, S, DIM, HEADS = 2, 5, 7, 12, 3


def _pair(rng, dropout=0.0, seed=3):
    """A built CrossAttention and a keras MultiHeadAttention holding its weights (and, as both
    start from the same seed, the same dropout seed state); inputs and a mask."""
    query = rng.normal(size=(B, T, DIM)).astype("float32")
    value = rng.normal(size=(B, S, DIM)).astype("float32")
    mask = np.ones((B, T, S), bool)
    mask[0, :, 4:] = False  # padded keys
    mask[1, 2, :3] = False
    kwargs = dict(num_heads=HEADS, key_dim=4, value_dim=5, dropout=dropout, seed=seed)
    ours, keras_mha = CrossAttention(**kwargs), keras.layers.MultiHeadAttention(**kwargs)
    ours(query, value, attention_mask=mask)
    keras_mha(query, value, attention_mask=mask)
    keras_mha.set_weights([rng.normal(scale=0.3, size=w.shape).astype("float32") for w in keras_mha.get_weights()])
    ours.set_weights(keras_mha.get_weights())
    return ours, keras_mha, query, value, mask


def test_same_weights_as_keras():
    ours, keras_mha, *_ = _pair(np.random.default_rng(0))
    assert [w.path.split("/", 1)[1] for w in ours.weights] == [w.path.split("/", 1)[1] for w in keras_mha.weights]
    assert [w.shape for w in ours.weights] == [w.shape for w in keras_mha.weights]


@pytest.mark.parametrize("training", [False, True])
def test_outputs_and_gradients_equal_keras(rng, training):
    """Same outputs and input gradients as Keras's layer; in training mode with the same dropout
    masks (same seed state), so dropout is applied to the same attention weights."""
    ours, keras_mha, query, value, mask = _pair(rng, dropout=0.3)
    results = []
    for layer in (ours, keras_mha):
        q, v = tf.constant(query), tf.constant(value)
        with tf.GradientTape() as tape:
            tape.watch([q, v])
            out = layer(q, v, attention_mask=mask, training=training)
            loss = tf.reduce_sum(out * np.arange(out.shape[-1], dtype="float32"))
        results.append((out.numpy(), *[g.numpy() for g in tape.gradient(loss, [q, v])]))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    assert np.abs(results[0][0]).min() > 0  # something was computed
    if training:  # dropout on: differs from inference, and the seed state moved on
        inference = ours(query, value, attention_mask=mask).numpy()
        assert np.abs(inference - results[0][0]).max() > 1e-3
        again = ours(query, value, attention_mask=mask, training=True).numpy()
        assert np.abs(again - results[0][0]).max() > 1e-3


def test_masked_keys_never_reach_the_output(rng):
    ours, _, query, value, mask = _pair(rng)
    changed = value.copy()
    changed[0, 4:] += 10.0
    np.testing.assert_allclose(ours(query, changed, attention_mask=mask).numpy()[0],
                               ours(query, value, attention_mask=mask).numpy()[0], atol=1e-6)


def test_xla_equals_graph_in_inference(rng):
    ours, _, query, value, mask = _pair(rng, dropout=0.3)
    graph = tf.function(lambda q, v: ours(q, v, attention_mask=mask))(query, value)
    xla = tf.function(lambda q, v: ours(q, v, attention_mask=mask), jit_compile=True)(query, value)
    np.testing.assert_allclose(xla.numpy(), graph.numpy(), rtol=1e-5, atol=1e-5)


def test_a_query_with_no_allowed_key_gets_zeros_before_the_output_projection(rng):
    ours, _, query, value, mask = _pair(rng)
    mask[1, 3] = False
    out = ours(query, value, attention_mask=mask).numpy()
    np.testing.assert_allclose(out[1, 3], ours.get_weights()[-1], atol=1e-6)  # output bias alone
