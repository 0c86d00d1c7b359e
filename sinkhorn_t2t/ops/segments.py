"""Packed-sequence segments (T2T's `*_segmentation`): which positions and blocks may interact.

Segment ids are int `[B, L]`: 1, 2, ... per packed example, 0 for padding. A token attends only
to tokens of its own segment. A block is sortable when all of its real tokens belong to one
segment; blocks are matched in the sorting matrix only with blocks of the same segment, padding
blocks only with padding blocks, and a block that straddles two segments is not sorted at all.
"""
import tensorflow as tf

from sinkhorn_t2t.ops.blocks import to_blocks

STRADDLING = -1


def block_segments(segment_ids, block_size):
    """`[B, L]` segment ids -> int `[B, NB]`: the block's segment, 0 for all padding, -1 when its
    real tokens belong to two or more segments."""
    blocks = to_blocks(tf.cast(segment_ids, tf.int32), block_size, -1)  # [B, NB, b]
    highest = tf.reduce_max(blocks, axis=-1)
    lowest_real = tf.reduce_min(tf.where(blocks > 0, blocks, tf.int32.max), axis=-1)
    pure = tf.logical_or(highest == 0, highest == lowest_real)
    return tf.where(pure, highest, STRADDLING)


def same_block_segment(block_segs):
    """bool `[B, 1, NB, NB]`: blocks i and j are sortable and of the same segment."""
    eq = tf.equal(block_segs[:, :, None], block_segs[:, None, :])
    return tf.logical_and(eq, (block_segs >= 0)[:, :, None])[:, None]


def same_segment(query_segments, key_segments):
    """bool `[..., Lq, Lk]` from `[..., Lq]` and `[..., Lk]` segment ids."""
    return tf.equal(query_segments[..., :, None], key_segments[..., None, :])


def positions_in_run(ids):
    """int `[B, N]` ids -> int32 `[B, N]`: each entry's index within its run of equal ids.

    Applied to block segments it gives a block's position inside its packed segment (the SortNet
    column it uses, as if the segment were alone); applied to token segment ids, a token's
    position inside its segment.
    """
    ids = tf.convert_to_tensor(ids)
    batch, n = tf.shape(ids)[0], tf.shape(ids)[1]
    index = tf.broadcast_to(tf.range(n)[None, :], tf.shape(ids))
    boundary = tf.concat([tf.ones_like(ids[:, :1], tf.bool), tf.not_equal(ids[:, 1:], ids[:, :-1])], axis=1)
    run = tf.cumsum(tf.cast(boundary, tf.int32), axis=1) - 1 + tf.range(batch)[:, None] * n  # unique per row
    first = tf.math.unsorted_segment_min(index, run, batch * n)
    return index - tf.gather(first, run)
