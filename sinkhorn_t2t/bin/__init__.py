"""Command-line tools with Tensor2Tensor's flags: t2t-datagen, t2t-trainer, t2t-decoder, t2t-eval."""
