"""No hparam is silently ignored: each one T2T users set either has T2T's effect here or is a clear
error naming it."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from sinkhorn_t2t import registry
from sinkhorn_t2t.hparam import HParams
from sinkhorn_t2t.layers import SinkhornAttention
from sinkhorn_t2t.models.transformer import UNSUPPORTED, HParamsError, build_model
from sinkhorn_t2t.training.decoding import Decoder, decode_hparams
from sinkhorn_t2t.training.optimizers import weight_decay_penalty
from sinkhorn_t2t.training.trainer import Trainer
from tests.bin.tools import run_tool
from tests.layers.layer_reference import numpy_forward

OTHER_VALUE = {"weight_dtype": "bfloat16", "pack_dataset": True, "layer_preprocess_sequence": "an",
               "layer_postprocess_sequence": "dan", "optimizer_adafactor_beta1": 0.9,
               "optimizer_adafactor_beta2": 0.98, "optimizer_adafactor_multiply_by_parameter_scale": False}


def _hparams(**overrides):
    hp = registry.hparams("transformer_test")
    hp.override_from_dict(dict(dict(max_length=16, self_attention_type="sinkhorn"), **overrides))
    return hp


def _trainer(tmp_path, **overrides):
    keras.utils.set_random_seed(5)
    return Trainer(registry.problem("algorithmic_sort_problem"), "transformer", _hparams(**overrides), str(tmp_path),
                   str(tmp_path / "model"), tf.distribute.get_strategy())


def test_sortcut_whose_budget_spans_more_than_eight_ids_builds(tmp_path):
    """The trainer builds the model on a dummy batch, which must hold the budget's blocks (2 x 8)."""
    trainer = _trainer(tmp_path, self_attention_type="sortcut", sinkhorn_block_size=8, sortcut_budget=2)
    features = {"inputs": tf.ones([1, 16], tf.int32), "targets": tf.ones([1, 16], tf.int32)}
    assert trainer.model(features, training=False).shape[:2] == (1, 16)


@pytest.mark.parametrize("name", sorted(UNSUPPORTED))
def test_unsupported_values_are_errors_naming_the_hparam(name):
    assert set(OTHER_VALUE) == set(UNSUPPORTED)
    problem = HParams(modality={"targets": "symbol"}, vocab_size={"targets": 8})
    with pytest.raises(HParamsError, match=name):
        build_model("transformer", _hparams(**{name: OTHER_VALUE[name]}), problem)
    build_model("transformer", _hparams(**{name: UNSUPPORTED[name][0]}), problem)  # the supported value builds


def test_unsupported_value_through_the_trainer_is_one_line(tmp_path):
    result = run_tool("t2t-trainer", "--problem=algorithmic_sort_problem", "--model=transformer",
                      "--hparams_set=transformer_test", "--hparams=optimizer_adafactor_beta1=0.9",
                      f"--data_dir={tmp_path}", f"--output_dir={tmp_path / 'model'}", timeout=120)
    assert result.returncode == 2 and "optimizer_adafactor_beta1" in result.stderr.strip().splitlines()[-1]


def test_weight_decay_is_t2ts_l2_penalty_without_biases(tmp_path):
    trainer = _trainer(tmp_path)
    variables = trainer.model.trainable_variables
    expected = 0.01 * sum(0.5 * np.sum(v.numpy() ** 2) for v in variables
                          if not (v.numpy().ndim == 1 and v.path.endswith("bias")))
    assert float(weight_decay_penalty(variables, 0.01)) == pytest.approx(expected, rel=1e-5)
    assert any(v.numpy().ndim == 1 and v.path.endswith("bias") for v in variables)  # some were skipped


def test_weight_decay_changes_the_training_step(tmp_path):
    """The same first step with and without decay: the decayed weights end smaller (SGD on the
    penalty pulls each weight towards 0)."""
    features = {"inputs": tf.constant([[5, 3, 4, 1, 0]]), "targets": tf.constant([[3, 4, 5, 1, 0]])}
    norms = {}
    for rate in (0.0, 10.0):
        trainer = _trainer(tmp_path / str(rate), weight_decay=rate)
        trainer.strategy.run(trainer._replica_train_step, args=(features,))
        norms[rate] = sum(float(np.sum(v.numpy() ** 2)) for v in trainer.model.trainable_variables)
    assert norms[10.0] < norms[0.0]


def test_initializer_gain_scales_every_kernel(tmp_path):
    plain = _trainer(tmp_path / "a").model.trainable_variables
    scaled = _trainer(tmp_path / "b", initializer_gain=4.0).model.trainable_variables
    kernels = 0
    for a, b in zip(plain, scaled):
        assert a.path == b.path
        factor = 2.0 if a.path.rsplit("/", 1)[-1].endswith("kernel") else 1.0  # sqrt(gain)
        np.testing.assert_allclose(b.numpy(), factor * a.numpy(), rtol=1e-6, atol=1e-7)
        kernels += factor == 2.0
    assert kernels > 10


def test_attention_value_channels_set_the_value_width(rng):
    x = rng.normal(size=(2, 12, 8)).astype("float32")
    layer = SinkhornAttention(2, 4, 4, value_dim=6)
    y = layer(x).numpy()
    assert layer._value_dense.kernel.shape == (8, 2, 6) and layer._output_dense.kernel.shape == (2, 6, 8)
    np.testing.assert_allclose(y, numpy_forward(layer, x), atol=1e-4)
    with pytest.raises(ValueError, match="value_dim"):
        SinkhornAttention(2, 4, 4, value_dim=6, share_kv=True)
    model = build_model("transformer", _hparams(attention_value_channels=96),
                        HParams(modality={"inputs": "symbol", "targets": "symbol"},
                                vocab_size={"inputs": 8, "targets": 8}))
    model({"inputs": np.ones((1, 5), np.int32), "targets": np.ones((1, 4), np.int32)})
    heads = model.hp.num_heads
    values = [v for v in model.trainable_variables if v.path.endswith("value/kernel")]
    assert values and all(v.shape[-1] == 96 // heads for v in values)


def test_return_beams_returns_every_beam_best_first():
    problem = HParams(modality={"inputs": "symbol", "targets": "symbol"}, vocab_size={"inputs": 6, "targets": 5})
    model = build_model("transformer", _hparams(sinkhorn_gumbel_noise=False), problem)
    inputs = np.array([[3, 4, 2, 5, 1]], np.int32)
    model({"inputs": inputs, "targets": np.ones((1, 4), np.int32)})
    decoder = Decoder(model, max_length=16)
    best = decoder.decode(inputs=inputs, hp=decode_hparams("beam_size=3,max_decode_length=6"))
    beams = decoder.decode(inputs=inputs, hp=decode_hparams("beam_size=3,max_decode_length=6,return_beams=True"))
    assert beams.shape == (1, 3, 6)
    np.testing.assert_array_equal(beams[0, 0], best[0])
    assert len({tuple(b) for b in beams[0]}) == 3
    with pytest.raises(ValueError, match="beam_size"):
        decode_hparams("return_beams=True")
