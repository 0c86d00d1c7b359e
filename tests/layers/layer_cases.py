"""The attention layers under test, each built small enough for CPU tests."""
from sinkhorn_t2t.layers import (DenseAttention, LocalAttention, SinkhornAttention, SortCutAttention,
                                 SparseFixedAttention)

HEADS, KEY_DIM, BLOCK = 2, 4, 4

FACTORIES = {
    "dense": lambda causal: DenseAttention(HEADS, KEY_DIM, causal=causal, dropout=0.2, seed=7),
    "local": lambda causal: LocalAttention(HEADS, KEY_DIM, BLOCK, causal=causal, num_memory_blocks=1, dropout=0.2,
                                           seed=7),
    "sparse_fixed": lambda causal: SparseFixedAttention(HEADS, KEY_DIM, BLOCK, 2, causal=causal, dropout=0.2, seed=7),
    "sinkhorn": lambda causal: SinkhornAttention(HEADS, KEY_DIM, BLOCK, causal=causal, dropout=0.2, seed=7),
    "sinkhorn_mixture": lambda causal: SinkhornAttention(HEADS, KEY_DIM, BLOCK, causal=causal, mixture=True,
                                                         dropout=0.2, seed=7),
    "sinkhorn_sum_scores": lambda causal: SinkhornAttention(HEADS, KEY_DIM, BLOCK, causal=causal, combine="sum_scores",
                                                            sort_variant="mlp_relu", seed=7),
    "sinkhorn_sum_outputs": lambda causal: SinkhornAttention(HEADS, KEY_DIM, BLOCK, causal=causal,
                                                             combine="sum_outputs", share_kv=True, seed=7),
    "sinkhorn_no_balancing": lambda causal: SinkhornAttention(HEADS, KEY_DIM, BLOCK, causal=causal, sinkhorn_iters=0,
                                                              sort_variant="mlp", dropout=0.2, seed=7),
    "sortcut": lambda causal: SortCutAttention(HEADS, KEY_DIM, BLOCK, budget=2, dropout=0.2, seed=7),
}
CAUSAL_CAPABLE = [name for name in FACTORIES if name != "sortcut"]
ALL_CASES = [(name, False) for name in FACTORIES] + [(name, True) for name in CAUSAL_CAPABLE]
