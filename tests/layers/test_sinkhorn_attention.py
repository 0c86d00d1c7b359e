"""Sinkhorn / SortCut layers against a NumPy recomputation from their own weights."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from sinkhorn_t2t.layers import (DenseAttention, LocalAttention, SinkhornAttention, SortCutAttention,
                                 SparseFixedAttention)
from tests.layers.layer_reference import numpy_forward

B, L, D, H, K, BS = 2, 14, 6, 2, 3, 4  # L=14 pads to 16 inside the layers: 4 blocks


def _inputs(rng):
    x = rng.normal(size=(B, L, D)).astype("float32")
    mask = np.ones((B, L), bool)
    mask[1, 10:] = False  # example 1 has 10 real tokens: its third block is partly padding
    return x, mask


@pytest.mark.parametrize("iters", [4, 0])
@pytest.mark.parametrize("causal,mixture,share_kv", [(False, False, False), (True, False, False),
                                                     (False, True, True), (True, True, False)])
def test_sinkhorn_layer_matches_numpy(rng, causal, mixture, share_kv, iters):
    x, mask = _inputs(rng)
    layer = SinkhornAttention(H, K, BS, sinkhorn_iters=iters, temperature=0.5, causal=causal, mixture=mixture,
                              share_kv=share_kv)
    y = layer(x, mask=mask).numpy()
    np.testing.assert_allclose(y[mask], numpy_forward(layer, x, mask)[mask], atol=1e-4)


@pytest.mark.parametrize("budget", [1, 3])
def test_sortcut_layer_matches_numpy(rng, budget):
    x, mask = _inputs(rng)
    layer = SortCutAttention(H, K, BS, budget=budget, sinkhorn_iters=6)
    y = layer(x, mask=mask).numpy()
    np.testing.assert_allclose(y[mask], numpy_forward(layer, x, mask)[mask], atol=1e-4)


def test_gumbel_noise_only_in_training(rng):
    x, mask = _inputs(rng)
    layer = SinkhornAttention(H, K, BS, seed=3)
    layer(x, mask=mask, training=True)
    expected = numpy_forward(layer, x, mask)  # noise-free, computed independently
    for training in (None, False):
        np.testing.assert_allclose(layer(x, mask=mask, training=training).numpy()[mask], expected[mask], atol=1e-4)
    noisy = layer(x, mask=mask, training=True).numpy()
    assert np.abs(noisy - layer(x, mask=mask, training=True).numpy()).max() > 1e-4
    assert np.abs(noisy[mask] - expected[mask]).max() > 1e-4
    quiet = SinkhornAttention(H, K, BS, gumbel_noise=False)
    quiet(x, mask=mask)
    np.testing.assert_allclose(quiet(x, mask=mask, training=True).numpy()[mask], numpy_forward(quiet, x, mask)[mask],
                               atol=1e-4)


@pytest.mark.parametrize("causal", [False, True])
def test_no_balancing_is_finite_for_large_inputs(rng, causal):
    """N_k = 0 (Table 8): rows normalised once, finite outputs and gradients at input norm 100."""
    x = rng.normal(size=(2, 64, 16)).astype("float32")
    x = 100.0 * x / np.linalg.norm(x, axis=-1, keepdims=True)
    layer = SinkhornAttention(4, 4, 8, sinkhorn_iters=0, temperature=0.25, causal=causal, sort_variant="mlp", seed=1)
    layer(x)
    perm = layer.sorting_matrix(tf.constant(x), None, training=True).numpy()
    assert np.isfinite(perm).all()
    np.testing.assert_allclose(perm.sum(-1)[..., 1 if causal else 0:], 1.0, atol=1e-4)  # rows are convex weights
    for training in (False, True):
        with tf.GradientTape() as tape:
            y = layer(x, training=training)
            loss = tf.reduce_sum(tf.square(y))
        grads = tape.gradient(loss, layer.trainable_variables)
        assert np.isfinite(y.numpy()).all() and np.abs(y.numpy()).max() > 0
        assert all(g is not None and np.isfinite(g.numpy()).all() for g in grads)


@pytest.mark.parametrize("variant", ["linear", "mlp", "linear_relu", "mlp_relu"])
@pytest.mark.parametrize("causal,iters", [(False, 5), (True, 5), (True, 0)])
def test_every_sort_net_weight_learns(rng, causal, iters, variant):
    """No weight that balancing cancels: the causal column bias is dropped where it would get no
    gradient (causal balancing divides by running column sums), kept where it matters."""
    keras.utils.set_random_seed(0)
    x = rng.normal(size=(2, 32, D)).astype("float32")
    layer = SinkhornAttention(H, K, BS, causal=causal, sinkhorn_iters=iters, sort_variant=variant, gumbel_noise=False)
    layer(x)
    cancelled = causal and iters > 0 and not variant.endswith("relu")
    assert (layer.sort_net.output_bias is None) == cancelled
    weights = rng.normal(size=(2, H, 8, 8)).astype("float32")
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer.sorting_matrix(tf.constant(x), None, training=True) * weights)
    variables = layer.sort_net.trainable_variables
    grads = dict(zip([v.path.split("/")[-1] for v in variables], tape.gradient(loss, variables)))
    scale = np.abs(grads["output_kernel"].numpy()).max()
    for name, grad in grads.items():  # a cancelled weight's gradient is float noise, ~1e-7 of the kernel's
        assert grad is not None and np.abs(grad.numpy()).max() > 1e-4 * scale, name


@pytest.mark.parametrize("make", [lambda: SinkhornAttention(H, K, BS), lambda: SinkhornAttention(H, K, BS, causal=True),
                                  lambda: SortCutAttention(H, K, BS, budget=2)])
def test_gradients_reach_the_sort_net(rng, make):
    x, mask = _inputs(rng)
    layer = make()
    layer(x, mask=mask)
    assert {v.path.split("/")[-2] for v in layer.sort_net.trainable_variables} == {"sort_net"}
    target = rng.normal(size=(B, L, D)).astype("float32")
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(layer(x, mask=mask, training=True) - target))
    # The column bias cancels in column normalisation, so the kernel is what must learn.
    grad = tape.gradient(loss, layer.sort_net.output_kernel)
    assert grad is not None and np.abs(grad.numpy()).max() > 1e-6


def test_padding_blocks_only_match_padding_blocks(rng):
    x = rng.normal(size=(1, 16, D)).astype("float32")
    mask = np.zeros((1, 16), bool)
    mask[0, :6] = True  # blocks 0, 1 real; blocks 2, 3 all padding
    layer = SinkhornAttention(H, K, BS)
    layer(x, mask=mask)
    perm = layer.sorting_matrix(x, mask, training=True).numpy()
    np.testing.assert_array_equal(perm[..., :2, 2:], 0.0)
    np.testing.assert_array_equal(perm[..., 2:, :2], 0.0)
    np.testing.assert_allclose(perm[..., :2, :2].sum(-2), 1.0, atol=1e-5)  # balanced within the real blocks


def test_max_length_fixes_the_sort_net_width(rng):
    layer = SinkhornAttention(H, K, BS, max_length=32)
    short = rng.normal(size=(1, 9, D)).astype("float32")
    assert layer(short).shape == (1, 9, D)
    assert layer.sort_net.num_blocks == 8
    assert layer(rng.normal(size=(1, 32, D)).astype("float32")).shape == (1, 32, D)
    with pytest.raises(ValueError, match="max_length"):
        layer(rng.normal(size=(1, 33, D)).astype("float32"))


def test_share_kv_has_no_value_projection(rng):
    layer = SinkhornAttention(H, K, BS, share_kv=True)
    layer(rng.normal(size=(1, 8, D)).astype("float32"))
    assert not any("/value/" in v.path for v in layer.weights)


@pytest.mark.parametrize("make,name", [
    (lambda: SinkhornAttention(H, K, 0), "block_size"),
    (lambda: SinkhornAttention(H, K, BS, temperature=0.0), "temperature"),
    (lambda: SinkhornAttention(H, K, BS, sinkhorn_iters=-1), "sinkhorn_iters"),
    (lambda: SinkhornAttention(H, K, BS, combine="mean"), "combine"),
    (lambda: SinkhornAttention(H, K, BS, sort_variant="deep"), "variant"),
    (lambda: SinkhornAttention(H, K, BS, dropout=1.0), "dropout"),
    (lambda: SinkhornAttention(0, K, BS), "num_heads"),
    (lambda: SinkhornAttention(H, 0, BS), "key_dim"),
    (lambda: SinkhornAttention(H, K, BS, max_length=0), "max_length"),
    (lambda: SortCutAttention(H, K, BS, budget=0), "budget"),
    (lambda: SortCutAttention(H, K, BS, budget=5, max_length=16), "budget"),
    (lambda: SortCutAttention(H, K, BS, budget=2, causal=True), "causal"),
    (lambda: LocalAttention(H, K, -2), "block_size"),
    (lambda: LocalAttention(H, K, 4, num_memory_blocks=-1), "num_memory_blocks"),
    (lambda: SparseFixedAttention(H, K, 4, 0), "stride"),
    (lambda: SparseFixedAttention(H, K, 4, 8), "stride"),
    (lambda: DenseAttention(H, K, dropout=-0.1), "dropout"),
])
def test_invalid_arguments_name_the_argument(make, name):
    with pytest.raises(ValueError, match=name):
        make()


def test_sortcut_budget_larger_than_the_input_is_an_error(rng):
    layer = SortCutAttention(H, K, BS, budget=3)
    with pytest.raises(ValueError, match="budget"):
        layer(rng.normal(size=(1, 8, D)).astype("float32"))
