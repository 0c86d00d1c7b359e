"""Shared shape of every self-attention layer here: project, attend per head, project back."""
import keras
from keras import ops

from sinkhorn_t2t.ops.linear import merge_heads, project_to_heads


def check_positive_int(layer, name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{layer}: `{name}` must be a positive int, got {value!r}.")


def check_rate(layer, name, value):
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{layer}: `{name}` must be in [0, 1), got {value!r}.")


class SelfAttention(keras.layers.Layer):
    """Multi-head self-attention skeleton in the shape of `keras.layers.MultiHeadAttention`.

    `build` creates the `query`, `key`, `value` and `attention_output` projections (`EinsumDense`
    weights, applied as 2-D matmuls: see `sinkhorn_t2t.ops.linear`); `call` pads the
    length to a multiple of `pad_multiple` (the padding is masked), projects to heads, runs
    `_attend` and cuts the padding off again. Subclasses implement `_attend`.

    Args:
      num_heads: number of attention heads H.
      key_dim: size of each head's queries and keys D.
      value_dim: size of each head's values Dv (None: `key_dim`; T2T's `attention_value_channels`).
      dropout: dropout rate on the attention weights (training only).
      share_kv: tie keys and values, `V = K` (Table 8 row 5).
      seed: seed for dropout and noise, for reproducible training-mode calls.

    Call arguments:
      x: `(batch_size, seq_len, dim)`.
      mask: optional bool `(batch_size, seq_len)`, True = real token. Masked positions never
        influence real ones.
      training: Python bool; enables dropout (and Gumbel noise where a layer has it).
      segment_ids: optional int `(batch_size, seq_len)` for packed rows (1, 2, ... per example,
        0 for padding): no position attends across segments.

    Returns:
      `(batch_size, seq_len, dim)`.
    """

    pad_multiple = 1

    def __init__(self, num_heads, key_dim, dropout=0.0, share_kv=False, seed=None, value_dim=None, **kwargs):
        super().__init__(**kwargs)
        name = type(self).__name__
        check_positive_int(name, "num_heads", num_heads)
        check_positive_int(name, "key_dim", key_dim)
        if value_dim is not None:
            check_positive_int(name, "value_dim", value_dim)
            if share_kv and value_dim != key_dim:
                raise ValueError(f"{name}: `share_kv=True` ties values to keys, so `value_dim` must equal `key_dim` "
                                 f"({key_dim}), got {value_dim}.")
        check_rate(name, "dropout", dropout)
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.value_dim = value_dim or key_dim
        self.dropout = dropout
        self.share_kv = share_kv
        self.seed = seed
        self.supports_masking = True
        self._dropout_seed = keras.random.SeedGenerator(seed)

    def _projection(self, name, shape, depth):
        dense = keras.layers.EinsumDense(
            "abc,cde->abde", output_shape=(None, self.num_heads, depth), bias_axes="de", name=name,
            dtype=self.dtype_policy)
        dense.build(shape)
        return dense

    def build(self, input_shape):
        dim = input_shape[-1]
        self._query_dense = self._projection("query", input_shape, self.key_dim)
        self._key_dense = self._projection("key", input_shape, self.key_dim)
        self._value_dense = None if self.share_kv else self._projection("value", input_shape, self.value_dim)
        self._output_dense = keras.layers.EinsumDense(
            "abcd,cde->abe", output_shape=(None, dim), bias_axes="e", name="attention_output", dtype=self.dtype_policy)
        self._output_dense.build((input_shape[0], input_shape[1], self.num_heads, self.value_dim))

    def _heads(self, dense, x):
        """`x (B, L, dim)` through the `dense` projection -> `(B, H, L, D)`."""
        return project_to_heads(x, dense.kernel, dense.bias)

    def _merge_heads(self, out):
        """`(B, H, L, Dv)` -> `(B, L, dim)` through the output projection."""
        return merge_heads(out, self._output_dense.kernel, self._output_dense.bias)

    def call(self, x, mask=None, training=None, segment_ids=None):
        length = x.shape[1] if x.shape[1] is not None else ops.shape(x)[1]
        pad = (-length) % self.pad_multiple
        if mask is not None:
            mask = ops.cast(mask, "bool")
        if segment_ids is not None:
            segment_ids = ops.cast(segment_ids, "int32")
        if isinstance(pad, int) and pad == 0:
            key_mask = mask
        else:
            if mask is None:
                mask = ops.ones(ops.shape(x)[:2], dtype="bool")
            x = ops.pad(x, [[0, 0], [0, pad], [0, 0]])
            key_mask = ops.pad(mask, [[0, 0], [0, pad]], constant_values=False)
            if segment_ids is not None:
                segment_ids = ops.pad(segment_ids, [[0, 0], [0, pad]])
        q = self._heads(self._query_dense, x)
        k = self._heads(self._key_dense, x)
        v = k if self.share_kv else self._heads(self._value_dense, x)
        out = self._merge_heads(self._attend(x, q, k, v, key_mask, bool(training), segment_ids))
        return out if isinstance(pad, int) and pad == 0 else out[:, :length]

    def _attend(self, x, q, k, v, key_mask, training, segment_ids):
        """`q, k (B, H, L, D)`, `v (B, H, L, Dv)`, `key_mask (B, L)` / `segment_ids (B, L)` or None ->
        `(B, H, L, Dv)`."""
        raise NotImplementedError

    # --- incremental decoding ----------------------------------------------------------------
    def init_cache(self, batch_size, max_length):
        """State for `decode_step`: a dict of tensors with static shapes (keys and values of every
        position up to `max_length`, plus what the layer's attention needs to go on). Every tensor
        has the batch as its first axis, so beam search can reorder the state by rows.

        Only causal layers decode incrementally: a non-causal layer's output at position t
        depends on later positions.
        """
        name = type(self).__name__
        if not getattr(self, "causal", False):
            raise ValueError(f"{name}: init_cache / decode_step need causal=True: the output of a non-causal layer "
                             "at position t depends on later positions, so it cannot be computed one step at a time.")
        if not self.built:
            raise ValueError(f"{name}: call the layer once (or build it) before init_cache.")
        length = -(-max_length // self.pad_multiple) * self.pad_multiple
        cache = {"key": ops.zeros((batch_size, self.num_heads, length, self.key_dim), self.compute_dtype),
                 "value": ops.zeros((batch_size, self.num_heads, length, self.value_dim), self.compute_dtype)}
        cache.update(self._init_step_state(batch_size, length))
        return cache

    def decode_step(self, x_t, cache, index):
        """Position `index` of a causal pass, from the state of positions before it.

        Args:
          x_t: `(batch_size, 1, dim)`, the layer input at position `index`.
          cache: from `init_cache` or the previous `decode_step`.
          index: scalar int32 tensor t.

        Returns:
          `(y_t, cache)`: `y_t (batch_size, 1, dim)` equals `layer(x, training=False)[:, t:t + 1]`
          for any `x` whose position t is `x_t` and whose earlier positions were given before.
        """
        index = ops.cast(index, "int32")
        x_t = ops.cast(x_t, self.compute_dtype)  # a method, not __call__: Keras does not autocast here
        q = self._heads(self._query_dense, x_t)  # [B, H, 1, D]
        k = self._heads(self._key_dense, x_t)
        v = k if self.share_kv else self._heads(self._value_dense, x_t)
        cache = dict(cache)
        cache["key"] = ops.slice_update(cache["key"], (0, 0, index, 0), ops.cast(k, cache["key"].dtype))
        cache["value"] = ops.slice_update(cache["value"], (0, 0, index, 0), ops.cast(v, cache["value"].dtype))
        out = self._attend_step(x_t, q, cache, index)  # [B, H, 1, Dv]; may update cache
        return self._merge_heads(out), cache

    def _init_step_state(self, batch_size, length):
        """Extra decoding state beyond keys and values."""
        return {}

    def _attend_step(self, x_t, q, cache, index):
        """`q (B, H, 1, D)` at position `index` over `cache` -> `(B, H, 1, Dv)`."""
        raise NotImplementedError

    def _dropout_rate(self, training):
        return self.dropout if training else 0.0

    def compute_mask(self, x, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(num_heads=self.num_heads, key_dim=self.key_dim, value_dim=self.value_dim, dropout=self.dropout,
                      share_kv=self.share_kv, seed=self.seed)
        return config
