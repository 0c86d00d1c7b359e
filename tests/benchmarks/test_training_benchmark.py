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
