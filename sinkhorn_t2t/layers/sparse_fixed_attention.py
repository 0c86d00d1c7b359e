"""Sparse Transformer "fixed" attention (Child et al. 2019), built from masks (paper 5.2)."""
import keras

from sinkhorn_t2t.layers.self_attention import SelfAttention, check_positive_int
from sinkhorn_t2t.ops import dense_attention, dot_product_attention, sparse_fixed_mask


@keras.saving.register_keras_serializable(package="sinkhorn_t2t")
class SparseFixedAttention(SelfAttention):
    """Attention restricted to the "fixed" pattern: a query sees its own block of `block_size`
    positions and the last `stride` positions of every block. As in the paper, the pattern is
    simulated with a mask over dense scores (no custom kernels), so memory stays O(L^2).

    Args:
      num_heads, key_dim, dropout, share_kv, seed: see `SelfAttention`.
      block_size: the pattern's block length l (paper: 64).
      stride: the number c of summary positions per block (paper: 8), 1 <= c <= l.
      causal: key position <= query position.
    """

    def __init__(self, num_heads, key_dim, block_size, stride, causal=False, **kwargs):
        super().__init__(num_heads, key_dim, **kwargs)
        check_positive_int("SparseFixedAttention", "block_size", block_size)
        if not isinstance(stride, int) or not 0 < stride <= block_size:
            raise ValueError(f"SparseFixedAttention: `stride` must be an int in [1, block_size={block_size}], "
                             f"got {stride!r}.")
        self.block_size = block_size
        self.stride = stride
        self.causal = causal

    def _attend(self, x, q, k, v, key_mask, training, segment_ids):
        length = q.shape[2] if q.shape[2] is not None else keras.ops.shape(q)[2]
        pattern = sparse_fixed_mask(length, self.block_size, self.stride, self.causal, segment_ids=segment_ids)
        return dense_attention(q, k, v, key_mask=key_mask, attention_mask=pattern, segment_ids=segment_ids,
                               dropout_rate=self._dropout_rate(training), seed=self._dropout_seed)

    def _attend_step(self, x_t, q, cache, index):
        positions = keras.ops.arange(keras.ops.shape(cache["key"])[2])
        same_block = positions // self.block_size == index // self.block_size
        summary = positions % self.block_size >= self.block_size - self.stride
        allowed = keras.ops.logical_and(positions <= index, keras.ops.logical_or(same_block, summary))
        return dot_product_attention(q, cache["key"], cache["value"], allowed[None, None, None, :])

    def get_config(self):
        return {**super().get_config(), "block_size": self.block_size, "stride": self.stride, "causal": self.causal}
