"""Attention ops: dense, block-local, Sparse-Transformer fixed, Sparse Sinkhorn and SortCut.

Shapes: `q, k, v` are `[B, H, L, D]` (batch, heads, length, head dim); `key_mask` is bool
`[B, L]` with True for real tokens; `segment_ids` is int `[B, L]` for packed rows (1, 2, ... per
example, 0 for padding; see `sinkhorn_t2t.ops.segments`), and no token attends across segments; `perm` is a `[B, H, NB, NB]` sorting matrix (probabilities,
rows = sorted output blocks, columns = input blocks). Scores are `q.k / sqrt(D)`; softmax runs in
float32 whatever the input dtype. A query with no allowed key outputs zeros (never NaN).
"""
import math

import tensorflow as tf

from sinkhorn_t2t.ops.blocks import from_blocks, sort_blocks, to_blocks
from sinkhorn_t2t.ops.random import dropout
from sinkhorn_t2t.ops.segments import block_segments, positions_in_run, same_block_segment, same_segment
from sinkhorn_t2t.ops.sinkhorn import MASKED_LOG_VALUE

COMBINE_MODES = ("concat", "sum_scores", "sum_outputs")


def masked_softmax(logits, allowed=None):
    """float32 softmax over the last axis; excluded entries get 0, all-excluded rows are all 0."""
    logits = tf.cast(logits, tf.float32)
    if allowed is None:
        return tf.nn.softmax(logits, axis=-1)
    weights = tf.nn.softmax(tf.where(allowed, logits, MASKED_LOG_VALUE), axis=-1)
    return tf.where(allowed, weights, 0.0)


def _scaled_queries(q):
    """`q / sqrt(D)`: the (smaller) queries are scaled, not the scores."""
    return q * tf.cast(1.0 / math.sqrt(q.shape[-1]), q.dtype)


def softmax_pair(a, b, a_allowed=None, b_allowed=None):
    """The softmax of `concat([a, b], -1)` over the last axis, as its two parts, computed
    without concatenating.

    Scores of two key groups (a block's own keys and its sorted or summary keys) come from two
    matmuls; concatenating them and splitting the weights again would copy the whole score tensor
    twice each way, and `tf.nn.softmax` takes one tensor, hence this op. Its gradient needs only
    the two outputs.

    Args:
      a: `[..., n]` and b: `[..., m]` scores (same leading axes).
      a_allowed, b_allowed: optional bool broadcastable to `a` / `b`, False = excluded: its
        weight is exactly 0. A row with nothing allowed is all zero (never NaN).

    Returns:
      float32 `([..., n], [..., m])` weights; each row of the pair sums to 1 (or is all zero).
    """
    with tf.name_scope("softmax_pair"):
        parts = []
        for scores, allowed in ((a, a_allowed), (b, b_allowed)):
            scores = tf.cast(scores, tf.float32)
            parts.append(scores if allowed is None else scores + tf.where(allowed, 0.0, MASKED_LOG_VALUE))
        return _softmax_pair(*parts)


@tf.custom_gradient
def _softmax_pair(a, b):
    """`softmax_pair` of scores where excluded entries are at or below `MASKED_LOG_VALUE`."""
    top = tf.maximum(tf.reduce_max(a, -1, keepdims=True), tf.reduce_max(b, -1, keepdims=True))
    top = tf.where(top > MASKED_LOG_VALUE / 2, top, -MASKED_LOG_VALUE)  # nothing allowed: every weight is 0
    exp_a, exp_b = tf.exp(a - top), tf.exp(b - top)
    total = tf.reduce_sum(exp_a, -1, keepdims=True) + tf.reduce_sum(exp_b, -1, keepdims=True)
    scale = 1.0 / tf.maximum(total, 1e-30)
    weights_a, weights_b = exp_a * scale, exp_b * scale

    def grad(grad_a, grad_b):
        inner = tf.reduce_sum(grad_a * weights_a, -1, keepdims=True) + tf.reduce_sum(grad_b * weights_b, -1,
                                                                                       keepdims=True)
        return weights_a * (grad_a - inner), weights_b * (grad_b - inner)

    return (weights_a, weights_b), grad


