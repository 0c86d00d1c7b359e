import numpy as np
import pytest
import tensorflow as tf

from sinkhorn_t2t import ops
from tests import numpy_reference as ref


@pytest.mark.parametrize("n,batch", [(2, 1), (5, 2), (10, 10)])
def test_sinkhorn_is_doubly_stochastic(rng, n, batch):
    p = np.exp(ops.sinkhorn(rng.normal(size=(batch, n, n)).astype("float32"), 20).numpy())
    np.testing.assert_allclose(p.sum(-1), 1.0, atol=1e-3)
    np.testing.assert_allclose(p.sum(-2), 1.0, atol=1e-3)
    assert (p >= 0).all()


@pytest.mark.parametrize("n_iters", [0, 1, 3, 7])
def test_sinkhorn_matches_numpy(rng, n_iters):
    x = rng.normal(size=(3, 2, 6, 6)).astype("float32") * 2
    np.testing.assert_allclose(np.exp(ops.sinkhorn(x, n_iters).numpy()), ref.sinkhorn(x, n_iters), atol=1e-5)


def test_zero_noise_equals_plain_sinkhorn(rng):
    x = rng.normal(size=(4, 7, 7)).astype("float32")
    plain = ops.sinkhorn(x / 0.5, 10).numpy()
    no_noise = ops.gumbel_sinkhorn(x, 0.5, 10, noise=False).numpy()
    np.testing.assert_allclose(no_noise, plain, atol=1e-6)
    noisy = ops.gumbel_sinkhorn(x, 0.5, 10, noise=True, seed=3).numpy()
    assert np.abs(noisy - plain).max() > 1e-2


def test_very_high_temperature_tends_to_uniform(rng):
    x = rng.normal(size=(3, 6, 6)).astype("float32")
    p = np.exp(ops.gumbel_sinkhorn(x, 1e5, 20, noise=True, seed=1).numpy())
    np.testing.assert_allclose(p, 1.0 / 6, atol=1e-3)


def test_low_temperature_approaches_the_permutation(rng):
    true_perm = rng.permutation(6)
    x = np.full((6, 6), -3.0, np.float32)
    x[np.arange(6), true_perm] = 3.0
    p = np.exp(ops.gumbel_sinkhorn(x, 0.05, 50, noise=False).numpy())
    np.testing.assert_array_equal(p.argmax(-1), true_perm)
    assert p.max(-1).min() > 0.99


def test_masked_rows_and_columns_are_zero_not_nan(rng):
    x = rng.normal(size=(2, 5, 5)).astype("float32")
    mask = np.ones((2, 5, 5), bool)
    mask[:, 3, :] = False  # an empty row
    mask[:, :, 1] = False  # an empty column
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        log_p = ops.sinkhorn(xt, 20, mask=mask)
        loss = tf.reduce_sum(tf.exp(log_p) * tf.random.normal([2, 5, 5], seed=0))
    p = np.exp(log_p.numpy())
    grad = tape.gradient(loss, xt).numpy()
    assert np.isfinite(p).all() and np.isfinite(grad).all()
    np.testing.assert_array_equal(p[~mask], 0.0)
    np.testing.assert_array_equal(log_p.numpy()[~mask], ops.MASKED_LOG_VALUE)  # the documented log value
    allowed_rows = [0, 1, 2, 4]
    np.testing.assert_allclose(p[:, allowed_rows].sum(-1), 1.0, atol=1e-3)


def test_gradients_are_finite_and_nonzero(rng):
    x = tf.constant(rng.normal(size=(2, 3, 8, 8)).astype("float32"))
    weights = tf.constant(rng.normal(size=(8, 8)).astype("float32"))
    for causal in (False, True):
        with tf.GradientTape() as tape:
            tape.watch(x)
            p = tf.exp(ops.gumbel_sinkhorn(x, 0.75, 5, noise=True, causal=causal, seed=2))
            loss = tf.reduce_sum(p * weights)
        g = tape.gradient(loss, x).numpy()
        assert np.isfinite(g).all() and np.abs(g).max() > 0


def test_causal_sinkhorn_matches_numpy_and_rows_are_convex(rng):
    x = rng.normal(size=(2, 6, 6)).astype("float32")
    for n_iters in (1, 2, 5):
        log_p = ops.sinkhorn(x, n_iters, causal=True).numpy()
        np.testing.assert_array_equal(log_p[:, np.triu(np.ones((6, 6), bool))], ops.MASKED_LOG_VALUE)
        p = np.exp(log_p)
        for b in range(2):
            np.testing.assert_allclose(p[b], ref.causal_sinkhorn(x[b], n_iters), atol=1e-5)
        np.testing.assert_array_equal(p[:, np.triu(np.ones((6, 6), bool))], 0.0)  # only j < i
        np.testing.assert_allclose(p[:, 0].sum(-1), 0.0)
        np.testing.assert_allclose(p[:, 1:].sum(-1), 1.0, atol=1e-5)


