"""Dense projections as one 2-D matmul."""
from keras import ops


def flat_matmul(x, kernel):
    """`x @ kernel` over the last axis of `x`: `[..., C] x [C, N] -> [..., N]`.

    All leading axes are folded into one, so TensorFlow runs a single `[rows, C] x [C, N]`
    matmul: on CPU about 3x faster than the batched `[B, L, C] x [C, N]` product (or the einsum)
    that `keras.layers.Dense` and `EinsumDense` issue for 3-D inputs.
    """
    shape = ops.shape(x)
    out = ops.matmul(ops.reshape(x, (-1, shape[-1])), ops.cast(kernel, x.dtype))
    return ops.reshape(out, (*shape[:-1], kernel.shape[-1]))
