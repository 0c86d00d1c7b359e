"""Vanilla dot-product self-attention (Vaswani et al. 2017), the paper's "Transformer" baseline."""
import keras
from keras import ops

from sinkhorn_t2t.layers.self_attention import SelfAttention
from sinkhorn_t2t.ops import dense_attention, dot_product_attention


@keras.saving.register_keras_serializable(package="sinkhorn_t2t")
class DenseAttention(SelfAttention):
    """Full softmax attention over all positions, O(L^2) memory.

    Args:
      num_heads, key_dim, dropout, share_kv, seed: see `SelfAttention`.
      causal: each position attends only to itself and earlier positions.
    """

    def __init__(self, num_heads, key_dim, causal=False, **kwargs):
        super().__init__(num_heads, key_dim, **kwargs)
        self.causal = causal

    def _attend(self, x, q, k, v, key_mask, training, segment_ids):
        return dense_attention(q, k, v, causal=self.causal, key_mask=key_mask, segment_ids=segment_ids,
                               dropout_rate=self._dropout_rate(training), seed=self._dropout_seed)

    def _attend_step(self, x_t, q, cache, index):
        allowed = ops.arange(ops.shape(cache["key"])[2]) <= index  # every earlier position and itself
        return dot_product_attention(q, cache["key"], cache["value"], allowed[None, None, None, :])

    def get_config(self):
        return {**super().get_config(), "causal": self.causal}