def _attend_pair(q, keys, values, allowed, dropout_rate, seed, shared=False):
    """Query blocks `q [B, H, NB, b, D]` attend, in one softmax (`softmax_pair`), to two key
    groups: `keys[0]` / `values[0]` `[B, H, NB, n, D]` per block and `keys[1]` / `values[1]`,
    also per block, or with `shared` one `[B, H, S, D]` group that every block sees (its scores
    and output are then one matmul over all `L` queries, the group never copied per block).
    `allowed`: a pair of bool masks (or Nones) broadcastable to the two score parts. Returns
    `[B, H, NB, b, Dv]`."""
    q = _scaled_queries(q)
    block_size = q.shape[-2]

    def second_group(x, group, transpose):  # x @ group, over all queries at once when the group is shared
        product = tf.matmul(from_blocks(x, -3) if shared else x, group, transpose_b=transpose)
        return to_blocks(product, block_size, -2) if shared else product

    weights = softmax_pair(tf.matmul(q, keys[0], transpose_b=True), second_group(q, keys[1], True), *allowed)
    if dropout_rate:
        # A second draw: a generator (or None) gives a fresh seed, an int the next one.
        seeds = (seed, seed + 1 if isinstance(seed, int) else seed)
        weights = [dropout(w, dropout_rate, seed=s) for w, s in zip(weights, seeds)]
    return (tf.matmul(tf.cast(weights[0], values[0].dtype), values[0])
            + second_group(tf.cast(weights[1], values[1].dtype), values[1], False))


def dot_product_attention(q, k, v, allowed=None, dropout_rate=0.0, seed=None, bias=None):
    """`softmax(q k^T / sqrt(D) + bias) v` with a boolean mask.

    Args:
      q: `[..., Lq, D]`; k: `[..., Lk, D]`; v: `[..., Lk, Dv]`.
      allowed: bool broadcastable to `[..., Lq, Lk]`, True = query may attend to key.
      dropout_rate: dropout on the attention weights (pass 0 outside training).
      seed: dropout seed (None, int or `keras.random.SeedGenerator`).
      bias: float32 broadcastable to `[..., Lq, Lk]`, added to the scores. `MASKED_LOG_VALUE`
        excludes a key exactly (its weight is 0) as long as the query keeps some other key: a
        small broadcast bias is cheaper than `allowed`, which costs two selects over all scores.
        A list of biases is added in turn, so broadcast parts are never summed to full size.

    Returns:
      `[..., Lq, Dv]` in the dtype of `v`.
    """
    q, k, v = (tf.convert_to_tensor(t) for t in (q, k, v))
    q = _scaled_queries(q)
    logits = tf.matmul(q, k, transpose_b=True)
    if bias is not None:
        logits = tf.cast(logits, tf.float32)
        for part in bias if isinstance(bias, (list, tuple)) else [bias]:
            logits += part
    weights = masked_softmax(logits, allowed)
    if dropout_rate:
        weights = dropout(weights, dropout_rate, seed=seed)
    return tf.matmul(tf.cast(weights, v.dtype), v)


def _check_block_size(block_size, length=None):
    if not isinstance(block_size, int) or isinstance(block_size, bool) or block_size <= 0:
        raise ValueError(f"`block_size` must be a positive int, got {block_size!r}.")
    if isinstance(length, int) and length % block_size:
        raise ValueError(
            f"sequence length {length} is not a multiple of `block_size` {block_size}: "
            "pad it (the layers in sinkhorn_t2t.layers do this for you)."
        )


def _causal_allowed(q_len, k_len, offset=0):
    """bool `[q_len, k_len]`: key j (shifted by `offset`) is at or before query i."""
    rows = tf.range(q_len)[:, None]
    cols = tf.range(k_len)[None, :] + offset
    return cols <= rows


