"""Sparse Transformer "fixed" attention (Child et al. 2019), built from masks (paper 5.2)."""
import keras

from sinkhorn_t2t.layers.self_attention import SelfAttention, check_positive_int
from sinkhorn_t2t.ops import dot_product_attention, sparse_fixed_attention


@keras.saving.register_keras_serializable(package="sinkhorn_t2t")
class SparseFixedAttention(SelfAttention):
    """Attention restricted to the "fixed" pattern: a query sees its own block of `block_size`
    positions and the last `stride` positions of every block. No custom kernels, as in the paper:
    each query block scores its own block and the `L / block_size * stride` summary keys
    (`sinkhorn_t2t.ops.sparse_fixed_attention`), the outputs of dense attention under the mask.

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
        self.pad_multiple = block_size

    def _attend(self, x, q, k, v, key_mask, training, segment_ids):
        return sparse_fixed_attention(q, k, v, self.block_size, self.stride, self.causal, key_mask=key_mask,
                                      dropout_rate=self._dropout_rate(training), seed=self._dropout_seed,
                                      segment_ids=segment_ids)

    def _attend_step(self, x_t, q, cache, index):
        positions = keras.ops.arange(keras.ops.shape(cache["key"])[2])
        same_block = positions // self.block_size == index // self.block_size
        summary = positions % self.block_size >= self.block_size - self.stride
        allowed = keras.ops.logical_and(positions <= index, keras.ops.logical_or(same_block, summary))
        return dot_product_attention(q, cache["key"], cache["value"], allowed[None, None, None, :])

    def get_config(self):
        return {**super().get_config(), "block_size": self.block_size, "stride": self.stride, "causal": self.causal}
