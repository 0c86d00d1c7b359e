"""Sparse Sinkhorn attention layer (paper 3.2), causal (3.3) and Sinkhorn Mixture (3.2.3)."""
import keras
from keras import ops

from sinkhorn_t2t.layers.block_sorting import BlockSortingAttention
from sinkhorn_t2t.ops import (COMBINE_MODES, MASKED_LOG_VALUE, causal_sinkhorn_row, dense_attention,
                              dot_product_attention, sinkhorn_block_attention, sort_blocks, to_blocks)


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

    # --- incremental decoding (causal) -------------------------------------------------------
    def _init_step_state(self, batch_size, length):
        """The running causal SortNet summary (eq. 5), per balancing round the running column sums
        of causal balancing (3.3.2), and the sorted key / value block of the current query block."""
        width = self.sort_net.num_blocks
        if length // self.block_size > width:
            raise ValueError(f"SinkhornAttention: max_length {length} has more blocks than the SortNet width "
                             f"{width * self.block_size} allows; raise `max_length`.")
        dim = self._query_dense.kernel.shape[0]
        return {"prefix": ops.zeros((batch_size, dim), self.compute_dtype),
                "column_lse": ops.full((batch_size, self.num_heads, max(self.sinkhorn_iters, 1), width),
                                       MASKED_LOG_VALUE, "float32"),
                "sorted_key": ops.zeros((batch_size, self.num_heads, self.block_size, self.key_dim), self.compute_dtype),
                "sorted_value": ops.zeros((batch_size, self.num_heads, self.block_size, self.value_dim),
                                          self.compute_dtype)}

    def _sort_new_block(self, x_t, cache, block):
        """At a block's first token: its SortNet row, its causal-balancing row and its sorted key /
        value block (a mixture of the complete blocks before it), computed once per block."""
        summary = cache["prefix"] + x_t[:, 0]  # the tokens before the block and its first token (eq. 5)
        logits = ops.cast(self.sort_net.project(summary[:, None, :], self.sort_net.num_blocks), "float32")
        log_row, column_lse = causal_sinkhorn_row(logits[:, :, 0] / self.temperature, block, cache["column_lse"],
                                                  self.sinkhorn_iters)
        length = cache["key"].shape[2]
        row = ops.exp(log_row)[:, :, None, :length // self.block_size]  # [B, H, 1, NB]
        sort = [sort_blocks(to_blocks(cache[name], self.block_size, -2), row)[:, :, 0] for name in ("key", "value")]
        return column_lse, sort[0], sort[1]

    def _attend_step(self, x_t, q, cache, index):
        b = self.block_size
        block, slot = index // b, index % b
        keep = (cache["column_lse"], cache["sorted_key"], cache["sorted_value"])
        cache["column_lse"], cache["sorted_key"], cache["sorted_value"] = ops.cond(
            ops.equal(slot, 0), lambda: self._sort_new_block(x_t, cache, block), lambda: keep)
        cache["prefix"] = cache["prefix"] + ops.cast(x_t[:, 0], cache["prefix"].dtype)
        shape = ops.shape(cache["key"])
        local_k = ops.slice(cache["key"], (0, 0, block * b, 0), (shape[0], shape[1], b, cache["key"].shape[3]))
        local_v = ops.slice(cache["value"], (0, 0, block * b, 0), (shape[0], shape[1], b, cache["value"].shape[3]))
        sorted_k, sorted_v = cache["sorted_key"], cache["sorted_value"]
        local_ok = ops.arange(b) <= slot  # the query's block, up to itself
        sorted_ok = ops.broadcast_to(block > 0, (b,))  # block 0 has no sorted part
        if self.combine == "concat":
            out = dot_product_attention(q, ops.concatenate([local_k, sorted_k], 2),
                                        ops.concatenate([local_v, sorted_v], 2),
                                        ops.concatenate([local_ok, sorted_ok], 0)[None, None, None, :])
        elif self.combine == "sum_scores":
            values = ops.where(block > 0, sorted_v, local_v)
            out = dot_product_attention(q, local_k + sorted_k, values, local_ok[None, None, None, :])
        else:
            out = dot_product_attention(q, local_k, local_v, local_ok[None, None, None, :])
            out += dot_product_attention(q, sorted_k, sorted_v, sorted_ok[None, None, None, :])
        if self.mixture:
            allowed = ops.arange(shape[2]) <= index
            out += dot_product_attention(q, cache["key"], cache["value"], allowed[None, None, None, :])
        return out

    def get_config(self):
        return {**super().get_config(), "mixture": self.mixture, "combine": self.combine}
