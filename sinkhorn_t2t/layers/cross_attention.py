"""Encoder-decoder attention: `keras.layers.MultiHeadAttention`'s weights, computed faster."""
import keras
from keras import ops

from sinkhorn_t2t.ops.attention import dot_product_attention
from sinkhorn_t2t.ops.linear import merge_heads, project_to_heads


@keras.saving.register_keras_serializable(package="sinkhorn_t2t")
class CrossAttention(keras.layers.MultiHeadAttention):
    """`keras.layers.MultiHeadAttention` (same arguments, weights, dropout seed state and outputs)
    for 3-D inputs, computed as this project's self-attention layers compute: the Q/K/V/output
    projections as 2-D matmuls (`sinkhorn_t2t.ops.linear`) instead of 3-D einsums (about 3x
    slower on CPU), heads-first dot-product attention, and dropout that compiles to ThreeFry
    under XLA (`sinkhorn_t2t.ops.random`; `keras.random`'s values outside XLA).

    Two differences: a query with no allowed key gets zeros here (Keras: the mean of all values),
    and Keras masks carried by the inputs are not read (pass `attention_mask`; Keras's `call`
    would add them to it).

    Call arguments:
      query: `(B, T, dim)`.
      value: `(B, S, dim)`.
      key: optional `(B, S, dim)` (default: `value`).
      attention_mask: optional bool `(B, T, S)`, True = query may attend to key.
      training: Python bool; enables dropout on the attention weights.

    Returns:
      `(B, T, dim)`.
    """

    def call(self, query, value, key=None, attention_mask=None, training=None):
        return self.attend(self.project_query(query), *self.project_memory(value, key), attention_mask, training)

    def project_query(self, query):
        """`(B, T, dim)` -> queries `(B, H, T, D)`."""
        return project_to_heads(query, self._query_dense.kernel, self._query_dense.bias)

    def project_memory(self, value, key=None):
        """`value` (and `key`, default `value`) `(B, S, dim)` -> keys `(B, H, S, D)` and values
        `(B, H, S, Dv)` (computed once per encoder output when decoding)."""
        key = value if key is None else key
        return (project_to_heads(key, self._key_dense.kernel, self._key_dense.bias),
                project_to_heads(value, self._value_dense.kernel, self._value_dense.bias))

    def attend(self, q, k, v, attention_mask=None, training=None):
        """Projected `q (B, H, T, D)`, `k (B, H, S, D)`, `v (B, H, S, Dv)` -> `(B, T, dim)`."""
        allowed = None if attention_mask is None else ops.cast(attention_mask, "bool")[:, None]
        rate = self._dropout if training else 0.0
        out = dot_product_attention(q, k, v, allowed, rate, self._dropout_layer.seed_generator if rate else None)
        return merge_heads(out, self._output_dense.kernel, self._output_dense.bias)
