"""Dropout and uniform noise: keras.random's values outside XLA, ThreeFry under XLA, and dropout's
mask, scale and gradient checked against NumPy in both."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from sinkhorn_t2t import layers, ops


def _seeds(kind):
    """Two seeds that draw the same stream: ints, or two generators with one start."""
    return (11, 11) if kind == "int" else (keras.random.SeedGenerator(11), keras.random.SeedGenerator(11))


@pytest.mark.parametrize("kind", ["int", "generator"])
@pytest.mark.parametrize("rate", [0.1, 0.5])
def test_graph_values_are_keras_random_values(kind, rate):
    x = tf.random.stateless_normal([48, 40], [1, 2])
    ours_seed, keras_seed = _seeds(kind)

    @tf.function
    def both():
        return (ops.dropout(x, rate, seed=ours_seed), keras.random.dropout(x, rate, seed=keras_seed),
                ops.uniform([5, 7], seed=ours_seed), keras.random.uniform([5, 7], seed=keras_seed))

    for _ in range(2):  # the generators advance alike
        ours, theirs, ours_u, theirs_u = both()
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
        np.testing.assert_array_equal(ours_u.numpy(), theirs_u.numpy())


def test_xla_draws_threefry_deterministically_and_advances_generators():
    """XLA on CPU expands Philox (keras.random's choice) into slow code; ThreeFry is compiled."""
    x = tf.random.stateless_normal([64, 96], [3, 4])
    draw = tf.function(lambda x, seed: (ops.dropout(x, 0.3, seed=seed), ops.uniform([9, 4], seed=seed)),
                       jit_compile=True)
    hlo = draw.experimental_get_compiler_ir(x, 7)(stage="hlo")
    assert "rng_three_fry" in hlo and "rng_philox" not in hlo
    for a, b in zip(draw(x, 7), draw(x, 7)):  # the same seed, the same values
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    generator = keras.random.SeedGenerator(7)
    step = tf.function(lambda: ops.dropout(x, 0.3, seed=generator), jit_compile=True)
    first, second = step().numpy(), step().numpy()
    assert (first != second).mean() > 0.2  # the generator advanced: another mask


@pytest.mark.parametrize("jit_compile", [False, True])
def test_dropout_keeps_a_fraction_and_scales_it_with_its_gradient(jit_compile):
    rate = 0.25
    x = tf.constant(np.random.default_rng(0).uniform(1.0, 2.0, size=(400, 500)), tf.float32)  # never 0
    w = tf.constant(np.random.default_rng(1).normal(size=(400, 500)), tf.float32)

    @tf.function(jit_compile=jit_compile)
    def step():
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = ops.dropout(x, rate, seed=5)
            loss = tf.reduce_sum(out * w)
        return out, tape.gradient(loss, x)

    out, grad = (t.numpy() for t in step())
    kept = out != 0
    assert abs(kept.mean() - (1 - rate)) < 0.005  # 200,000 draws: 5 standard deviations is 0.005
    np.testing.assert_allclose(out[kept], x.numpy()[kept] / (1 - rate), rtol=1e-6)
    np.testing.assert_allclose(grad, np.where(kept, w.numpy() / (1 - rate), 0.0), rtol=1e-6)
    assert ops.dropout(x, 0.0, seed=5) is x


def test_dropout_layer_is_keras_dropout():
    x = tf.random.stateless_normal([6, 10, 8], [5, 6])
    for kwargs in ({}, {"noise_shape": (None, 1, None)}):
        ours, theirs = layers.Dropout(0.4, seed=3, **kwargs), keras.layers.Dropout(0.4, seed=3, **kwargs)
        for _ in range(2):
            np.testing.assert_array_equal(ours(x, training=True).numpy(), theirs(x, training=True).numpy())
        np.testing.assert_array_equal(ours(x, training=False).numpy(), x.numpy())
        assert [v.shape for v in ours.variables] == [v.shape for v in theirs.variables]
        restored = layers.Dropout.from_config(ours.get_config())
        assert type(restored) is layers.Dropout and restored.get_config() == ours.get_config()
