"""Learned block sorting shared by Sinkhorn and SortCut attention (paper 3.1-3.2.1)."""
import math

import keras
from keras import ops

from sinkhorn_t2t.layers.self_attention import SelfAttention, check_positive_int
from sinkhorn_t2t.layers.sort_net import SortNet
from sinkhorn_t2t.ops import gumbel_sinkhorn, to_blocks
from sinkhorn_t2t.ops.segments import block_segments, same_block_segment


class BlockSortingAttention(SelfAttention):
    """Self-attention that sorts key/value blocks with a learned Gumbel-Sinkhorn matrix.

    The sorting matrix of each head is `exp(gumbel_sinkhorn(SortNet(X), temperature, iters))`,
    `[B, H, NB, NB]`. Gumbel noise is added only when `training` (and `gumbel_noise`). Padding
    blocks may only be matched with padding blocks, so real blocks never receive padding.

    Args:
      num_heads, key_dim, dropout, share_kv, seed: see `SelfAttention`.
      block_size: tokens per block b.
      sinkhorn_iters: Sinkhorn balancing rounds (>= 0; 0 = no balancing: rows are normalised
        once, see `sinkhorn_t2t.ops.sinkhorn`).
      temperature: Gumbel-Sinkhorn temperature tau > 0.
      causal: causal SortNet (eq. 5) and causal Sinkhorn balancing (3.3.2).
      gumbel_noise: add Gumbel noise in training.
      sort_variant: SortNet variant, see `SORT_VARIANTS`.
      max_length: longest input, fixing the SortNet width to `ceil(max_length / block_size)`;
        None takes it from the first input.
    """

    def __init__(self, num_heads, key_dim, block_size, sinkhorn_iters=5, temperature=0.75, causal=False,
                 gumbel_noise=True, sort_variant="linear", max_length=None, **kwargs):
        super().__init__(num_heads, key_dim, **kwargs)
        name = type(self).__name__
        check_positive_int(name, "block_size", block_size)
        if not isinstance(sinkhorn_iters, int) or isinstance(sinkhorn_iters, bool) or sinkhorn_iters < 0:
            raise ValueError(f"{name}: `sinkhorn_iters` must be an int >= 0, got {sinkhorn_iters!r}.")
        if not temperature > 0:
            raise ValueError(f"{name}: `temperature` must be > 0, got {temperature!r}.")
        if max_length is not None:
            check_positive_int(name, "max_length", max_length)
        self.block_size = block_size
        self.sinkhorn_iters = sinkhorn_iters
        self.temperature = temperature
        self.causal = causal
        self.gumbel_noise = gumbel_noise
        self.sort_variant = sort_variant
        self.max_length = max_length
        self.pad_multiple = block_size
        # Causal balancing cancels a per-column constant exactly (its first step divides each column
        # by its running sum), so a bias there would be a weight that never learns.
        cancelled = causal and sinkhorn_iters > 0 and not sort_variant.endswith("relu")
        self.sort_net = SortNet(variant=sort_variant, causal=causal, num_heads=num_heads, name="sort_net",
                                use_output_bias=not cancelled, dtype=self.dtype_policy)
        self._noise_seed = keras.random.SeedGenerator(None if self.seed is None else self.seed + 1)

    def max_blocks(self, input_length):
        """SortNet width: from `max_length` when given, else from the input length."""
        length = self.max_length or input_length
        if length is None:
            raise ValueError(f"{type(self).__name__}: the input length is not static; pass `max_length`.")
        return math.ceil(length / self.block_size)

    def build(self, input_shape):
        super().build(input_shape)
        self.sort_net.num_blocks = self.max_blocks(input_shape[1])
        self.sort_net.build((input_shape[0], self.sort_net.num_blocks, self.block_size, input_shape[-1]))

    def sorting_matrix(self, x, key_mask, training, segment_ids=None):
        """`x (B, L, dim)`, `key_mask (B, L)` / `segment_ids (B, L)` or None -> float32
        `(B, H, NB, NB)` sorting matrix. With segments, blocks are matched only within their
        packed segment, use the SortNet column of their position inside it, and the causal
        summary restarts at each segment: each segment's sub-matrix is the one it has alone."""
        blocks = to_blocks(x, self.block_size, 1)
        if segment_ids is not None:
            real = segment_ids > 0
            key_mask = real if key_mask is None else ops.logical_and(key_mask, real)
        mask_blocks = None if key_mask is None else to_blocks(key_mask, self.block_size, 1)
        if blocks.shape[1] is not None and blocks.shape[1] > self.sort_net.num_blocks:
            raise ValueError(
                f"{type(self).__name__}: input of {blocks.shape[1] * self.block_size} tokens has more blocks than "
                f"`max_length`={self.sort_net.num_blocks * self.block_size} allows; raise `max_length`.")
        block_segs = None if segment_ids is None else block_segments(segment_ids, self.block_size)
        logits = self.sort_net(blocks, mask=mask_blocks, block_segments=block_segs)
        match = None
        if block_segs is not None:
            match = same_block_segment(block_segs)  # within a segment; padding blocks with padding blocks
        elif mask_blocks is not None:
            real = ops.any(mask_blocks, axis=-1)  # [B, NB]: block holds at least one real token
            match = ops.equal(real[:, :, None], real[:, None, :])[:, None]  # pad blocks <-> pad blocks
        log_perm = gumbel_sinkhorn(logits, self.temperature, self.sinkhorn_iters,
                                   noise=bool(training and self.gumbel_noise), mask=match, causal=self.causal,
                                   seed=self._noise_seed)
        return ops.exp(log_perm)

    def get_config(self):
        config = super().get_config()
        config.update(block_size=self.block_size, sinkhorn_iters=self.sinkhorn_iters, temperature=self.temperature,
                      causal=self.causal, gumbel_noise=self.gumbel_noise, sort_variant=self.sort_variant,
                      max_length=self.max_length)
        return config
