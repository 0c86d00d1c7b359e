"""The meta sorting network (SortNet) of paper section 3.1, eq. 1-5 and Table 8."""
import keras
from keras import ops

from sinkhorn_t2t.layers.self_attention import check_positive_int
from sinkhorn_t2t.ops.segments import positions_in_run

SORT_VARIANTS = ("linear", "linear_relu", "mlp", "mlp_relu")


@keras.saving.register_keras_serializable(package="sinkhorn_t2t")
class SortNet(keras.layers.Layer):
    """Maps each block of a sequence to logits over block positions: `R = P(psi_P(X))`.

    Block summary `psi_P` (eq. 2): the sum of the block's real tokens (padding excluded). Causal
    mode (eq. 5): the cumulative sum of real tokens up to and including the block's first token,
    so block i's row never depends on later tokens. `P` is one of Table 8's variants, with one
    set of weights per head (section 3.2.2):
      - "linear": F1(X)                 (Table 8 row 4, the paper's best)
      - "linear_relu": relu(F1(X))      (row 3)
      - "mlp": F2(relu(F1(X)))          (row 2; F1 is d x d)
      - "mlp_relu": relu(F2(relu(F1(X))))   (row 1, eq. 4)

    Args:
      num_blocks: width of the output (the largest number of blocks), or None to take it from
        the first input. Inputs with fewer blocks use the leading rows and columns; inputs with
        more are an error.
      variant: one of `SORT_VARIANTS`.
      causal: use the causal (cumulative-sum) summary.
      num_heads: number of independent sort nets.
      use_output_bias: add the per-column output bias. Causal balancing starts by dividing each
        column by its running sum, which cancels a per-column constant exactly, so
        `BlockSortingAttention` turns it off there (for the variants without a final ReLU).

    Call arguments:
      blocks: `(batch, num_input_blocks, block_size, dim)`.
      mask: optional bool `(batch, num_input_blocks, block_size)`, True = real token.
      block_segments: optional int `(batch, num_input_blocks)` packed segment of each block. A
        block then uses the output column of its position *inside its segment* (relative, like
        packed positions), and the causal summary sums only earlier blocks of its segment, so a
        packed segment gets the logits it would get alone.

    Returns:
      `(batch, num_heads, num_input_blocks, num_input_blocks)` logits R (float32).
    """

    def __init__(self, num_blocks=None, variant="linear", causal=False, num_heads=1, use_output_bias=True, **kwargs):
        super().__init__(**kwargs)
        if num_blocks is not None and (not isinstance(num_blocks, int) or num_blocks <= 0):
            raise ValueError(f"SortNet: `num_blocks` must be a positive int or None, got {num_blocks!r}.")
        if variant not in SORT_VARIANTS:
            raise ValueError(f"SortNet: `variant` must be one of {SORT_VARIANTS}, got {variant!r}.")
        check_positive_int("SortNet", "num_heads", num_heads)
        self.num_blocks = num_blocks
        self.variant = variant
        self.causal = causal
        self.num_heads = num_heads
        self.use_output_bias = use_output_bias
        self.supports_masking = True  # the mask is consumed here, not propagated

    def build(self, blocks_shape, mask_shape=None):
        if self.num_blocks is None:
            if blocks_shape[1] is None:
                raise ValueError("SortNet: the number of blocks is unknown; pass `num_blocks` (or `max_length` "
                                 "to the attention layer).")
            self.num_blocks = int(blocks_shape[1])
        dim = int(blocks_shape[-1])
        heads, width = self.num_heads, self.num_blocks
        init = keras.initializers.GlorotUniform()
        if self.variant.startswith("mlp"):
            self.hidden_kernel = self.add_weight(name="hidden_kernel", shape=(heads, dim, dim), initializer=init)
            self.hidden_bias = self.add_weight(name="hidden_bias", shape=(heads, dim), initializer="zeros")
        self.output_kernel = self.add_weight(name="output_kernel", shape=(heads, dim, width), initializer=init)
        self.output_bias = None
        if self.use_output_bias:
            self.output_bias = self.add_weight(name="output_bias", shape=(heads, width), initializer="zeros")

    def summarize(self, blocks, mask=None, block_segments=None):
        """Block summaries psi_P(X): `(batch, blocks, block_size, dim)` -> `(batch, blocks, dim)`."""
        if mask is not None:
            blocks = blocks * ops.cast(mask, blocks.dtype)[..., None]
        sums = ops.sum(blocks, axis=2)
        if not self.causal:
            return sums  # eq. 2
        # eq. 5: sum of all tokens before block i, plus block i's first token. The prefix sum is a
        # product with a strictly lower-triangular matrix: XLA compiles a cumsum to a quadratic
        # reduce-window, a matmul runs at full speed with or without XLA.
        n = ops.shape(sums)[1]
        earlier = ops.arange(n)[None, :] < ops.arange(n)[:, None]  # [i, j]: j < i
        if block_segments is None:
            weights = ops.cast(earlier, sums.dtype)[None]
        else:
            same = ops.equal(block_segments[:, :, None], block_segments[:, None, :])
            weights = ops.cast(ops.logical_and(earlier[None], same), sums.dtype)
        return ops.matmul(weights, sums) + blocks[:, :, 0, :]

    def project(self, summaries, columns):
        """P (eq. 3-4, Table 8): summaries `(batch, rows, dim)` -> logits `(batch, heads, rows,
        columns)` over the first `columns` block positions."""
        if self.variant.startswith("mlp"):
            x = ops.einsum("bnd,hde->bhne", summaries, self.hidden_kernel) + self.hidden_bias[None, :, None, :]
            logits = ops.einsum("bhne,hem->bhnm", ops.relu(x), self.output_kernel[:, :, :columns])
        else:
            logits = ops.einsum("bnd,hdm->bhnm", summaries, self.output_kernel[:, :, :columns])
        if self.use_output_bias:
            logits = logits + self.output_bias[None, :, None, :columns]
        return ops.relu(logits) if self.variant.endswith("relu") else logits

    def call(self, blocks, mask=None, block_segments=None):
        num_input_blocks = blocks.shape[1]
        if num_input_blocks is not None and num_input_blocks > self.num_blocks:
            raise ValueError(
                f"SortNet: input has {num_input_blocks} blocks but the sort net was built for at most "
                f"{self.num_blocks}; raise `max_length` (or `num_blocks`)."
            )
        # Output columns: the leading n alone; a block's position inside its segment when packed.
        n = ops.shape(blocks)[1] if block_segments is None else self.num_blocks
        logits = self.project(self.summarize(blocks, mask, block_segments), n)
        if block_segments is not None:
            columns = ops.one_hot(positions_in_run(block_segments), self.num_blocks, dtype=logits.dtype)
            logits = ops.einsum("bhnw,bmw->bhnm", logits, columns)  # [B, H, NB, NB]
        return ops.cast(logits, "float32")

    def compute_mask(self, blocks, mask=None):
        return None

    def compute_output_shape(self, blocks_shape, mask_shape=None):
        return (blocks_shape[0], self.num_heads, blocks_shape[1], blocks_shape[1])

    def get_config(self):
        config = super().get_config()
        config.update(num_blocks=self.num_blocks, variant=self.variant, causal=self.causal, num_heads=self.num_heads,
                      use_output_bias=self.use_output_bias)
        return config
