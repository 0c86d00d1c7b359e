"""Keras 3 self-attention layers: Sinkhorn, causal Sinkhorn, SortCut, Mixture and baselines
(and the dense encoder-decoder attention)."""
from sinkhorn_t2t.layers.block_sorting import BlockSortingAttention
from sinkhorn_t2t.layers.cross_attention import CrossAttention
from sinkhorn_t2t.layers.dense import FlatDense
from sinkhorn_t2t.layers.dense_attention import DenseAttention
from sinkhorn_t2t.layers.dropout import Dropout
from sinkhorn_t2t.layers.local_attention import LocalAttention
from sinkhorn_t2t.layers.self_attention import SelfAttention
from sinkhorn_t2t.layers.sinkhorn_attention import SinkhornAttention
from sinkhorn_t2t.layers.sort_net import SORT_VARIANTS, SortNet
from sinkhorn_t2t.layers.sortcut_attention import SortCutAttention
from sinkhorn_t2t.layers.sparse_fixed_attention import SparseFixedAttention

__all__ = [
    "SORT_VARIANTS",
    "BlockSortingAttention",
    "CrossAttention",
    "DenseAttention",
    "Dropout",
    "FlatDense",
    "LocalAttention",
    "SelfAttention",
    "SinkhornAttention",
    "SortCutAttention",
    "SortNet",
    "SparseFixedAttention",
]
