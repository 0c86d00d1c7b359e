"""Packed segments: no op lets one packed example influence another."""
import numpy as np
import pytest

from sinkhorn_t2t import ops
from sinkhorn_t2t.ops.segments import block_segments
from tests import numpy_reference as ref

B, H, L, D, BS = 2, 2, 24, 4, 4


def _packed_segments():
    seg = np.zeros((B, L), np.int32)
    seg[0, :8], seg[0, 8:16], seg[0, 16:22] = 1, 2, 3  # block-aligned, with in-segment padding at 22-23
    seg[1, :12], seg[1, 12:20] = 1, 2
    seg[1, 10:12] = 0  # padding inside segment 1's last block
    return seg


def _qkv(rng):
    return [rng.normal(size=(B, H, L, D)).astype("float32") for _ in range(3)]


def _perturb_segment(tensors, seg, target, rng):
    out = []
    for t in tensors:
        t = t.copy()
        where = seg == target
        t[np.broadcast_to(where[:, None, :], t.shape[:3])] += rng.normal(size=(where.sum() * H, D)) * 3
        out.append(t)
    return out


def test_block_segments_mark_pure_padding_and_straddling_blocks():
    seg = np.array([[1, 1, 1, 1, 1, 1, 2, 2, 0, 0, 0, 0]])
    np.testing.assert_array_equal(block_segments(seg, 4).numpy(), [[1, -1, 0]])
    np.testing.assert_array_equal(block_segments(seg, 2).numpy(), [[1, 1, 1, 2, 0, 0]])


def _ops(perm):
    return {
        "dense": lambda q, k, v, s, c: ops.dense_attention(q, k, v, causal=c, segment_ids=s),
        "local": lambda q, k, v, s, c: ops.local_attention(q, k, v, BS, 1, causal=c, segment_ids=s),
        "sinkhorn_concat": lambda q, k, v, s, c: ops.sinkhorn_block_attention(q, k, v, perm, BS, causal=c,
                                                                               segment_ids=s),
        "sinkhorn_sum_scores": lambda q, k, v, s, c: ops.sinkhorn_block_attention(
            q, k, v, perm, BS, causal=c, segment_ids=s, combine="sum_scores"),
        "sinkhorn_sum_outputs": lambda q, k, v, s, c: ops.sinkhorn_block_attention(
            q, k, v, perm, BS, causal=c, segment_ids=s, combine="sum_outputs"),
        "sortcut": lambda q, k, v, s, c: ops.sortcut_attention(q, k, v, perm, BS, 3, segment_ids=s),
    }


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("name", ["dense", "local", "sinkhorn_concat", "sinkhorn_sum_scores", "sinkhorn_sum_outputs",
                                  "sortcut"])
def test_changing_one_segment_leaves_the_others_unchanged(rng, name, causal):
    if name == "sortcut" and causal:
        causal = False  # SortCut is encoder-only
    seg = _packed_segments()
    q, k, v = _qkv(rng)
    perm = rng.random(size=(B, H, L // BS, L // BS)).astype("float32")  # dense soft perm: mixes everything
    fn = _ops(perm)[name]
    base = fn(q, k, v, seg, causal).numpy()
    for target in (1, 2):
        changed = fn(*_perturb_segment((q, k, v), seg, target, rng), seg, causal).numpy()
        others = (seg != target) & (seg > 0)
        np.testing.assert_allclose(np.moveaxis(changed, 1, 2)[others], np.moveaxis(base, 1, 2)[others], atol=1e-5)


@pytest.mark.parametrize("causal", [False, True])
def test_dense_and_local_with_segments_match_numpy(rng, causal):
    seg = _packed_segments()
    q, k, v = _qkv(rng)
    for b in range(B):
        def allowed(i, j, b=b):
            return seg[b, i] == seg[b, j] and (j <= i or not causal)

        expected = ref.masked_attention(q[b:b + 1], k[b:b + 1], v[b:b + 1], allowed)
        out = ops.dense_attention(q, k, v, causal=causal, segment_ids=seg).numpy()[b:b + 1]
        np.testing.assert_allclose(out, expected, atol=2e-5)

        def local_allowed(i, j, b=b):
            return allowed(i, j) and i // BS - 1 <= j // BS <= i // BS

        expected = ref.masked_attention(q[b:b + 1], k[b:b + 1], v[b:b + 1], local_allowed)
        out = ops.local_attention(q, k, v, BS, 1, causal=causal, segment_ids=seg).numpy()[b:b + 1]
        np.testing.assert_allclose(out, expected, atol=2e-5)
