"""`keras.layers.Dense` computed as one 2-D matmul over all leading axes."""
import keras

from sinkhorn_t2t.ops.linear import flat_matmul


@keras.saving.register_keras_serializable(package="sinkhorn_t2t")
class FlatDense(keras.layers.Dense):
    """`keras.layers.Dense` (same weights, same outputs) whose `(..., in) -> (..., out)` product
    is one `[rows, in] x [in, out]` matmul (`sinkhorn_t2t.ops.linear.flat_matmul`), about 3x
    faster on CPU for 3-D inputs. LoRA and quantized modes of `Dense` are not supported."""

    def call(self, inputs, training=None):
        x = flat_matmul(inputs, self.kernel)
        if self.bias is not None:
            x = x + self.bias
        return self.activation(x) if self.activation is not None else x
