import math

import numpy as np
import pytest
import tensorflow as tf

from sinkhorn_t2t import layers, registry
from sinkhorn_t2t.hparam import HParams
from sinkhorn_t2t.models.attention_factory import SELF_ATTENTION_TYPES
from sinkhorn_t2t.models.transformer import HParamsError, TransformerEncoder, build_model, timing_signal
from sinkhorn_t2t.training import metrics

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
    assert isinstance(model.decoder_blocks[0].encdec_attention, layers.CrossAttention)
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


@pytest.mark.parametrize("kind", ["sinkhorn", "dot_product"])
def test_bfloat16_activations_compute_the_float32_model(rng, kind):
    """bfloat16 activations: float32 logits that match the float32 model with the same weights to
    bfloat16 precision (a few roundings of eps = 2^-8 relative to the logits' scale)."""
    features = _features(rng)
    reference = build_model("transformer", _hparams(kind), _problem_hparams())
    expected = reference(features).numpy()
    model = build_model("transformer", _hparams(kind, activation_dtype="bfloat16"), _problem_hparams())
    model(features)
    model.set_weights(reference.get_weights())
    logits = model(features)
    assert logits.dtype == tf.float32 and model.decoder_blocks[0].self_attention.compute_dtype == "bfloat16"
    error = np.abs(logits.numpy() - expected).max() / np.abs(expected).max()
    assert error < 8 * 2.0**-8, error
    assert np.mean(logits.numpy().argmax(-1) == expected.argmax(-1)) > 0.9


def test_timing_signal_matches_t2t_formula():
    channels, length = 6, 5
    signal = timing_signal(np.arange(length)[None], channels).numpy()[0]
    inv = np.exp(np.arange(3) * -(math.log(1e4) / 2))
    expected = np.concatenate([np.sin(np.arange(length)[:, None] * inv), np.cos(np.arange(length)[:, None] * inv)], 1)
    np.testing.assert_allclose(signal, expected, atol=1e-5)


def test_no_balancing_ablation_trains(rng):
    """Table 8 row 6 (`lm1b_base_sinkhorn_32_no_sinkhorn`, N_k = 0) at tiny size: 200 steps of a
    causal Sinkhorn LM give a finite loss that goes down."""
    from sinkhorn_t2t.training.optimizers import make_optimizer

    hp = registry.hparams("lm1b_base_sinkhorn_32_no_sinkhorn")
    assert hp.sinkhorn_iters == 0 and hp.self_attention_type == "sinkhorn"
    hp.override_from_dict(dict(hidden_size=32, filter_size=64, num_heads=2, num_hidden_layers=2, max_length=64,
                               sinkhorn_block_size=8, learning_rate_warmup_steps=50, layer_prepostprocess_dropout=0.0))
    tf.keras.utils.set_random_seed(1)
    model = build_model("transformer", hp, _problem_hparams(has_inputs=False, vocab=VOCAB))
    optimizer = make_optimizer(hp, train_steps=200)

    @tf.function
    def step(targets):
        with tf.GradientTape() as tape:
            logits = model({"targets": targets}, training=True)
            loss = tf.reduce_mean(metrics.smoothed_cross_entropy(logits, targets, 0.0))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    pattern = np.arange(2, VOCAB)  # a cyclic sequence: the next token is predictable from the last
    losses = []
    for _ in range(200):
        starts = rng.integers(0, len(pattern), size=(8, 1))
        targets = pattern[(starts + np.arange(64)) % len(pattern)].astype("int32")
        losses.append(float(step(tf.constant(targets))))
    assert np.isfinite(losses).all()
    assert np.mean(losses[-20:]) < 0.5 * np.mean(losses[:20]), (losses[:5], losses[-5:])
