"""`keras.layers.Dropout` with ThreeFry under XLA (see `sinkhorn_t2t.ops.random`)."""
import keras

from sinkhorn_t2t.ops.random import dropout


@keras.saving.register_keras_serializable(package="sinkhorn_t2t")
class Dropout(keras.layers.Dropout):
    """`keras.layers.Dropout` (same arguments, state and values outside XLA) whose random numbers
    compile to XLA's ThreeFry generator, not its much slower Philox expansion on CPU."""

    def call(self, inputs, training=False):
        if training and self.rate > 0:
            return dropout(inputs, self.rate, seed=self.seed_generator, noise_shape=self.noise_shape)
        return inputs