def _attend_with_structure(q, k, v, structure, allowed, dropout_rate, seed):
    """Attention under a fixed pattern `structure` (bool, small and broadcastable, leaving every
    query at least one key) and a data-dependent mask `allowed` (or None)."""
    if allowed is None:
        bias = None if structure is None else tf.where(structure, 0.0, MASKED_LOG_VALUE)
        return dot_product_attention(q, k, v, None, dropout_rate, seed, bias=bias)
    return dot_product_attention(q, k, v, _and(allowed, structure), dropout_rate, seed)


def _and(a, b):
    if a is None:
        return b
    return a if b is None else tf.logical_and(a, b)


def _real_keys(key_mask, segment_ids):
    """Key mask with packing padding (segment 0) excluded."""
    if segment_ids is None:
        return key_mask
    real = tf.cast(segment_ids, tf.int32) > 0
    return real if key_mask is None else tf.logical_and(tf.cast(key_mask, tf.bool), real)


def _key_blocks(key_mask, block_size):
    """`[B, L]` key mask -> bool `[B, 1, NB, b]` (a head axis to broadcast)."""
    return None if key_mask is None else to_blocks(tf.cast(key_mask, tf.bool)[:, None, :], block_size, -1)


def _segment_blocks(segment_ids, block_size):
    """`[B, L]` packed segment ids -> int32 `[B, 1, NB, b]`, or None."""
    return None if segment_ids is None else to_blocks(tf.cast(segment_ids, tf.int32)[:, None], block_size, -1)


def _own_block_allowed(mask_blocks, segments, causal, block_size):
    """Which of its own block's keys a query may see, bool broadcastable to `[B, H, NB, b, b]`
    (None: all): real keys (`mask_blocks` `[B, 1, NB, b]` or None), of the query's segment
    (`segments` from `_segment_blocks`, or None) and, when `causal`, at or before the query."""
    allowed = None if mask_blocks is None else mask_blocks[..., None, :]  # [B, 1, NB, 1, b]
    if segments is not None:
        allowed = _and(allowed, same_segment(segments, segments))
    return _and(allowed, _causal_allowed(block_size, block_size)) if causal else allowed


def _zero_masked(x_blocks, mask_blocks):
    """Zeroes masked tokens so that no mixture of blocks can carry their content."""
    if mask_blocks is None:
        return x_blocks
    return x_blocks * tf.cast(mask_blocks, x_blocks.dtype)[..., None]


def dense_attention(q, k, v, causal=False, key_mask=None, attention_mask=None, dropout_rate=0.0, seed=None,
                    segment_ids=None):
    """Vanilla dot-product attention over all positions, O(L^2) (Vaswani et al. 2017).

    `attention_mask`: optional bool broadcastable to `[B, H, L, L]`; combined with
    `key_mask [B, L]`, same-segment when `segment_ids`, and, when `causal`, with `j <= i`.
    Returns `[B, H, L, D]`.
    """
    q, k, v = (tf.convert_to_tensor(t) for t in (q, k, v))
    allowed = attention_mask
    if segment_ids is not None:
        allowed = _and(allowed, same_segment(segment_ids, segment_ids)[:, None])
    if key_mask is not None:
        allowed = _and(allowed, tf.cast(key_mask, tf.bool)[:, None, None, :])
    if causal:
        length = q.shape[-2] if q.shape[-2] is not None else tf.shape(q)[-2]
        allowed = _and(allowed, _causal_allowed(length, length))
    return dot_product_attention(q, k, v, allowed, dropout_rate, seed)


def _check_stride(block_size, stride):
    _check_block_size(block_size)
    if not isinstance(stride, int) or not 0 < stride <= block_size:
        raise ValueError(f"`stride` must be an int in [1, block_size={block_size}], got {stride!r}.")


