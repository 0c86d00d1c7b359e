"""Uniform noise and dropout from `keras.random` seeds, with ThreeFry under XLA.

`keras.random.uniform` / `keras.random.dropout` (TensorFlow backend) leave `tf.random`'s
algorithm to "auto_select", which is Philox everywhere. In a TensorFlow graph on CPU, Philox is
a fast C++ kernel; XLA on CPU expands it into element-wise code that took about a third of an
XLA-compiled training step (`transformer_tiny` on the sort problem, from a profile), while its
ThreeFry is about 4x cheaper. TensorFlow's own CPU kernels implement only Philox, so:
outside XLA these functions draw Philox and return exactly `keras.random`'s values; inside an
XLA-compiled function they draw ThreeFry (other values from the same seed; `keras.random`'s own
draws under XLA also differ from its graph values).
"""
import tensorflow as tf
from keras.src.random.seed_generator import draw_seed
from tensorflow.python.ops.control_flow_util import GraphOrParentsInXlaContext


def algorithm():
    """"threefry" while tracing for XLA (`jit_compile=True`, also when nested), else "philox"."""
    return "threefry" if GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph()) else "philox"


def seed_tensor(seed):
    """int32 `[2]` stateless seed from None, an int or a `keras.random.SeedGenerator`, drawn as
    `keras.random` draws it (a generator advances its state)."""
    seed = draw_seed(seed)
    if seed.dtype != tf.int32:  # keras.random's own cast (int64 / uint32 states to int32)
        seed = tf.cast(tf.math.floormod(tf.cast(seed, tf.int64), tf.int32.max - 1), tf.int32)
    return seed


def uniform(shape, seed=None, dtype="float32"):
    """`keras.random.uniform(shape, 0, 1, dtype, seed)`: its values outside XLA."""
    return tf.random.stateless_uniform(shape, seed_tensor(seed), dtype=dtype, alg=algorithm())


def dropout(x, rate, seed=None, noise_shape=None):
    """`keras.random.dropout(x, rate, noise_shape, seed)`: its values outside XLA.

    Args:
      x: float tensor.
      rate: Python float in [0, 1), the fraction of entries zeroed (the rest scaled by
        `1 / (1 - rate)`).
      seed: None, an int or a `keras.random.SeedGenerator`.
      noise_shape: optional shape broadcastable to `x`'s (None entries: `x`'s size there).
    """
    if not rate:
        return x
    x = tf.convert_to_tensor(x)
    if noise_shape is not None:
        dims = tf.shape(x)
        noise_shape = tf.stack([dims[i] if d is None else d for i, d in enumerate(noise_shape)])
    seed, alg = seed_tensor(seed), algorithm()
    return tf.nn.experimental.general_dropout(
        x, rate, lambda shape, dtype: tf.random.stateless_uniform(shape, seed, dtype=dtype, alg=alg),
        noise_shape=noise_shape)
