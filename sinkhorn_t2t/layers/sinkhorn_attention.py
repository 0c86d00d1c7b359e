"""Sparse Sinkhorn attention layer (paper 3.2), causal (3.3) and Sinkhorn Mixture (3.2.3)."""
import keras

from sinkhorn_t2t.layers.block_sorting import BlockSortingAttention
from sinkhorn_t2t.ops import COMBINE_MODES, dense_attention, sinkhorn_block_attention


@keras.saving.register_keras_serializable(package="sinkhorn_t2t")
class SinkhornAttention(BlockSortingAttention):
    """Sparse Sinkhorn attention: every query block attends to its own block and to the block
    the learned sorting matrix moves into its place; O(b^2 + NB^2) attention memory.

    Args:
      See `BlockSortingAttention` (block_size, sinkhorn_iters, temperature, causal, gumbel_noise,
      sort_variant, max_length) and `SelfAttention` (num_heads, key_dim, dropout, share_kv, seed).
      mixture: Sinkhorn Mixture (3.2.3), adds vanilla dot-product attention (causal when
        `causal`) to the Sinkhorn output.
      combine: how the local block joins the sorted block: "concat" (default), "sum_scores"
        or "sum_outputs"; see `sinkhorn_t2t.ops.sinkhorn_block_attention`.
    """

    def __init__(self, num_heads, key_dim, block_size, sinkhorn_iters=5, temperature=0.75, causal=False,
                 mixture=False, gumbel_noise=True, sort_variant="linear", share_kv=False, dropout=0.0,
                 max_length=None, combine="concat", **kwargs):
        if combine not in COMBINE_MODES:
            raise ValueError(f"SinkhornAttention: `combine` must be one of {COMBINE_MODES}, got {combine!r}.")
        super().__init__(num_heads, key_dim, block_size, sinkhorn_iters=sinkhorn_iters, temperature=temperature,
                         causal=causal, gumbel_noise=gumbel_noise, sort_variant=sort_variant, max_length=max_length,
                         share_kv=share_kv, dropout=dropout, **kwargs)
        self.mixture = mixture
        self.combine = combine

    def _attend(self, x, q, k, v, key_mask, training, segment_ids):
        perm = self.sorting_matrix(x, key_mask, training, segment_ids)
        rate = self._dropout_rate(training)
        out = sinkhorn_block_attention(q, k, v, perm, self.block_size, causal=self.causal, key_mask=key_mask,
                                       combine=self.combine, dropout_rate=rate, seed=self._dropout_seed,
                                       segment_ids=segment_ids)
        if self.mixture:
            out += dense_attention(q, k, v, causal=self.causal, key_mask=key_mask, dropout_rate=rate,
                                   seed=self._dropout_seed, segment_ids=segment_ids)
        return out

    def get_config(self):
        return {**super().get_config(), "mixture": self.mixture, "combine": self.combine}
