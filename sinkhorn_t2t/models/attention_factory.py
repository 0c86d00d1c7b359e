"""`hparams.self_attention_type` -> a self-attention layer from `sinkhorn_t2t.layers`."""
from sinkhorn_t2t import layers

SELF_ATTENTION_TYPES = ("dot_product", "local", "sparse_fixed", "sinkhorn", "sinkhorn_mixture", "sortcut")
# Types that sort blocks: their SortNet width fixes the longest input (`max_length`), and packed
# examples must start on block boundaries (no block may mix two examples).
BLOCK_SORTING_TYPES = ("sinkhorn", "sinkhorn_mixture", "sortcut")


def self_attention(hparams, causal, name, max_length=None):
    """The self-attention layer selected by `hparams.self_attention_type`.

    Encoder stacks pass `causal=False`, decoder stacks `causal=True` (causal Sinkhorn for the
    Sinkhorn types). SortCut is encoder-only: a decoder with `sortcut` uses causal Sinkhorn.
    """
    kind = hparams.self_attention_type
    if kind not in SELF_ATTENTION_TYPES:
        raise ValueError(f"hparam self_attention_type={kind!r} is unknown; choose one of {SELF_ATTENTION_TYPES}.")
    heads = hparams.num_heads
    key_dim = (hparams.attention_key_channels or hparams.hidden_size) // heads
    value_dim = (hparams.attention_value_channels or hparams.hidden_size) // heads
    common = dict(dropout=hparams.attention_dropout, value_dim=value_dim, name=name)
    block = hparams.sinkhorn_block_size
    if kind == "dot_product":
        return layers.DenseAttention(heads, key_dim, causal=causal, **common)
    if kind == "local":
        return layers.LocalAttention(heads, key_dim, block, causal=causal,
                                     num_memory_blocks=hparams.local_num_memory_blocks, **common)
    if kind == "sparse_fixed":
        return layers.SparseFixedAttention(heads, key_dim, block, hparams.sparse_stride, causal=causal, **common)
    sorting = dict(sinkhorn_iters=hparams.sinkhorn_iters, temperature=hparams.sinkhorn_temperature,
                   gumbel_noise=hparams.sinkhorn_gumbel_noise, sort_variant=hparams.sinkhorn_sort_net,
                   share_kv=hparams.sinkhorn_share_kv, max_length=max_length, **common)
    if kind == "sortcut" and not causal:
        return layers.SortCutAttention(heads, key_dim, block, budget=hparams.sortcut_budget, **sorting)
    return layers.SinkhornAttention(heads, key_dim, block, causal=causal, mixture=kind == "sinkhorn_mixture",
                                    combine=hparams.sinkhorn_combine, **sorting)
