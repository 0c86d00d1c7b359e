"""Packed segments: no op lets one packed example influence another."""
import numpy as np
import pytest

from sinkhorn_t2t import ops
from sinkhorn_t2t.ops.segments import block_segments
from tests import numpy_reference as ref
from tests.packed_layout import packed_segments

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


def _alone_perm(rng, num_blocks, causal):
    logits = rng.normal(size=(H, num_blocks, num_blocks)).astype("float32") * 2
    return np.exp(ops.sinkhorn(logits, 3, causal=causal).numpy())


def _packed_and_alone_perms(rng, seg, spans, causal):
    """A packed sorting matrix whose within-segment blocks are each segment's own matrix, and
    garbage (positive, to be ignored) everywhere else."""
    nb = L2 // BS
    packed = rng.random(size=(len(seg), H, nb, nb)).astype("float32") + 0.5
    alone = []
    for row, start, n in spans:
        a, m = start // BS, -(-n // BS)
        alone.append(_alone_perm(rng, m, causal))
        packed[row, :, a:a + m, a:a + m] = alone[-1]
    return packed, alone


L2 = 48


def _op(name, q, k, v, perm, causal, segment_ids=None, key_mask=None, budget=2):
    if name == "dense":
        return ops.dense_attention(q, k, v, causal=causal, segment_ids=segment_ids, key_mask=key_mask)
    if name == "local":
        return ops.local_attention(q, k, v, BS, 1, causal=causal, segment_ids=segment_ids, key_mask=key_mask)
    if name == "sparse_fixed":
        pattern = ops.sparse_fixed_mask(q.shape[-2], BS, 1, causal, segment_ids=segment_ids)
        return ops.dense_attention(q, k, v, attention_mask=pattern, segment_ids=segment_ids, key_mask=key_mask)
    if name.startswith("sortcut"):
        return ops.sortcut_attention(q, k, v, perm, BS, budget, segment_ids=segment_ids, key_mask=key_mask)
    return ops.sinkhorn_block_attention(q, k, v, perm, BS, causal=causal, combine=name.split(":")[1],
                                        segment_ids=segment_ids, key_mask=key_mask)


_BIDIRECTIONAL_OR_CAUSAL = ["dense", "local", "sparse_fixed", "sinkhorn:concat", "sinkhorn:sum_scores",
                            "sinkhorn:sum_outputs"]


@pytest.mark.parametrize("name,causal", [(n, c) for n in _BIDIRECTIONAL_OR_CAUSAL for c in (False, True)]
                         + [("sortcut", False), ("sortcut:3", False)])
def test_packed_example_equals_the_example_alone(rng, name, causal):
    """T2T's packing promise at the op level: each segment of a packed row gets exactly the output
    it gets alone (its own sorting matrix; SortCut: its own first `budget` sorted blocks, all of
    them for a segment shorter than the budget)."""
    seg, spans = packed_segments(BS, L2)
    q, k, v = [rng.normal(size=(len(seg), H, L2, D)).astype("float32") for _ in range(3)]
    packed_perm, alone_perms = _packed_and_alone_perms(rng, seg, spans, causal)
    budget = 3 if name == "sortcut:3" else 2
    packed = _op(name, q, k, v, packed_perm, causal, segment_ids=seg, budget=budget).numpy()
    assert np.abs(packed).max() > 0.1
    for (row, start, n), perm in zip(spans, alone_perms):
        m = perm.shape[-1]
        part = slice(start, start + m * BS)
        mask = np.arange(m * BS)[None] < n
        alone = _op(name, q[row:row + 1, :, part], k[row:row + 1, :, part], v[row:row + 1, :, part], perm[None],
                    causal, key_mask=mask, budget=min(budget, m)).numpy()
        np.testing.assert_allclose(packed[row, :, start:start + n], alone[0, :, :n], atol=1e-5,
                                   err_msg=f"{name} segment at row {row}, {start}")
