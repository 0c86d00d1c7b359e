"""One 2-D matmul for dense projections: the same numbers as NumPy and as `keras.layers.Dense`."""
import keras
import numpy as np

from sinkhorn_t2t import layers, ops


def test_flat_matmul_matches_numpy(rng):
    for shape in [(5, 3), (2, 7, 3), (2, 3, 4, 3)]:
        x = rng.normal(size=shape).astype("float32")
        kernel = rng.normal(size=(3, 6)).astype("float32")
        np.testing.assert_allclose(ops.flat_matmul(x, kernel).numpy(), np.einsum("...c,cn->...n", x, kernel),
                                   rtol=1e-5, atol=1e-5)


def test_flat_dense_equals_keras_dense_with_the_same_weights(rng):
    x = rng.normal(size=(2, 7, 5)).astype("float32")
    for activation, use_bias in [(None, True), ("relu", True), (None, False)]:
        flat = layers.FlatDense(4, activation=activation, use_bias=use_bias)
        dense = keras.layers.Dense(4, activation=activation, use_bias=use_bias)
        flat.build(x.shape), dense.build(x.shape)
        flat.set_weights([w + rng.normal(size=w.shape).astype("float32") for w in dense.get_weights()])
        dense.set_weights(flat.get_weights())
        expected = dense(x).numpy()
        assert np.abs(expected).max() > 0.1
        np.testing.assert_allclose(flat(x).numpy(), expected, rtol=1e-5, atol=1e-5)
