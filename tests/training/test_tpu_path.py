"""The TPU code path without a TPU: the default device stands in for the TPU resolver, and the
whole multi-step training function (`iterations_per_loop` steps on stacked fixed-shape batches)
compiles with XLA for every attention type on a packed problem; its steps equal single steps;
and `activation_dtype=bfloat16` trains like float32 with balancing and softmax in float32."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from sinkhorn_t2t import registry
from sinkhorn_t2t.models.attention_factory import SELF_ATTENTION_TYPES
from sinkhorn_t2t.training.trainer import COMPILED_MESSAGE, Trainer
from tests.data.test_text_problems import ToyPackedLM, _generated
from tests.graph_ops import attention_op_kind


@pytest.fixture(scope="module")
def packed_data(tmp_path_factory):
    problem = ToyPackedLM()
    return problem, _generated(problem, tmp_path_factory.mktemp("packed"))


def _trainer(packed_data, out, kind="sinkhorn", seed=0, tpu_path=True, **overrides):
    problem, data_dir = packed_data
    keras.utils.set_random_seed(seed)
    hp = registry.hparams("transformer_test")
    hp.override_from_dict(dict(self_attention_type=kind, max_length=64, batch_size=256, **overrides))
    return Trainer(problem, "transformer", hp, data_dir, str(out), tf.distribute.get_strategy(),
                   fixed_shapes=tpu_path, xla_compile=tpu_path, iterations_per_loop=3, seed=seed, log=lambda s: None)


def _stacked_batch(trainer):
    trainer.loop_steps = trainer.iterations_per_loop
    return next(iter(trainer._stacked_batches(tf.distribute.InputContext(), skip=0)))


@pytest.mark.parametrize("kind", SELF_ATTENTION_TYPES)
def test_the_multi_step_function_compiles_with_xla_at_static_shapes(packed_data, tmp_path, kind):
    trainer = _trainer(packed_data, tmp_path / "model", kind)
    assert trainer.stacked
    batch = _stacked_batch(trainer)
    assert all(v.shape[0] == 3 and None not in v.shape for v in batch.values())  # 3 steps of fixed-shape batches
    hlo = trainer._multi_step.experimental_get_compiler_ir(batch)(stage="hlo")
    assert "while" in hlo and "<=" not in hlo  # one XLA loop over the steps, no bounded-dynamic shapes
    logs = []
    trainer.log = logs.append
    assert trainer.train(6, save_every=6, log_every=3) == 6
    assert trainer.optimizer.iterations.numpy() == 6
    # Two host calls at the one bucket length of the packed rows: compiled once, on the first.
    length = batch["targets"].shape[-1]
    compiled = [line for line in logs if COMPILED_MESSAGE in line]
    assert len(compiled) == 1 and compiled[0].startswith(f"bucket length {length}: {COMPILED_MESSAGE} (steps 1-3,")


def test_stacked_steps_equal_single_steps(packed_data, tmp_path):
    """Three steps run inside one XLA program compute the losses and the weight updates of three
    separate steps on the same batches (no dropout or noise, so both see the same computation)."""
    quiet = dict(sinkhorn_gumbel_noise=False, layer_prepostprocess_dropout=0.0, attention_dropout=0.0,
                 relu_dropout=0.0)
    stacked = _trainer(packed_data, tmp_path / "a", **quiet)
    single = _trainer(packed_data, tmp_path / "b", tpu_path=False, **quiet)
    before = [w.numpy() for w in stacked.model.trainable_weights]
    for a, b in zip(stacked.model.weights, single.model.weights):
        b.assign(a)
    batch = _stacked_batch(stacked)
    loss_sum, weight_sum = stacked._multi_step(batch)
    step = tf.function(single._replica_train_step)
    sums = [step({k: v[i] for k, v in batch.items()}) for i in range(3)]
    assert float(weight_sum) == sum(float(w) for _, w in sums) > 0
    np.testing.assert_allclose(float(loss_sum), sum(float(loss) for loss, _ in sums), rtol=1e-5)
    # Weight updates agree to XLA's rounding. (Adafactor normalises updates, so parameters whose
    # true gradient is zero, such as key biases, take rounding-sized random steps in both runs;
    # the update vector as a whole is compared.)
    moved = np.concatenate([(a.numpy() - w).ravel() for a, w in zip(stacked.model.trainable_weights, before)])
    expected = np.concatenate([(b.numpy() - w).ravel() for b, w in zip(single.model.trainable_weights, before)])
    assert np.linalg.norm(expected) > 1e-2  # the steps did train
    assert np.linalg.norm(moved - expected) <= 0.02 * np.linalg.norm(expected)


def _float_op_dtypes(trainer, features):
    graph = tf.function(trainer._replica_train_step).get_concrete_function(features).graph
    graphs = [graph] + [f.graph for f in graph._functions.values() if hasattr(f, "graph")]
    ops = [op for g in graphs for op in g.get_operations()]
    kinds = {(attention_op_kind(op), op.get_attr("T").name) for op in ops
             if op.type in ("Softmax", "LogSoftmax", "Exp", "Log")}
    matmuls = {op.get_attr("T").name for op in ops if op.type in ("MatMul", "BatchMatMulV2", "Einsum")}
    return kinds, matmuls


def test_bfloat16_trains_like_float32_with_float32_balancing(packed_data, tmp_path):
    losses = {}
    for dtype in ("float32", "bfloat16"):
        trainer = _trainer(packed_data, tmp_path / dtype, tpu_path=False, activation_dtype=dtype)
        if dtype == "bfloat16":
            features = next(iter(trainer.problem.dataset("train", packed_data[1], trainer.hparams).padded_batch(2)))
            kinds, matmuls = _float_op_dtypes(trainer, {k: tf.cast(v, tf.int32) for k, v in features.items()})
            assert "bfloat16" in matmuls, matmuls  # the projections really run in bfloat16
            # The attention softmax (Softmax, or `softmax_pair`'s exponentials) and the balancing run in float32.
            assert {("Softmax", "float32"), ("softmax_pair/Exp", "float32")} & kinds, kinds
            assert all(t == "float32" for _, t in kinds), kinds
        said = []
        trainer.log = said.append
        trainer.train(200, save_every=200, log_every=200)
        losses[dtype] = float(next(line for line in said if line.startswith("step 200/")).split("loss ")[1].split()[0])
    assert np.isfinite(losses["bfloat16"])
    assert abs(losses["bfloat16"] - losses["float32"]) <= 0.05 * losses["float32"], losses