def test_causal_sinkhorn_row_depends_only_on_earlier_rows(rng):
    x = rng.normal(size=(1, 8, 8)).astype("float32")
    base = ops.sinkhorn(x, 10, causal=True).numpy()
    for t in range(7):
        y = x.copy()
        y[:, t + 1:] = rng.normal(size=y[:, t + 1:].shape) * 5
        changed = ops.sinkhorn(y, 10, causal=True).numpy()
        np.testing.assert_array_equal(changed[:, :t + 1], base[:, :t + 1])


@pytest.mark.parametrize("bad", [-1, 2.5, True])
def test_invalid_iterations_are_rejected(bad):
    with pytest.raises(ValueError, match="n_iters"):
        ops.sinkhorn(np.zeros((2, 2), np.float32), bad)


@pytest.mark.parametrize("bad", [0.0, -0.5])
def test_invalid_temperature_is_rejected(bad):
    with pytest.raises(ValueError, match="temperature"):
        ops.gumbel_sinkhorn(np.zeros((2, 2), np.float32), bad, 3)


@pytest.mark.parametrize("n_iters", [0, 1, 5])
def test_causal_sinkhorn_row_by_row_equals_the_whole_matrix(rng, n_iters):
    """Decoding builds the causal sorting matrix one row at a time from running column sums."""
    logits = rng.normal(size=(2, 3, 7, 7)).astype("float32") * 2
    whole = np.exp(ops.sinkhorn(logits, n_iters, causal=True).numpy())
    state = np.full((2, 3, max(n_iters, 1), 7), ops.MASKED_LOG_VALUE, np.float32)
    for i in range(7):
        row, state = ops.causal_sinkhorn_row(logits[:, :, i], i, state, n_iters)
        np.testing.assert_allclose(np.exp(row.numpy()), whole[:, :, i], atol=1e-5)
    np.testing.assert_allclose(whole[..., 1:, :].sum(-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("n", [1, 2, 5, 8, 13])
def test_running_logsumexp_is_a_cumulative_logsumexp(rng, n):
    """Against NumPy in float64, with entries 1e3 apart (exp would overflow / underflow) and
    masked entries, along either axis."""
    x = rng.normal(size=(2, n, 3)) * 300
    x[0, :, 0] = ops.MASKED_LOG_VALUE
    x[1, n // 2:, 1] += 1000.0
    expected = np.logaddexp.accumulate(x, axis=1)
    got = ops.running_logsumexp(tf.constant(x, tf.float32), axis=1).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-3)
    np.testing.assert_allclose(ops.running_logsumexp(tf.constant(x.transpose(0, 2, 1), tf.float32), axis=-1).numpy(),
                               expected.transpose(0, 2, 1), rtol=1e-6, atol=1e-3)
    # The gradient against NumPy's float64 d/dx[r] of sum_i w[i] y[i] = sum_{i >= r} w[i] exp(x[r] - y[i]).
    tx, weights = tf.constant(x, tf.float32), rng.normal(size=x.shape)
    with tf.GradientTape() as tape:
        tape.watch(tx)
        loss = tf.reduce_sum(tf.constant(weights, tf.float32) * ops.running_logsumexp(tx, axis=1))
    later = np.arange(n)[None, :] >= np.arange(n)[:, None]  # [r, i]: i >= r
    # [b, r, i, c]; for i >= r, x[r] <= y[i] (the clip only keeps unused i < r terms finite)
    terms = np.exp(np.minimum(x[:, :, None, :] - expected[:, None, :, :], 0)) * weights[:, None, :, :]
    grads = [tape.gradient(loss, tx).numpy(), (terms * later[None, :, :, None]).sum(2)]
    real = x > ops.MASKED_LOG_VALUE / 2  # a column of masked entries is excluded from balancing anyway
    np.testing.assert_allclose(grads[0][real], grads[1][real], atol=1e-4)


def test_running_logsumexp_gradient_matches_the_softmax_of_the_prefix(rng):
    """d running[i] / d x[r] = exp(x[r] - running[i]) for r <= i (0 after), ties included."""
    x = np.array([0.5, 0.5, -1.0, 2.0, 2.0, 0.0], np.float64)
    tx = tf.constant(x[:, None], tf.float32)
    for i in range(len(x)):
        with tf.GradientTape() as tape:
            tape.watch(tx)
            out = ops.running_logsumexp(tx, axis=0)[i, 0]
        grad = tape.gradient(out, tx).numpy()[:, 0]
        prefix = np.logaddexp.reduce(x[:i + 1])
        expected = np.where(np.arange(len(x)) <= i, np.exp(x - prefix), 0.0)
        np.testing.assert_allclose(grad, expected, atol=1e-6)
