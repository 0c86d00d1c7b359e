"""Block reshapes and block sorting (paper 3.1.2, `X_S = U(R B(X))`)."""
import tensorflow as tf


def _dims(x):
    """Static dims where known, dynamic scalars elsewhere."""
    dynamic = tf.shape(x)
    return [d if d is not None else dynamic[i] for i, d in enumerate(x.shape.as_list())]


def to_blocks(x, block_size, axis):
    """Splits `axis` (length L, a multiple of `block_size`) into `[L / block_size, block_size]`.

    Contiguous blocks: block i holds positions `i*b .. i*b + b - 1` (never strided).
    """
    x = tf.convert_to_tensor(x)
    dims = _dims(x)
    axis = axis % len(dims)
    length = dims[axis]
    if isinstance(length, int) and length % block_size:
        raise ValueError(f"to_blocks: length {length} is not a multiple of block_size {block_size}.")
    return tf.reshape(x, dims[:axis] + [length // block_size, block_size] + dims[axis + 1:])


def from_blocks(x, axis):
    """Inverse of `to_blocks`: merges `axis` (blocks) and `axis + 1` (positions in a block)."""
    x = tf.convert_to_tensor(x)
    dims = _dims(x)
    axis = axis % len(dims)
    return tf.reshape(x, dims[:axis] + [dims[axis] * dims[axis + 1]] + dims[axis + 2:])


def sort_blocks(x, perm):
    """Sorts blocks with a (soft) permutation: `out[..., i, :, :] = sum_j perm[..., i, j] * x[..., j, :, :]`.

    Args:
      x: `[..., NB, b, D]` blocks.
      perm: `[..., NB', NB]` sorting matrix (rows: output blocks, columns: input blocks);
        leading axes broadcast against those of `x`.

    Returns:
      `[..., NB', b, D]`. With a hard permutation, whole blocks move exactly.
    """
    x = tf.convert_to_tensor(x)
    dims = _dims(x)
    flat = tf.reshape(x, dims[:-2] + [dims[-2] * dims[-1]])  # [..., NB, b*D]
    perm = tf.cast(perm, x.dtype)
    sorted_flat = tf.matmul(perm, flat)  # [..., NB', b*D]: contracts the input-block axis j only
    return tf.reshape(sorted_flat, _dims(sorted_flat)[:-1] + dims[-2:])
