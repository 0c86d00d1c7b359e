import math

import numpy as np
import pytest
import tensorflow as tf

from sinkhorn_t2t import layers, registry
from sinkhorn_t2t.hparam import HParams
from sinkhorn_t2t.models.attention_factory import SELF_ATTENTION_TYPES
from sinkhorn_t2t.models.transformer import HParamsError, TransformerEncoder, build_model, timing_signal

VOCAB = 12


def _hparams(kind, **overrides):
    hp = registry.hparams("transformer_test")
    hp.override_from_dict(dict(self_attention_type=kind, max_length=24, layer_prepostprocess_dropout=0.0,
                               attention_dropout=0.0, relu_dropout=0.0, num_hidden_layers=2))
    hp.override_from_dict(overrides)
    return hp


def _problem_hparams(has_inputs=True, targets="symbol", vocab=VOCAB):
    modality = {"targets": targets}
    sizes = {"targets": vocab}
    if has_inputs:
        modality["inputs"], sizes["inputs"] = "symbol", VOCAB
    return HParams(modality=modality, vocab_size=sizes)


def _features(rng, has_inputs=True, length=19):
    features = {"targets": rng.integers(2, VOCAB, size=(2, length)).astype("int32")}
    if has_inputs:
        inputs = rng.integers(2, VOCAB, size=(2, 13)).astype("int32")
        inputs[1, 9:] = 0  # padding
        features["inputs"] = inputs
    return features


MODEL_CASES = [(kind, True) for kind in SELF_ATTENTION_TYPES] + [
    (kind, False) for kind in SELF_ATTENTION_TYPES if kind != "sortcut"]  # SortCut needs an encoder


@pytest.mark.parametrize("kind,has_inputs", MODEL_CASES)
def test_every_attention_type_builds_and_the_decoder_is_causal(rng, kind, has_inputs):
    model = build_model("transformer", _hparams(kind, sinkhorn_gumbel_noise=False), _problem_hparams(has_inputs))
    features = _features(rng, has_inputs)
    for training in (False, True):
        logits = model(features, training=training).numpy()
        assert logits.shape == (2, 19, VOCAB) and np.isfinite(logits).all()
        for t in (0, 5, 11):
            changed = {k: v.copy() for k, v in features.items()}
            changed["targets"][:, t + 1:] = rng.integers(2, VOCAB, size=changed["targets"][:, t + 1:].shape)
            out = model(changed, training=training).numpy()
            # logits at position p see targets < p only (the decoder input is shifted right)
            np.testing.assert_allclose(out[:, :t + 2], logits[:, :t + 2], atol=1e-5, err_msg=f"{kind} t={t}")


def test_layers_follow_the_hparams():
    model = build_model("transformer", _hparams("sortcut", sinkhorn_block_size=4, sortcut_budget=3),
                        _problem_hparams())
    model(_features(np.random.default_rng(0)))
    encoder_attention = model.encoder_blocks[0].self_attention
    decoder_attention = model.decoder_blocks[0].self_attention
    assert isinstance(encoder_attention, layers.SortCutAttention) and encoder_attention.budget == 3
    assert isinstance(decoder_attention, layers.SinkhornAttention) and decoder_attention.causal
    assert decoder_attention.sort_net.num_blocks == 6  # max_length 24 / block 4
    assert isinstance(model.decoder_blocks[0].encdec_attention, tf.keras.layers.MultiHeadAttention)
    lm = build_model("transformer", _hparams("sinkhorn_mixture"), _problem_hparams(has_inputs=False))
    assert lm.decoder_blocks[0].self_attention.mixture and lm.decoder_blocks[0].self_attention.causal


def test_shared_embedding_and_softmax_weights(rng):
    shared = build_model("transformer", _hparams("dot_product", shared_embedding_and_softmax_weights=True),
                         _problem_hparams(has_inputs=False))
    separate = build_model("transformer", _hparams("dot_product", shared_embedding_and_softmax_weights=False),
                           _problem_hparams(has_inputs=False))
    features = _features(rng, has_inputs=False)
    shared(features), separate(features)
    assert not any("softmax" in v.path for v in shared.weights)
    assert any("softmax" in v.path for v in separate.weights)
    assert len(shared.trainable_weights) == len(separate.trainable_weights) - 1


def test_encoder_classifier_pools_real_tokens_only(rng):
    model = build_model("transformer_encoder", _hparams("sinkhorn"), _problem_hparams(targets="class_label", vocab=3))
    inputs = rng.integers(2, VOCAB, size=(1, 10)).astype("int32")
    padded = np.concatenate([inputs, np.zeros((1, 6), np.int32)], axis=1)
    a = model({"inputs": inputs}).numpy()
    b = model({"inputs": padded}).numpy()
    assert a.shape == (1, 1, 3)
    np.testing.assert_allclose(a, b, atol=1e-5)
    with pytest.raises(HParamsError, match="classification"):
        build_model("transformer_encoder", _hparams("sinkhorn"), _problem_hparams())
    assert isinstance(model, TransformerEncoder)


def test_invalid_hparams_name_the_value():
    with pytest.raises(HParamsError, match="self_attention_type"):
        build_model("transformer", _hparams("fancy"), _problem_hparams())
    with pytest.raises(HParamsError, match="block_size"):
        build_model("transformer", _hparams("sinkhorn", sinkhorn_block_size=0), _problem_hparams())


def test_bfloat16_activations_keep_float32_logits(rng):
    model = build_model("transformer", _hparams("sinkhorn", activation_dtype="bfloat16"), _problem_hparams())
    logits = model(_features(rng))
    assert logits.dtype == tf.float32 and model.decoder_blocks[0].self_attention.compute_dtype == "bfloat16"


def test_timing_signal_matches_t2t_formula():
    channels, length = 6, 5
    signal = timing_signal(np.arange(length)[None], channels).numpy()[0]
    inv = np.exp(np.arange(3) * -(math.log(1e4) / 2))
    expected = np.concatenate([np.sin(np.arange(length)[:, None] * inv), np.cos(np.arange(length)[:, None] * inv)], 1)
    np.testing.assert_allclose(signal, expected, atol=1e-5)
