import numpy as np
import pytest
import tensorflow as tf

from sinkhorn_t2t import ops
from tests import numpy_reference as ref

B, H, L, D, BS = 2, 2, 16, 4, 4
NB = L // BS


def _qkv(rng):
    return [rng.normal(size=(B, H, L, D)).astype("float32") for _ in range(3)]


def _perm(rng, kind):
    if kind == "hard":
        order = rng.permuted(np.tile(np.arange(NB), (B, H, 1)), axis=-1)
        return np.eye(NB, dtype="float32")[order]
    return np.exp(ops.sinkhorn(rng.normal(size=(B, H, NB, NB)).astype("float32") * 2, 3).numpy())


def _key_mask(rng):
    mask = rng.random(size=(B, L)) > 0.3
    mask[1, 9:] = False  # trailing padding, two whole padding blocks in example 1
    return mask


@pytest.mark.parametrize("combine", ops.COMBINE_MODES)
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("with_mask", [False, True])
@pytest.mark.parametrize("kind", ["hard", "soft"])
def test_sinkhorn_block_attention_matches_numpy(rng, combine, causal, with_mask, kind):
    q, k, v = _qkv(rng)
    perm = _perm(rng, kind)
    key_mask = _key_mask(rng) if with_mask else None
    out = ops.sinkhorn_block_attention(q, k, v, perm, BS, causal=causal, key_mask=key_mask, combine=combine)
    expected = ref.sinkhorn_block_attention(q, k, v, perm, BS, causal=causal, key_mask=key_mask, combine=combine)
    np.testing.assert_allclose(out.numpy(), expected, atol=2e-5)


def test_values_are_sorted_values_not_keys(rng):
    q, k, v = _qkv(rng)
    perm = _perm(rng, "hard")
    out = ops.sinkhorn_block_attention(q, k, v, perm, BS).numpy()
    keys_as_values = ref.sinkhorn_block_attention(q, k, k, perm, BS)
    assert np.abs(out - keys_as_values).max() > 0.1


def test_the_permutation_matters(rng):
    q, k, v = _qkv(rng)
    out_a = ops.sinkhorn_block_attention(q, k, v, _perm(rng, "hard"), BS).numpy()
    out_b = ops.sinkhorn_block_attention(q, k, v, _perm(rng, "hard"), BS).numpy()
    assert np.abs(out_a - out_b).max() > 0.1


def test_one_block_equals_dense_attention(rng):
    q, k, v = _qkv(rng)
    perm = np.ones((B, H, 1, 1), np.float32)
    out = ops.sinkhorn_block_attention(q, k, v, perm, L).numpy()
    dense = ref.masked_attention(q, k, v, lambda i, j: True)
    np.testing.assert_allclose(out, dense, atol=2e-5)
    np.testing.assert_allclose(ops.dense_attention(q, k, v).numpy(), dense, atol=2e-5)


