"""Pure tensor functions for Sparse Sinkhorn Attention (no variables)."""
from sinkhorn_t2t.ops.attention import (
    COMBINE_MODES,
    dense_attention,
    dot_product_attention,
    local_attention,
    masked_softmax,
    sinkhorn_block_attention,
    softmax_pair,
    sortcut_attention,
    sparse_fixed_attention,
    sparse_fixed_mask,
)
from sinkhorn_t2t.ops.blocks import from_blocks, sort_blocks, to_blocks
from sinkhorn_t2t.ops.linear import flat_matmul
from sinkhorn_t2t.ops.random import dropout, uniform
from sinkhorn_t2t.ops.sinkhorn import (MASKED_LOG_VALUE, causal_sinkhorn_row, gumbel_sinkhorn, running_logsumexp,
                                      sample_gumbel, sinkhorn)

__all__ = [
    "COMBINE_MODES",
    "MASKED_LOG_VALUE",
    "causal_sinkhorn_row",
    "dense_attention",
    "dot_product_attention",
    "dropout",
    "flat_matmul",
    "from_blocks",
    "gumbel_sinkhorn",
    "local_attention",
    "masked_softmax",
    "running_logsumexp",
    "sample_gumbel",
    "sinkhorn",
    "sinkhorn_block_attention",
    "softmax_pair",
    "sort_blocks",
    "sortcut_attention",
    "sparse_fixed_attention",
    "sparse_fixed_mask",
    "to_blocks",
    "uniform",
]
