"""Properties every attention layer must have: causality, padding, saving, XLA, mixed precision."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.graph_ops import attention_op_kind
from tests.layers.layer_cases import ALL_CASES, BLOCK, CAUSAL_CAPABLE, FACTORIES
from tests.layers.layer_reference import numpy_forward
from tests.packed_layout import packed_segments

BATCH, LENGTH, DIM = 2, 18, 8  # 18 is not a multiple of the block size: the layers pad inside


def _inputs(rng):
    x = rng.normal(size=(BATCH, LENGTH, DIM)).astype("float32")
    mask = np.ones((BATCH, LENGTH), bool)
    mask[1, 11:] = False
    return x, mask


def _built(name, causal, x, mask):
    layer = FACTORIES[name](causal)
    layer(x, mask=mask)
    return layer


def _twin(layer, x, mask):
    """A fresh copy with the same weights and the same (unused) random state."""
    twin = type(layer).from_config(layer.get_config())
    twin(x, mask=mask)  # inference: draws no random numbers
    twin.set_weights(layer.get_weights())
    return twin


@pytest.mark.parametrize("name,causal", ALL_CASES)
def test_outputs_match_a_numpy_recomputation(rng, name, causal):
    """Inference output == the layer recomputed in NumPy from its weights; training output is
    finite and differs (dropout, Gumbel noise)."""
    x, mask = _inputs(rng)
    layer = _built(name, causal, x, mask)
    y = layer(x, mask=mask, training=False).numpy()
    np.testing.assert_allclose(y[mask], numpy_forward(layer, x, mask)[mask], atol=1e-4)
    trained = layer(x, mask=mask, training=True).numpy()
    assert np.isfinite(trained).all() and np.abs(trained[mask] - y[mask]).max() > 1e-4


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("name", CAUSAL_CAPABLE)
def test_causal_layers_never_look_at_future_tokens(rng, name, training):
    x, mask = _inputs(rng)
    layer = _built(name, True, x, mask)
    base = _twin(layer, x, mask)(x, mask=mask, training=training).numpy()
    for t in (0, 3, 4, 7, 12, 16):
        future = x.copy()
        future[:, t + 1:] = rng.normal(size=future[:, t + 1:].shape) * 3
        out = _twin(layer, x, mask)(future, mask=mask, training=training).numpy()
        np.testing.assert_allclose(out[:, :t + 1], base[:, :t + 1], atol=1e-5, err_msg=f"leak at t={t}")


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("name,causal", ALL_CASES)
def test_masked_positions_never_change_real_outputs(rng, name, causal, training):
    x, mask = _inputs(rng)
    mask[0, [2, 9]] = False  # holes inside a sequence too
    layer = _built(name, causal, x, mask)
    base = _twin(layer, x, mask)(x, mask=mask, training=training).numpy()
    garbage = np.where(mask[..., None], x, rng.normal(size=x.shape) * 10).astype("float32")
    out = _twin(layer, x, mask)(garbage, mask=mask, training=training).numpy()
    np.testing.assert_allclose(out[mask], base[mask], atol=1e-5)


@pytest.mark.parametrize("name,causal", ALL_CASES)
def test_config_round_trip_and_keras_file(rng, tmp_path, name, causal):
    x, mask = _inputs(rng)
    layer = _built(name, causal, x, mask)
    clone = type(layer).from_config(layer.get_config())
    clone(x, mask=mask)
    clone.set_weights(layer.get_weights())
    expected = layer(x, mask=mask).numpy()
    np.testing.assert_array_equal(clone(x, mask=mask).numpy(), expected)

    inputs = keras.Input((LENGTH, DIM)), keras.Input((LENGTH,), dtype="bool")
    model = keras.Model(inputs, FACTORIES[name](causal)(inputs[0], mask=inputs[1]))
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict([x, mask], verbose=0), model.predict([x, mask], verbose=0))


@pytest.mark.parametrize("name,causal", ALL_CASES)
def test_forward_and_backward_compile_with_xla(rng, name, causal):
    x, mask = _inputs(rng)
    layer = _built(name, causal, x, mask)

    @tf.function(jit_compile=True)
    def step(x, mask):
        with tf.GradientTape() as tape:
            y = layer(x, mask=mask, training=True)
            loss = tf.reduce_sum(tf.square(y))
        return loss, tape.gradient(loss, layer.trainable_variables)

    loss, grads = step(tf.constant(x), tf.constant(mask))
    assert np.isfinite(loss.numpy())
    assert all(g is not None and np.isfinite(g.numpy()).all() for g in grads)


def _float_ops(layer, x, mask, types=("Softmax", "LogSoftmax", "Exp", "Log")):
    """dtypes of the softmax / exp / log ops in the traced training call, nested functions included
    (those of `ops.softmax_pair` as "softmax_pair/<type>")."""
    graph = tf.function(lambda x, m: layer(x, mask=m, training=True)).get_concrete_function(
        tf.TensorSpec(x.shape, tf.float32), tf.TensorSpec(mask.shape, tf.bool)).graph
    graphs = [graph] + [g.graph for g in graph._functions.values() if hasattr(g, "graph")]
    return {(attention_op_kind(op), op.get_attr("T").name) for g in graphs for op in g.get_operations()
            if op.type in types}


@pytest.mark.parametrize("policy,eps", [("mixed_bfloat16", 2.0**-8), ("mixed_float16", 2.0**-11)])
@pytest.mark.parametrize("name,causal", [("sinkhorn", False), ("sinkhorn", True), ("sortcut", False),
                                         ("sinkhorn_mixture", True), ("local", True), ("dense", False)])
def test_mixed_precision(rng, name, causal, policy, eps):
    keras.utils.set_random_seed(0)  # the same weights in every run
    x, mask = _inputs(rng)
    reference = _built(name, causal, x, mask)
    keras.mixed_precision.set_global_policy(policy)
    try:
        layer = _built(name, causal, x, mask)
        layer.set_weights(reference.get_weights())
        y = layer(x, mask=mask)
        assert y.dtype == layer.compute_dtype != "float32"
        float_ops = _float_ops(layer, x, mask)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    # The attention softmax (a Softmax op, or the exponentials of `softmax_pair`), Sinkhorn's
    # log-sum-exps, exp(log perm) and the Gumbel logs all run in float32.
    assert {("Softmax", "float32"), ("softmax_pair/Exp", "float32")} & float_ops, float_ops
    assert all(dtype == "float32" for _, dtype in float_ops), float_ops
    y = np.asarray(tf.cast(y, tf.float32))
    expected = reference(x, mask=mask).numpy()
    # A few roundings of the compute dtype, relative to the output scale. Measured over 4 seeds per
    # case: at most 1.5 eps on a CPU with AVX512-BF16, 5.2 eps on an AVX2-only one (which also
    # gives up to 4.8 eps for dense attention); a dropped mask or a wrong term is off by O(1).
    assert np.abs(y[mask] - expected[mask]).max() <= 8 * eps * np.abs(expected[mask]).max()


def _segments(length=34):
    seg = np.zeros((BATCH, length), np.int32)
    seg[:, :12], seg[:, 12:26], seg[:, 28:33] = 1, 2, 3  # block-aligned (block 4); padding at 26-27, 33-35
    seg[1, 8:12] = 0  # example 1: segment 1 is shorter
    return seg


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("name,causal", ALL_CASES)
def test_packed_segments_never_see_each_other(rng, name, causal, training):
    seg = _segments()
    x = rng.normal(size=seg.shape + (DIM,)).astype("float32")
    layer = _built(name, causal, x, None)
    base = _twin(layer, x, None)(x, segment_ids=seg, training=training).numpy()
    for target in (1, 2, 3):
        changed = x.copy()
        changed[seg == target] += rng.normal(size=((seg == target).sum(), DIM)).astype("float32") * 3
        out = _twin(layer, x, None)(changed, segment_ids=seg, training=training).numpy()
        others = (seg != target) & (seg > 0)
        np.testing.assert_allclose(out[others], base[others], atol=1e-5, err_msg=f"segment {target} leaked")


@pytest.mark.parametrize("name,causal", ALL_CASES)
def test_packed_example_equals_the_example_alone(rng, name, causal):
    """T2T's packing promise: every segment of a packed row (3 block-aligned segments of different
    lengths, padding) gets the output the same layer gives it alone, within 1e-5."""
    seg, spans = packed_segments(BLOCK, 48)
    x = rng.normal(size=seg.shape + (DIM,)).astype("float32")
    layer = _built(name, causal, x, None)
    packed = layer(x, segment_ids=seg, training=False).numpy()
    for row, start, n in spans:
        alone = layer(x[row:row + 1, start:start + n], training=False).numpy()[0]
        np.testing.assert_allclose(packed[row, start:start + n], alone, atol=1e-5, err_msg=f"row {row}, {start}")


@pytest.mark.parametrize("causal", [False, True])
def test_packed_sorting_matrix_holds_each_segments_own_matrix(rng, causal):
    """Relative SortNet columns: a segment's block of the packed sorting matrix is the matrix it
    has alone, and blocks of different segments are never matched."""
    seg, spans = packed_segments(BLOCK, 48)
    x = rng.normal(size=seg.shape + (DIM,)).astype("float32")
    layer = _built("sinkhorn", causal, x, None)
    perm = layer.sorting_matrix(tf.constant(x), None, False, tf.constant(seg)).numpy()
    inside = np.zeros(perm.shape, bool)
    for row, start, n in spans:
        a, m = start // BLOCK, -(-n // BLOCK)
        alone_x = np.pad(x[row:row + 1, start:start + n], [(0, 0), (0, m * BLOCK - n), (0, 0)])
        alone_mask = np.arange(m * BLOCK)[None] < n
        alone = layer.sorting_matrix(tf.constant(alone_x), tf.constant(alone_mask), False).numpy()[0]
        np.testing.assert_allclose(perm[row, :, a:a + m, a:a + m], alone, atol=1e-6)
        inside[row, :, a:a + m, a:a + m] = True
    real = np.repeat(np.repeat((seg.reshape(2, -1, BLOCK) > 0).any(-1)[:, None, :, None], 12, 3), 2, 1)
    np.testing.assert_array_equal(perm[real & ~inside & np.swapaxes(real, 2, 3)], 0.0)
