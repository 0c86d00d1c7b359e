"""Incremental decoding of every causal layer: `decode_step` one position at a time equals the full
causal pass, for lengths crossing several block boundaries and ending in a partial block."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.layers.layer_cases import BLOCK, CAUSAL_CAPABLE, FACTORIES

BATCH, LENGTH, DIM = 2, 18, 8  # 4 full blocks of 4 and a partial one


def _step_by_step(layer, x):
    cache = layer.init_cache(BATCH, LENGTH)
    outputs = []
    for t in range(x.shape[1]):
        y, cache = layer.decode_step(tf.constant(x[:, t:t + 1]), cache, tf.constant(t))
        outputs.append(np.asarray(tf.cast(y, tf.float32)))
    return np.concatenate(outputs, axis=1)


@pytest.mark.parametrize("name", CAUSAL_CAPABLE)
def test_decode_step_equals_the_full_causal_pass(rng, name):
    x = rng.normal(size=(BATCH, LENGTH, DIM)).astype("float32")
    layer = FACTORIES[name](True)
    full = layer(x, training=False).numpy()
    np.testing.assert_allclose(_step_by_step(layer, x), full, atol=1e-4)


@pytest.mark.parametrize("name", ["dense", "local", "sinkhorn", "sinkhorn_mixture", "sinkhorn_sum_scores"])
def test_decode_step_under_mixed_bfloat16(rng, name):
    x = rng.normal(size=(BATCH, LENGTH, DIM)).astype("float32")
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        layer = FACTORIES[name](True)
        full = np.asarray(tf.cast(layer(x, training=False), tf.float32))
        incremental = _step_by_step(layer, x)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    np.testing.assert_allclose(incremental, full, atol=1e-2 * max(1.0, np.abs(full).max()))


@pytest.mark.parametrize("name", ["sinkhorn", "sinkhorn_sum_outputs", "local", "dense", "sparse_fixed"])
def test_decode_step_compiles_with_xla_inside_a_while_loop(rng, name):
    x = rng.normal(size=(BATCH, LENGTH, DIM)).astype("float32")
    layer = FACTORIES[name](True)
    full = layer(x, training=False).numpy()

    @tf.function(jit_compile=True)
    def decode(x):
        def body(t, cache, outputs):
            y, cache = layer.decode_step(tf.gather(x, [t], axis=1), cache, t)
            return t + 1, cache, outputs.write(t, y[:, 0])

        _, _, outputs = tf.while_loop(lambda t, *_: t < LENGTH, body,
                                      (tf.constant(0), layer.init_cache(BATCH, LENGTH),
                                       tf.TensorArray(tf.float32, size=LENGTH)))
        return tf.transpose(outputs.stack(), (1, 0, 2))

    np.testing.assert_allclose(decode(tf.constant(x)).numpy(), full, atol=1e-4)


def test_the_sorted_block_is_computed_once_per_block(rng):
    x = rng.normal(size=(BATCH, LENGTH, DIM)).astype("float32")
    layer = FACTORIES["sinkhorn"](True)
    layer(x)
    cache = layer.init_cache(BATCH, LENGTH)
    previous = cache["sorted_key"].numpy()
    for t in range(LENGTH):
        _, cache = layer.decode_step(tf.constant(x[:, t:t + 1]), cache, tf.constant(t))
        changed = not np.array_equal(cache["sorted_key"].numpy(), previous)
        assert changed == (t % BLOCK == 0 and t > 0), t  # block 0 sorts nothing
        previous = cache["sorted_key"].numpy()


@pytest.mark.parametrize("name", ["sortcut", "sinkhorn", "dense"])
def test_non_causal_layers_cannot_decode_incrementally(rng, name):
    layer = FACTORIES[name](False)
    layer(rng.normal(size=(1, 8, DIM)).astype("float32"))
    with pytest.raises(ValueError, match="causal=True"):
        layer.init_cache(1, 8)
