"""Block-local self-attention (Luong et al. 2015; Parmar et al. 2018), the paper's local baseline."""
import keras
from keras import ops

from sinkhorn_t2t.layers.self_attention import SelfAttention, check_positive_int
from sinkhorn_t2t.ops import dot_product_attention, local_attention


@keras.saving.register_keras_serializable(package="sinkhorn_t2t")
class LocalAttention(SelfAttention):
    """Each query block of `block_size` tokens attends to its own block and to the
    `num_memory_blocks` blocks before it; O(L * block_size) memory.

    Args:
      num_heads, key_dim, dropout, share_kv, seed: see `SelfAttention`.
      block_size: tokens per block.
      causal: key position <= query position.
      num_memory_blocks: preceding blocks each query block also sees (0 = strictly block-local;
        1 gives every query `2 * block_size` keys, as many as Sinkhorn attention).
    """

    def __init__(self, num_heads, key_dim, block_size, causal=False, num_memory_blocks=0, **kwargs):
        super().__init__(num_heads, key_dim, **kwargs)
        check_positive_int("LocalAttention", "block_size", block_size)
        if not isinstance(num_memory_blocks, int) or num_memory_blocks < 0:
            raise ValueError(f"LocalAttention: `num_memory_blocks` must be an int >= 0, got {num_memory_blocks!r}.")
        self.block_size = block_size
        self.causal = causal
        self.num_memory_blocks = num_memory_blocks
        self.pad_multiple = block_size

    def _attend(self, x, q, k, v, key_mask, training, segment_ids):
        return local_attention(q, k, v, self.block_size, self.num_memory_blocks, causal=self.causal,
                               key_mask=key_mask, dropout_rate=self._dropout_rate(training), seed=self._dropout_seed,
                               segment_ids=segment_ids)

    def _attend_step(self, x_t, q, cache, index):
        """Keys of the query's block and the `num_memory_blocks` before it, up to the query."""
        keys, values = cache["key"], cache["value"]
        length = keys.shape[2]
        window = min((self.num_memory_blocks + 1) * self.block_size, length)
        first = (index // self.block_size - self.num_memory_blocks) * self.block_size  # may be < 0
        start = ops.clip(first, 0, length - window)
        shape = ops.shape(keys)
        keys = ops.slice(keys, (0, 0, start, 0), (shape[0], shape[1], window, keys.shape[3]))
        values = ops.slice(values, (0, 0, start, 0), (shape[0], shape[1], window, values.shape[3]))
        positions = start + ops.arange(window)
        allowed = ops.logical_and(positions <= index, positions >= first)
        return dot_product_attention(q, keys, values, allowed[None, None, None, :])

    def get_config(self):
        return {**super().get_config(), "block_size": self.block_size, "causal": self.causal,
                "num_memory_blocks": self.num_memory_blocks}
