"""Sinkhorn / SortCut layers against a NumPy recomputation from their own weights."""
import numpy as np
import pytest
import tensorflow as tf

from sinkhorn_t2t.layers import (DenseAttention, LocalAttention, SinkhornAttention, SortCutAttention,
                                 SparseFixedAttention)
from tests import numpy_reference as ref

B, L, D, H, K, BS = 2, 14, 6, 2, 3, 4  # L=14 pads to 16 inside the layers: 4 blocks


def _inputs(rng):
    x = rng.normal(size=(B, L, D)).astype("float32")
    mask = np.ones((B, L), bool)
    mask[1, 10:] = False  # example 1 has 10 real tokens: its third block is partly padding
    return x, mask


def _numpy_forward(layer, x, mask, causal=False, mixture=False, budget=None):
    """Recomputes the layer in NumPy: pad, project, SortNet (linear), Sinkhorn, attention, output."""
    pad = (-x.shape[1]) % BS
    xp = np.pad(x, [(0, 0), (0, pad), (0, 0)])
    mp = np.pad(mask, [(0, 0), (0, pad)])

    def project(dense):
        return np.einsum("bld,dhk->bhlk", xp, dense.kernel.numpy()) + dense.bias.numpy()[None, :, None, :]

    q, k = project(layer._query_dense), project(layer._key_dense)
    v = k if layer.share_kv else project(layer._value_dense)
    nb = xp.shape[1] // BS
    tokens = xp * mp[..., None]
    if causal:
        summary = np.stack([tokens[:, :i * BS + 1].sum(1) for i in range(nb)], 1)  # eq. 5
    else:
        summary = tokens.reshape(B, nb, BS, D).sum(2)  # eq. 2
    net = layer.sort_net
    logits = np.einsum("bnd,hdm->bhnm", summary, net.output_kernel.numpy()[:, :, :nb])
    logits = (logits + net.output_bias.numpy()[None, :, None, :nb]) / layer.temperature
    real_block = mp.reshape(B, nb, BS).any(-1)
    perm = np.zeros_like(logits)
    for b in range(B):
        match = real_block[b][:, None] == real_block[b][None, :]  # padding blocks match padding blocks
        for h in range(H):
            if causal:
                perm[b, h] = ref.causal_sinkhorn(logits[b, h], layer.sinkhorn_iters) * match
            else:
                perm[b, h] = ref.sinkhorn(logits[b, h], layer.sinkhorn_iters, mask=match)
    if budget is None:
        out = ref.sinkhorn_block_attention(q, k, v, perm, BS, causal=causal, key_mask=mp)
    else:
        out = ref.sortcut_attention(q, k, v, perm, BS, budget, key_mask=mp)
    if mixture:
        out = out + ref.masked_attention(q, k, v, lambda i, j: j <= i or not causal, mp)
    dense = layer._output_dense
    y = np.einsum("bhlk,hkd->bld", out, dense.kernel.numpy()) + dense.bias.numpy()
    return y[:, :x.shape[1]]


@pytest.mark.parametrize("causal,mixture,share_kv", [(False, False, False), (True, False, False),
                                                     (False, True, True), (True, True, False)])
def test_sinkhorn_layer_matches_numpy(rng, causal, mixture, share_kv):
    x, mask = _inputs(rng)
    layer = SinkhornAttention(H, K, BS, sinkhorn_iters=4, temperature=0.5, causal=causal, mixture=mixture,
                              share_kv=share_kv)
    y = layer(x, mask=mask).numpy()
    expected = _numpy_forward(layer, x, mask, causal=causal, mixture=mixture)
    np.testing.assert_allclose(y[mask], expected[mask], atol=1e-4)


@pytest.mark.parametrize("budget", [1, 3])
def test_sortcut_layer_matches_numpy(rng, budget):
    x, mask = _inputs(rng)
    layer = SortCutAttention(H, K, BS, budget=budget, sinkhorn_iters=6)
    y = layer(x, mask=mask).numpy()
    np.testing.assert_allclose(y[mask], _numpy_forward(layer, x, mask, budget=budget)[mask], atol=1e-4)


def test_gumbel_noise_only_in_training(rng):
    x, mask = _inputs(rng)
    layer = SinkhornAttention(H, K, BS, seed=3)
    np.testing.assert_array_equal(layer(x, mask=mask).numpy(), layer(x, mask=mask, training=False).numpy())
    assert np.abs(layer(x, training=True).numpy() - layer(x, training=True).numpy()).max() > 1e-4
    quiet = SinkhornAttention(H, K, BS, gumbel_noise=False)
    np.testing.assert_array_equal(quiet(x, training=True).numpy(), quiet(x, training=False).numpy())


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
