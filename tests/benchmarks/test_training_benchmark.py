"""The training benchmark's matmul count: the FLOPs it reads from the traced training step equal
the transformer's matmul FLOPs counted by hand from its sizes (forward, and twice that backward)."""
import os
import sys

import tensorflow as tf

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import training  # noqa: E402

from sinkhorn_t2t import registry  # noqa: E402
from sinkhorn_t2t.training.trainer import Trainer  # noqa: E402


def test_step_matmul_flops_match_the_transformer_counted_by_hand(tmp_path):
    registry.load_builtins()
    problem = registry.problem(training.SORT)
    hp = registry.hparams("transformer_test")
    hp.override_from_dict(dict(self_attention_type="dot_product", max_length=16))
    trainer = Trainer(problem, "transformer", hp, str(tmp_path), str(tmp_path / "out"), tf.distribute.get_strategy(),
                      seed=1, log=lambda s: None)
    batch, length_in, length_out = 3, 7, 5
    features = {"inputs": tf.ones([batch, length_in], tf.int32), "targets": tf.ones([batch, length_out], tf.int32)}
    matmuls = training.step_matmuls(trainer, features)
    h, f, layers = hp.hidden_size, hp.filter_size, hp.num_hidden_layers
    vocab = trainer.problem_hparams.vocab_size["targets"]
    n_in, n_out = batch * length_in, batch * length_out
    encoder = 4 * 2 * n_in * h * h + 2 * 2 * batch * length_in ** 2 * h + 2 * 2 * n_in * h * f
    decoder = (4 * 2 * n_out * h * h + 2 * 2 * batch * length_out ** 2 * h  # self-attention
               + 2 * 2 * n_out * h * h + 2 * 2 * n_in * h * h + 2 * 2 * batch * length_out * length_in * h  # enc-dec
               + 2 * 2 * n_out * h * f)
    forward = layers * (encoder + decoder) + 2 * n_out * h * vocab  # + the logits
    assert sum(m[-1] for m in matmuls) == 3 * forward
    floor_rate, gflops = training.matmul_floor(trainer, [features, features], repeats=1)
    assert floor_rate > 0 and gflops > 0


def test_steady_rate_once_compiled_leaves_out_the_lines_that_compiled():
    """Progress lines whose interval logged a bucket length's compilation are left out of the
    steady rate once compiled (not of the plain median after the first line)."""
    log = "\n".join([
        f"bucket length 8: {training.COMPILED_MESSAGE} (steps 1-50, 40.0 s with the compilation)",
        "step 50/300  loss 3.0  1.00 steps/s",
        "step 100/300  loss 2.9  2.00 steps/s",
        f"bucket length 12: {training.COMPILED_MESSAGE} (steps 101-150, 30.0 s with the compilation)",
        "step 150/300  loss 2.8  1.20 steps/s",
        "step 200/300  loss 2.7  2.20 steps/s",
        "step 250/300  loss 2.6  2.40 steps/s",
        f"bucket length 16: {training.COMPILED_MESSAGE} (steps 251-300, 30.0 s with the compilation)",
        "step 300/300  loss 2.5  1.30 steps/s"])
    rates, steady, compiled, compiles = training.steady_rates(log, r"([0-9.]+) steps/s")
    assert rates == [1.0, 2.0, 1.2, 2.2, 2.4, 1.3]
    assert steady == 2.0  # median of 2.0 1.2 2.2 2.4 1.3
    assert compiled == 2.2  # median of 2.0 2.2 2.4
    assert compiles == 3
