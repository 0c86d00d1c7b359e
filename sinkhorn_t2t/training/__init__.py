"""Training, evaluation and decoding on `tf.distribute`."""