@pytest.mark.parametrize("combine", ops.COMBINE_MODES)
def test_causal_block_attention_ignores_the_future(rng, combine):
    """Future tokens change q, k, v *and* the sorting logits of later blocks (a causal SortNet row
    i sees tokens up to block i's first token); balancing and attention must keep the past."""
    q, k, v = _qkv(rng)
    logits = rng.normal(size=(B, H, NB, NB)).astype("float32") * 2

    def run(q, k, v, logits):
        perm = np.exp(ops.sinkhorn(logits, 5, causal=True).numpy())
        return ops.sinkhorn_block_attention(q, k, v, perm, BS, causal=True, combine=combine).numpy()

    base = run(q, k, v, logits)
    for t in range(L - 1):
        q2, k2, v2, logits2 = q.copy(), k.copy(), v.copy(), logits.copy()
        for x in (q2, k2, v2):
            x[:, :, t + 1:] += rng.normal(size=x[:, :, t + 1:].shape) * 3
        logits2[:, :, t // BS + 1:] += rng.normal(size=logits2[:, :, t // BS + 1:].shape) * 3
        np.testing.assert_allclose(run(q2, k2, v2, logits2)[:, :, :t + 1], base[:, :, :t + 1], atol=1e-5)


def test_causal_sum_scores_first_block_is_causal_local_attention(rng):
    """Block 0 has no sorted part: under sum_scores it attends to its causal local keys alone."""
    q, k, v = _qkv(rng)
    out = ops.sinkhorn_block_attention(q, k, v, _perm(rng, "soft"), BS, causal=True, combine="sum_scores").numpy()
    expected = ref.masked_attention(q, k, v, lambda i, j: j <= i and j // BS == i // BS)
    np.testing.assert_allclose(out[:, :, :BS], expected[:, :, :BS], atol=2e-5)
    assert np.abs(out[:, :, :BS]).max() > 0.1


# Hand-computed cases: 3 blocks of 2 tokens, head dim 1, q = ln 3 everywhere, keys in {0, 1}, so
# key weights are powers of 3. Non-causal perm: output block 0 <- block 2, 1 <- 0, 2 <- 1; causal
# perm: 1 <- 0, 2 <- 1 (row 0 empty). Expected outputs per token, worked out by hand, e.g.
# concat block 0: local (k 1, 0; v 1, 2) and sorted block 2 (k 1, 1; v 5, 6): weights 3, 1, 3, 3,
# (3*1 + 1*2 + 3*5 + 3*6) / 10 = 3.8.
HAND_K = [1, 0, 0, 1, 1, 1]
HAND_V = [1, 2, 3, 4, 5, 6]
HAND_PERM = {False: [[0, 0, 1], [1, 0, 0], [0, 1, 0]], True: [[0, 0, 0], [1, 0, 0], [0, 1, 0]]}
HAND_EXPECTED = {
    ("concat", False): [3.8, 3.8, 2.5, 2.5, 4.8, 4.8],
    ("sum_scores", False): [5.25, 5.25, 1.5, 1.5, 3.75, 3.75],
    ("sum_outputs", False): [6.75, 6.75, 5.0, 5.0, 9.25, 9.25],
    ("concat", True): [1.0, 1.25, 1.6, 2.5, 30 / 7, 4.8],
    ("sum_scores", True): [1.0, 1.25, 1.0, 1.5, 3.0, 3.75],
    ("sum_outputs", True): [1.0, 1.25, 4.25, 5.0, 8.75, 9.25],
}


@pytest.mark.parametrize("combine,causal", sorted(HAND_EXPECTED))
def test_hand_computed_block_attention(combine, causal):
    q = np.full((1, 1, 6, 1), np.log(3.0), np.float32)
    k = np.array(HAND_K, np.float32).reshape(1, 1, 6, 1)
    v = np.array(HAND_V, np.float32).reshape(1, 1, 6, 1)
    perm = np.array(HAND_PERM[causal], np.float32)[None, None]
    out = ops.sinkhorn_block_attention(q, k, v, perm, 2, causal=causal, combine=combine).numpy()
    np.testing.assert_allclose(out[0, 0, :, 0], HAND_EXPECTED[combine, causal], atol=1e-5)
    np.testing.assert_allclose(ref.sinkhorn_block_attention(q, k, v, perm, 2, causal=causal, combine=combine)[0, 0, :, 0],
                               HAND_EXPECTED[combine, causal], atol=1e-5)


def test_hand_computed_sortcut():
    """Budget 1 under the non-causal perm: every query sees block 2 (k 1, 1; v 5, 6): 5.5.
    Budget 2 adds block 0 (k 1, 0; v 1, 2): weights 3, 3, 3, 1, (15 + 18 + 3 + 2) / 10 = 3.8."""
    q = np.full((1, 1, 6, 1), np.log(3.0), np.float32)
    k = np.array(HAND_K, np.float32).reshape(1, 1, 6, 1)
    v = np.array(HAND_V, np.float32).reshape(1, 1, 6, 1)
    perm = np.array(HAND_PERM[False], np.float32)[None, None]
    np.testing.assert_allclose(ops.sortcut_attention(q, k, v, perm, 2, 1).numpy().ravel(), [5.5] * 6, atol=1e-5)
    np.testing.assert_allclose(ops.sortcut_attention(q, k, v, perm, 2, 2).numpy().ravel(), [3.8] * 6, atol=1e-5)


@pytest.mark.parametrize("with_mask", [False, True])
@pytest.mark.parametrize("kind", ["hard", "soft"])
@pytest.mark.parametrize("budget", [1, 2, NB])
def test_sortcut_matches_numpy(rng, with_mask, kind, budget):
    q, k, v = _qkv(rng)
    perm = _perm(rng, kind)
    key_mask = _key_mask(rng) if with_mask else None
    out = ops.sortcut_attention(q, k, v, perm, BS, budget, key_mask=key_mask)
    expected = ref.sortcut_attention(q, k, v, perm, BS, budget, key_mask=key_mask)
    np.testing.assert_allclose(out.numpy(), expected, atol=2e-5)


def test_sortcut_with_hard_permutation_attends_to_the_chosen_blocks(rng):
    q, k, v = _qkv(rng)
    perm = _perm(rng, "hard")
    out = ops.sortcut_attention(q, k, v, perm, BS, 2).numpy()
    chosen = perm[0, 0, :2].argmax(-1)
    positions = np.concatenate([np.arange(c * BS, (c + 1) * BS) for c in chosen])
    expected = ref.masked_attention(q[:1, :1], k[:1, :1], v[:1, :1], lambda i, j: j in positions)
    np.testing.assert_allclose(out[:1, :1], expected, atol=2e-5)


@pytest.mark.parametrize("bad", [0, NB + 1])
def test_sortcut_rejects_an_out_of_range_budget(rng, bad):
    q, k, v = _qkv(rng)
    with pytest.raises(ValueError, match="budget"):
        ops.sortcut_attention(q, k, v, _perm(rng, "soft"), BS, bad)


@pytest.mark.parametrize("causal", [False, True])
def test_dense_attention_matches_numpy(rng, causal):
    q, k, v = _qkv(rng)
    key_mask = _key_mask(rng)
    out = ops.dense_attention(q, k, v, causal=causal, key_mask=key_mask).numpy()
    expected = ref.masked_attention(q, k, v, lambda i, j: j <= i or not causal, key_mask)
    np.testing.assert_allclose(out, expected, atol=2e-5)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("memory", [0, 1, 2])
def test_local_attention_matches_numpy(rng, causal, memory):
    q, k, v = _qkv(rng)
    key_mask = _key_mask(rng)

    def allowed(i, j):
        return i // BS - memory <= j // BS <= i // BS and (j <= i or not causal)

    out = ops.local_attention(q, k, v, BS, memory, causal=causal, key_mask=key_mask).numpy()
    np.testing.assert_allclose(out, ref.masked_attention(q, k, v, allowed, key_mask), atol=2e-5)


@pytest.mark.parametrize("causal", [False, True])
def test_sparse_fixed_pattern_matches_child_et_al(rng, causal):
    block, stride = 8, 2
    length = 24
    mask = ops.sparse_fixed_mask(length, block, stride, causal).numpy()
    for i in range(length):
        for j in range(length):
            expected = (i // block == j // block or j % block >= block - stride) and (j <= i or not causal)
            assert mask[i, j] == expected, (i, j)
    q, k, v = _qkv(rng)
    out = ops.dense_attention(q, k, v, attention_mask=ops.sparse_fixed_mask(L, 4, 1, causal)).numpy()
    expected = ref.masked_attention(q, k, v, lambda i, j: (i // 4 == j // 4 or j % 4 == 3) and (j <= i or not causal))
    np.testing.assert_allclose(out, expected, atol=2e-5)


def test_fully_masked_query_gives_zeros_not_nan(rng):
    q, k, v = _qkv(rng)
    key_mask = np.zeros((B, L), bool)
    for fn in (lambda: ops.dense_attention(q, k, v, key_mask=key_mask),
               lambda: ops.sinkhorn_block_attention(q, k, v, _perm(rng, "soft"), BS, key_mask=key_mask),
               lambda: ops.sortcut_attention(q, k, v, _perm(rng, "soft"), BS, 2, key_mask=key_mask),
               lambda: ops.sparse_fixed_attention(q, k, v, BS, 2, key_mask=key_mask),
               lambda: ops.local_attention(q, k, v, BS, 0, key_mask=key_mask),
               lambda: ops.local_attention(q, k, v, BS, 1, causal=True, key_mask=key_mask)):
        out = fn().numpy()
        np.testing.assert_array_equal(out, 0.0)


def test_invalid_arguments_name_the_argument(rng):
    q, k, v = _qkv(rng)
    perm = _perm(rng, "soft")
    with pytest.raises(ValueError, match="combine"):
        ops.sinkhorn_block_attention(q, k, v, perm, BS, combine="add")
    with pytest.raises(ValueError, match="block_size"):
        ops.sinkhorn_block_attention(q, k, v, perm, 0)
    with pytest.raises(ValueError, match="block_size"):
        ops.sinkhorn_block_attention(q, k, v, perm, 5)
    with pytest.raises(ValueError, match="stride"):
        ops.sparse_fixed_mask(16, 4, 5)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("with_mask", [False, True])
@pytest.mark.parametrize("stride", [1, 3, 4])
def test_sparse_fixed_attention_equals_dense_attention_under_the_pattern(rng, causal, with_mask, stride):
    """The structured computation (own block + every block's summary keys) gives exactly what a
    brute-force dense computation under Child et al.'s pattern gives."""
    q, k, v = _qkv(rng)
    key_mask = _key_mask(rng) if with_mask else None

    def allowed(i, j):
        return (i // BS == j // BS or j % BS >= BS - stride) and (j <= i or not causal)

    out = ops.sparse_fixed_attention(q, k, v, BS, stride, causal, key_mask=key_mask).numpy()
    expected = ref.masked_attention(q, k, v, allowed, key_mask)
    np.testing.assert_allclose(out, expected, atol=2e-5)
    assert np.abs(expected).max() > 0.1  # not a vacuous zero output


def _softmax_pair_reference(a, b, a_allowed, b_allowed, grad_a, grad_b):
    """NumPy: softmax over the allowed entries of each row of `concat([a, b])` (zeros where
    nothing is allowed), and the gradient of `sum(w * grad)` with respect to the scores."""
    scores, allowed = np.concatenate([a, b], -1), np.concatenate([a_allowed, b_allowed], -1)
    upstream = np.concatenate([grad_a, grad_b], -1)
    weights, grads = np.zeros_like(scores), np.zeros_like(scores)
    for row in np.ndindex(*scores.shape[:-1]):
        keep = allowed[row]
        if keep.any():
            e = np.exp(scores[row][keep] - scores[row][keep].max())
            w = e / e.sum()
            weights[row][keep] = w
            grads[row][keep] = w * (upstream[row][keep] - (w * upstream[row][keep]).sum())
    n = a.shape[-1]
    return weights[..., :n], weights[..., n:], grads[..., :n], grads[..., n:]


def test_softmax_pair_is_the_softmax_of_the_concatenation_with_its_gradient(rng):
    """Weights and score gradients equal a NumPy softmax over the concatenated allowed scores;
    excluded entries weigh exactly 0 and rows with nothing allowed are all zero, gradient too."""
    a, b = rng.normal(size=(3, 4, 5)).astype("float32") * 3, rng.normal(size=(3, 4, 7)).astype("float32") * 3
    a_allowed, b_allowed = rng.random(size=a.shape) > 0.4, rng.random(size=b.shape) > 0.4
    a_allowed[0, 1], b_allowed[0, 1] = False, False  # a row with nothing allowed
    a_allowed[1, 2], b_allowed[2, 3] = False, True  # a row with only the second part, one all allowed
    grad_a, grad_b = rng.normal(size=a.shape).astype("float32"), rng.normal(size=b.shape).astype("float32")
    ta, tb = tf.constant(a), tf.constant(b)
    with tf.GradientTape() as tape:
        tape.watch([ta, tb])
        wa, wb = ops.softmax_pair(ta, tb, a_allowed, b_allowed)
        loss = tf.reduce_sum(wa * grad_a) + tf.reduce_sum(wb * grad_b)
    da, db = tape.gradient(loss, [ta, tb])
    expected = _softmax_pair_reference(a, b, a_allowed, b_allowed, grad_a, grad_b)
    for got, want in zip((wa, wb, da, db), expected):
        np.testing.assert_allclose(got.numpy(), want, atol=1e-6)
    assert np.all(wa.numpy()[~a_allowed] == 0) and np.all(wb.numpy()[~b_allowed] == 0)
    assert np.all(wa.numpy()[0, 1] == 0) and np.all(wb.numpy()[0, 1] == 0)
    sums = np.ones((3, 4))
    sums[0, 1] = 0
    np.testing.assert_allclose(wa.numpy().sum(-1) + wb.numpy().sum(-1), sums, atol=1e-6)


@pytest.mark.parametrize("kind", ["sinkhorn", "sparse_fixed", "local"])
def test_attention_dropout_keeps_the_expected_output(rng, kind):
    """Dropout on the attention weights (one softmax over two key groups) is unbiased: over many
    copies of the same example (each its own dropout draw) the mean output approaches the
    output without dropout, while copies differ."""
    copies = 400
    q, k, v = (np.tile(t, (copies, 1, 1, 1)) for t in _qkv(rng))
    perm = np.tile(_perm(rng, "soft"), (copies, 1, 1, 1))

    def attend(rate):
        if kind == "sinkhorn":
            return ops.sinkhorn_block_attention(q, k, v, perm, BS, dropout_rate=rate, seed=3).numpy()
        if kind == "local":
            return ops.local_attention(q, k, v, BS, 1, dropout_rate=rate, seed=3).numpy()
        return ops.sparse_fixed_attention(q, k, v, BS, 2, dropout_rate=rate, seed=3).numpy()

    exact, draws = attend(0.0).reshape(copies, B, H, L, D), attend(0.5).reshape(copies, B, H, L, D)
    assert np.abs(draws[0] - draws[1]).max() > 0.1
    # One draw is off by about 0.4 (standard deviation) here: the mean of 400 by about 0.02.
    assert np.abs(draws.mean(0) - exact[0]).mean() < 0.03
    assert np.abs(draws.mean(0) - exact[0]).max() < 0.25
