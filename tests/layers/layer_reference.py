"""Every attention layer recomputed in NumPy from its own weights (inference mode).

Pad, project, (SortNet, Sinkhorn,) attend with the references of `tests.numpy_reference`, project
back. Only the layer's weights and constructor arguments are read, never its tensor code.
"""
import numpy as np

from tests import numpy_reference as ref


def _relu(z):
    return np.maximum(z, 0.0)


def sort_net_logits(net, x, mask, block_size, causal):
    """SortNet logits `[B, H, NB, NB]` (eq. 2 / eq. 5 summaries, Table 8 variants) from padded x."""
    bsz, length, dim = x.shape
    nb = length // block_size
    tokens = x * mask[..., None]
    if causal:
        summary = np.stack([tokens[:, :i * block_size + 1].sum(1) for i in range(nb)], 1)  # eq. 5
    else:
        summary = tokens.reshape(bsz, nb, block_size, dim).sum(2)  # eq. 2
    hidden = summary[:, None]  # [B, 1, NB, d]
    if net.variant.startswith("mlp"):
        hidden = _relu(np.einsum("bnd,hde->bhne", summary, net.hidden_kernel.numpy())
                       + net.hidden_bias.numpy()[None, :, None, :])
        logits = np.einsum("bhne,hem->bhnm", hidden, net.output_kernel.numpy()[:, :, :nb])
    else:
        logits = np.einsum("bnd,hdm->bhnm", summary, net.output_kernel.numpy()[:, :, :nb])
    if net.output_bias is not None:
        logits = logits + net.output_bias.numpy()[None, :, None, :nb]
    return _relu(logits) if net.variant.endswith("relu") else logits


def sorting_matrix(layer, x, mask):
    """The layer's inference sorting matrix `[B, H, NB, NB]` from padded `x` and `mask`."""
    bs, causal = layer.block_size, layer.causal
    logits = sort_net_logits(layer.sort_net, x, mask, bs, causal) / layer.temperature
    bsz, heads, nb, _ = logits.shape
    real_block = mask.reshape(bsz, nb, bs).any(-1)
    perm = np.zeros_like(logits)
    for b in range(bsz):
        match = real_block[b][:, None] == real_block[b][None, :]  # padding blocks match padding blocks
        for h in range(heads):
            if causal:
                perm[b, h] = ref.causal_sinkhorn(np.where(match, logits[b, h], -np.inf), layer.sinkhorn_iters)
            else:
                perm[b, h] = ref.sinkhorn(logits[b, h], layer.sinkhorn_iters, mask=match)
    return perm


def numpy_forward(layer, x, mask=None):
    """`layer(x, mask=mask, training=False)` recomputed in NumPy; x `[B, L, dim]`."""
    kind = type(layer).__name__
    if mask is None:
        mask = np.ones(x.shape[:2], bool)
    block = getattr(layer, "block_size", 1)
    multiple = block if kind in ("LocalAttention", "SinkhornAttention", "SortCutAttention") else 1
    pad = (-x.shape[1]) % multiple
    xp = np.pad(x, [(0, 0), (0, pad), (0, 0)]).astype(np.float64)
    mp = np.pad(mask, [(0, 0), (0, pad)])

    def project(dense):
        return np.einsum("bld,dhk->bhlk", xp, dense.kernel.numpy()) + dense.bias.numpy()[None, :, None, :]

    q, k = project(layer._query_dense), project(layer._key_dense)
    v = k if layer.share_kv else project(layer._value_dense)
    causal = getattr(layer, "causal", False)

    def dense(allowed=lambda i, j: True):
        return ref.masked_attention(q, k, v, lambda i, j: allowed(i, j) and (j <= i or not causal), mp)

    if kind == "DenseAttention":
        out = dense()
    elif kind == "LocalAttention":
        m = layer.num_memory_blocks
        out = dense(lambda i, j: i // block - m <= j // block <= i // block)
    elif kind == "SparseFixedAttention":
        stride = layer.stride
        out = dense(lambda i, j: i // block == j // block or j % block >= block - stride)
    elif kind == "SortCutAttention":
        out = ref.sortcut_attention(q, k, v, sorting_matrix(layer, xp, mp), block, layer.budget, key_mask=mp)
    else:
        out = ref.sinkhorn_block_attention(q, k, v, sorting_matrix(layer, xp, mp), block, causal=causal, key_mask=mp,
                                           combine=layer.combine)
        if layer.mixture:
            out = out + dense()
    out_dense = layer._output_dense
    y = np.einsum("bhlk,hkd->bld", out, out_dense.kernel.numpy()) + out_dense.bias.numpy()
    return y[:, :x.shape[1]]