def sparse_fixed_mask(length, block_size, stride, causal=False, segment_ids=None):
    """Child et al. (2019) "fixed" pattern as a bool `[L, L]` mask.

    Query i may attend to key j if j is in the same block of `block_size` positions, or if j is
    one of the last `stride` positions of its block (the summary positions); with `causal`, only
    j <= i. With `segment_ids [B, L]` (packed rows) positions count from each segment's start,
    as they would alone, and the mask is `[B, 1, L, L]` (segments themselves are separated by
    `dense_attention`).
    """
    _check_stride(block_size, stride)
    pos = tf.range(length) if segment_ids is None else positions_in_run(segment_ids)[:, None]
    same_block = (pos[..., :, None] // block_size) == (pos[..., None, :] // block_size)
    summary = (pos[..., None, :] % block_size) >= block_size - stride
    allowed = tf.logical_or(same_block, summary)
    if causal:
        allowed = tf.logical_and(allowed, _causal_allowed(length, length))
    return allowed


def sparse_fixed_attention(q, k, v, block_size, stride, causal=False, key_mask=None, dropout_rate=0.0, seed=None,
                           segment_ids=None):
    """Sparse Transformer "fixed" attention (Child et al. 2019), the pattern of `sparse_fixed_mask`.

    Computed from the pattern's structure: query block i scores its own block's `b` keys and the
    `stride` summary keys of every block (`NB * stride` keys; those of block i itself are its own
    keys already, and with `causal` those of later blocks are excluded): `O(L (b + L c / b))`
    scores instead of `L^2`, with the same outputs as `dense_attention` under the mask. Packed
    rows (`segment_ids`), whose pattern restarts at each segment, use the masked dense form.

    Args:
      q, k, v: `[B, H, L, D]`, L a multiple of `block_size` unless `segment_ids` is given.
      block_size, stride, causal, segment_ids: see `sparse_fixed_mask`.
      key_mask: optional bool `[B, L]`, True = real token.

    Returns:
      `[B, H, L, D]`.
    """
    q, k, v = (tf.convert_to_tensor(t) for t in (q, k, v))
    length = q.shape[-2] if q.shape[-2] is not None else tf.shape(q)[-2]
    if segment_ids is not None:
        pattern = sparse_fixed_mask(length, block_size, stride, causal, segment_ids=segment_ids)
        return dense_attention(q, k, v, key_mask=key_mask, attention_mask=pattern, segment_ids=segment_ids,
                               dropout_rate=dropout_rate, seed=seed)
    _check_stride(block_size, stride)
    _check_block_size(block_size, q.shape[-2])
    qb, kb, vb = (to_blocks(t, block_size, -2) for t in (q, k, v))  # [B, H, NB, b, D]
    summary_k, summary_v = (from_blocks(t[..., block_size - stride:, :], -3) for t in (kb, vb))  # [B, H, NB c, D]
    nb = qb.shape[2] if qb.shape[2] is not None else tf.shape(qb)[2]
    summary_block = tf.repeat(tf.range(nb), stride)  # block of each summary key
    block = tf.range(nb)[:, None, None]
    summary_allowed = (summary_block < block) if causal else tf.not_equal(summary_block, block)  # [NB, 1, NB c]
    mb = _key_blocks(key_mask, block_size)  # [B, 1, NB, b]
    own_allowed = _own_block_allowed(mb, None, causal, block_size)
    if mb is not None:
        summary_allowed = _and(from_blocks(mb[..., block_size - stride:], -2)[:, :, None, None, :], summary_allowed)
    out = _attend_pair(qb, (kb, summary_k), (vb, summary_v), (own_allowed, summary_allowed), dropout_rate, seed,
                       shared=True)
    return from_blocks(out, -3)


def local_attention(q, k, v, block_size, num_memory_blocks=0, causal=False, key_mask=None, dropout_rate=0.0,
                    seed=None, segment_ids=None):
    """Block-local attention (Luong et al. 2015; Parmar et al. 2018): query block i attends to key
    blocks `i - num_memory_blocks .. i`, i.e. `(num_memory_blocks + 1) * block_size` keys, in one
    softmax over its own block and its predecessors (`softmax_pair`: no concatenated keys).

    `causal`: additionally key position <= query position. Returns `[B, H, L, D]`.
    """
    q, k, v = (tf.convert_to_tensor(t) for t in (q, k, v))
    _check_block_size(block_size, q.shape[-2])
    if not isinstance(num_memory_blocks, int) or num_memory_blocks < 0:
        raise ValueError(f"`num_memory_blocks` must be an int >= 0, got {num_memory_blocks!r}.")
    qb, kb, vb = (to_blocks(t, block_size, -2) for t in (q, k, v))  # [B, H, NB, b, D]
    m = num_memory_blocks
    nb = qb.shape[2] if qb.shape[2] is not None else tf.shape(qb)[2]
    mb, segments = _key_blocks(key_mask, block_size), _segment_blocks(segment_ids, block_size)  # [B, 1, NB, b]
    if not m:  # the causal pattern as a score bias when there is no data-dependent mask
        out = _attend_with_structure(qb, kb, vb, _local_structure(nb, block_size, 0, causal),
                                     _own_block_allowed(mb, segments, False, block_size), dropout_rate, seed)
        return from_blocks(out, -3)
    memory = _local_structure(nb, block_size, m, False)[..., :m * block_size]  # no wrapped slots: [NB, 1, m b]
    if mb is not None:
        memory = _and(_predecessors(mb, m, -1)[..., None, :], memory)
    if segments is not None:
        memory = _and(memory, same_segment(segments, _predecessors(segments, m, -1)))
    out = _attend_pair(qb, (kb, _predecessors(kb, m, -2)), (vb, _predecessors(vb, m, -2)),
                       (_own_block_allowed(mb, segments, causal, block_size), memory), dropout_rate, seed)
    return from_blocks(out, -3)


def _local_structure(num_blocks, block_size, m, causal):
    """bool `[NB, 1 or b, (m+1) b]` pattern of local attention, None when it excludes nothing:
    key slot s of block i holds position `(i - m) b + s`, which must exist (>= 0) and, when
    `causal`, be at or before the query."""
    if not m and not causal:
        return None
    offsets = tf.range((m + 1) * block_size) - m * block_size  # key position - block start
    structure = (tf.range(num_blocks)[:, None, None] * block_size + offsets) >= 0  # [NB, 1, (m+1) b]
    if causal:
        structure = tf.logical_and(structure, offsets[None, :] <= tf.range(block_size)[:, None])
    return structure


def _predecessors(blocks, m, axis):
    """Blocks `[B, H, NB, b, ...]` -> each block's m predecessors (i - m .. i - 1), concatenated
    along `axis`. They wrap around (block i - s mod NB, a cheap `roll`, whose gradient is another
    roll where slicing and padding cost 3x the whole attention's time): callers exclude the
    wrapped slots with `_local_structure`."""
    parts = [tf.roll(blocks, s, axis=2) for s in range(m, 0, -1)]
    return parts[0] if m == 1 else tf.concat(parts, axis=axis)


def _sorted_key_allowed(perm, mask_blocks, causal):
    """Which sorted key slots hold real content: bool `[B, H, NB', 1, b]` (`[B, H, NB', 1, 1]`
    without a key mask), or None for all.

    The key mask is sorted with the keys; a slot counts when its sorted mass is > 0 (exactly the
    real keys of the chosen block under a hard permutation). Without a key mask only an empty
    row of `perm` leaves slots empty, all of its block at once: row 0 of a causal matrix.
    Non-causal rows are taken to carry mass, as every Sinkhorn output's rows do, which spares a
    mask over the whole score tensor.
    """
    if mask_blocks is None:
        return tf.reduce_any(perm > 0, axis=-1)[..., None, None] if causal else None
    mass = sort_blocks(tf.cast(mask_blocks, perm.dtype)[..., None], perm)[..., 0]  # [B, H, NB', b]
    return (mass > 0)[..., None, :]


def sinkhorn_block_attention(q, k, v, perm, block_size, causal=False, key_mask=None, combine="concat",
                             dropout_rate=0.0, seed=None, segment_ids=None):
    """Sparse Sinkhorn attention (paper 3.2, causal 3.3): each query block attends to its own
    local block and to the block-sorted keys `psi_S(K)`, taking values from `V` / `psi_S(V)`.

    With `local_i`, `sorted_i = sort_blocks(K)[i]` (and the same for V), `combine` selects:
      - "concat": one softmax over the concatenated local and sorted keys of block i; values
        are the same concatenation of local and sorted value blocks.
      - "sum_scores": the literal equation of section 3.2, score `q.(psi_S(K)_j + K_j)` for j in
        the block, one softmax, values `psi_S(V)`. A block with no sorted part (causal block 0)
        attends to its local keys and values alone.
      - "sum_outputs": local attention output plus sorted-block attention output (two softmaxes).

    Args:
      q, k, v: `[B, H, L, D]`, L a multiple of `block_size`.
      perm: `[B, H, NB, NB]` sorting matrix (probabilities).
      block_size: tokens per block b.
      causal: local keys only at positions <= the query's; the sorted block of query block i
        mixes only blocks j < i (entries of `perm` at j >= i are ignored).
      key_mask: optional bool `[B, L]`, True = real token. Masked keys and values are zeroed
        before sorting and the mask is sorted with them.
      combine: one of "concat", "sum_scores", "sum_outputs".
      dropout_rate, seed: dropout on the attention weights.
      segment_ids: optional int `[B, L]` packed segments: local keys only from the query's
        segment, `perm` entries only between sortable blocks of one segment.

    Returns:
      `[B, H, L, D]`.
    """
    q, k, v = (tf.convert_to_tensor(t) for t in (q, k, v))
    _check_block_size(block_size, q.shape[-2])
    if combine not in COMBINE_MODES:
        raise ValueError(f"`combine` must be one of {COMBINE_MODES}, got {combine!r}.")
    qb, kb, vb = (to_blocks(t, block_size, -2) for t in (q, k, v))  # [B, H, NB, b, D]
    mb = _key_blocks(_real_keys(key_mask, segment_ids), block_size)  # [B, 1, NB, b]
    kb, vb = _zero_masked(kb, mb), _zero_masked(vb, mb)
    perm = _segment_perm(tf.cast(perm, tf.float32), segment_ids, block_size)
    if causal:
        nb = perm.shape[-1] if perm.shape[-1] is not None else tf.shape(perm)[-1]
        perm = tf.where(_causal_allowed(nb, nb, 1), perm, 0.0)  # keep j < i only
    sorted_k, sorted_v = sort_blocks(kb, perm), sort_blocks(vb, perm)

    local_allowed = _own_block_allowed(mb, _segment_blocks(segment_ids, block_size), causal, block_size)
    sorted_allowed = _sorted_key_allowed(perm, mb, causal)  # [B, H, NB, 1, b or 1] or None
    if combine == "concat":
        out = _attend_pair(qb, (kb, sorted_k), (vb, sorted_v), (local_allowed, sorted_allowed), dropout_rate, seed)
    elif combine == "sum_scores":
        allowed, values = local_allowed, sorted_v
        if sorted_allowed is not None:
            # A block with nothing sorted (causal block 0, a segment's first block) attends to its
            # local keys and values alone: `kb + 0` as keys, `vb` as values.
            has_sorted = tf.reduce_any(sorted_allowed, axis=-1, keepdims=True)  # [B, H, NB, 1, 1]
            allowed = _and(local_allowed, tf.logical_or(sorted_allowed, tf.logical_not(has_sorted)))
            values = tf.where(has_sorted, sorted_v, vb)
        out = dot_product_attention(qb, kb + sorted_k, values, allowed, dropout_rate, seed)
    else:
        out = dot_product_attention(qb, kb, vb, local_allowed, dropout_rate, seed)
        out += dot_product_attention(qb, sorted_k, sorted_v, sorted_allowed, dropout_rate, seed)
    return from_blocks(out, -3)


def _segment_perm(perm, segment_ids, block_size):
    """Zeroes sorting-matrix entries between blocks that are not sortable within one segment."""
    if segment_ids is None:
        return perm
    return tf.where(same_block_segment(block_segments(segment_ids, block_size)), perm, 0.0)


def sortcut_attention(q, k, v, perm, block_size, budget, key_mask=None, dropout_rate=0.0, seed=None,
                      segment_ids=None):
    """SortCut attention (paper 3.4): `softmax(Q psi_S(K)[:n]^T / sqrt(D)) psi_S(V)[:n]`.

    Every query attends to the first `budget` sorted blocks (`budget * block_size` keys).

    Args:
      q, k, v: `[B, H, L, D]`, L a multiple of `block_size`.
      perm: the full `[B, H, NB, NB]` balanced sorting matrix; its first `budget` rows are used.
      budget: number of sorted blocks kept, 1 <= budget <= NB.
      key_mask: optional bool `[B, L]`, sorted with the keys as in `sinkhorn_block_attention`.
      segment_ids: optional int `[B, L]` packed segments. Each segment gets its own budget: its
        queries see the first `budget` sorted blocks *of their segment* (the rows of `perm` at
        the segment's first `budget` block positions; all of them when the segment is shorter),
        exactly what the segment alone would see.

    Returns:
      `[B, H, L, D]`.
    """
    q, k, v = (tf.convert_to_tensor(t) for t in (q, k, v))
    _check_block_size(block_size, q.shape[-2])
    num_blocks = perm.shape[-1]
    if not isinstance(budget, int) or budget < 1 or (num_blocks is not None and budget > num_blocks):
        raise ValueError(f"`budget` must be an int in [1, number of blocks={num_blocks}], got {budget!r}.")
    kb, vb = to_blocks(k, block_size, -2), to_blocks(v, block_size, -2)
    mb = _key_blocks(_real_keys(key_mask, segment_ids), block_size)
    kb, vb = _zero_masked(kb, mb), _zero_masked(vb, mb)
    if segment_ids is not None:
        return _packed_sortcut(q, kb, vb, perm, mb, block_size, budget, segment_ids, dropout_rate, seed)
    perm = tf.cast(perm, tf.float32)[..., :budget, :]  # [B, H, n, NB]
    sorted_k = from_blocks(sort_blocks(kb, perm), -3)  # [B, H, n*b, D]
    sorted_v = from_blocks(sort_blocks(vb, perm), -3)
    allowed = _sorted_key_allowed(perm, mb, causal=False)  # [B, H, n, 1, b] or None
    if allowed is not None:
        allowed = from_blocks(allowed[..., 0, :], -2)[..., None, :]  # [B, H, 1, n*b]
    return dot_product_attention(q, sorted_k, sorted_v, allowed, dropout_rate, seed)


def _packed_sortcut(q, kb, vb, perm, mb, block_size, budget, segment_ids, dropout_rate, seed):
    """SortCut on packed rows: query block i attends to the sorted blocks at rows
    `start(i) .. start(i) + budget - 1` of its segment (`start`: the segment's first block)."""
    segs = block_segments(segment_ids, block_size)  # [B, NB]
    nb = tf.shape(segs)[1]
    start = tf.range(nb)[None, :] - positions_in_run(segs)  # [B, NB]
    rows = start[:, :, None] + tf.range(budget)  # [B, NB, n]
    in_range = rows < nb
    rows = tf.minimum(rows, nb - 1)
    row_ok = tf.logical_and(in_range, tf.equal(tf.gather(segs, rows, batch_dims=1), segs[:, :, None]))
    perm = _segment_perm(tf.cast(perm, tf.float32), segment_ids, block_size)
    sorted_k = tf.gather(sort_blocks(kb, perm), rows, axis=2, batch_dims=1)  # [B, H, NB, n, b, D]
    sorted_v = tf.gather(sort_blocks(vb, perm), rows, axis=2, batch_dims=1)
    mass = tf.gather(_sorted_key_allowed(perm, mb, causal=False)[..., 0, :], rows, axis=2,
                     batch_dims=1)  # [B, H, NB, n, b]
    allowed = tf.logical_and(mass, row_ok[:, None, :, :, None])
    allowed = from_blocks(allowed, -2)[..., None, :]  # [B, H, NB, 1, n*b]
    qb = to_blocks(q, block_size, -2)  # [B, H, NB, b, D]
    out = dot_product_attention(qb, from_blocks(sorted_k, -3), from_blocks(sorted_v, -3), allowed, dropout_rate, seed)
    return from_blocks(out, -3)
