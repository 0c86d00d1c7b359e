"""SortCut Sinkhorn attention (paper 3.4): attend to the first `budget` sorted blocks only."""
import keras

from sinkhorn_t2t.layers.block_sorting import BlockSortingAttention
from sinkhorn_t2t.layers.self_attention import check_positive_int
from sinkhorn_t2t.ops import sortcut_attention


@keras.saving.register_keras_serializable(package="sinkhorn_t2t")
class SortCutAttention(BlockSortingAttention):
    """Every query attends to the first `budget` blocks of the block-sorted sequence
    (`budget * block_size` keys): O(L * budget * b + NB^2) memory. Encoder only.

    Args:
      budget: number of sorted blocks kept, 1 <= budget <= number of blocks.
      Others: see `BlockSortingAttention` and `SelfAttention`. `causal=True` is an error.
    """

    def __init__(self, num_heads, key_dim, block_size, budget, sinkhorn_iters=5, temperature=0.75, causal=False,
                 **kwargs):
        if causal:
            raise ValueError("SortCutAttention: `causal=True` is not supported; SortCut is encoder-only "
                             "(paper 3.4). Use SinkhornAttention(causal=True) for decoders.")
        check_positive_int("SortCutAttention", "budget", budget)
        super().__init__(num_heads, key_dim, block_size, sinkhorn_iters=sinkhorn_iters, temperature=temperature,
                         causal=False, **kwargs)
        self.budget = budget
        if self.max_length is not None:
            self._check_budget(self.max_blocks(None))

    def _check_budget(self, num_blocks):
        if self.budget > num_blocks:
            raise ValueError(f"SortCutAttention: `budget`={self.budget} exceeds the number of blocks {num_blocks} "
                             f"(length / block_size); lower `budget` or `block_size`.")

    def build(self, input_shape):
        super().build(input_shape)
        self._check_budget(self.sort_net.num_blocks)

    def _attend(self, x, q, k, v, key_mask, training, segment_ids):
        num_blocks = q.shape[2] // self.block_size if q.shape[2] is not None else None
        if num_blocks is not None:
            self._check_budget(num_blocks)
        perm = self.sorting_matrix(x, key_mask, training, segment_ids)
        return sortcut_attention(q, k, v, perm, self.block_size, self.budget, key_mask=key_mask,
                                 dropout_rate=self._dropout_rate(training), seed=self._dropout_seed,
                                 segment_ids=segment_ids)

    def get_config(self):
        config = super().get_config()
        config.pop("causal")
        return {**config, "budget": self.budget}
