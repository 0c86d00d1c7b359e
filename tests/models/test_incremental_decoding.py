"""The Transformer decoding one position at a time through its layers' caches (encoder output and
cross-attention keys/values computed once) equals the full teacher-forced pass, and greedy
decoding through the caches picks the same tokens as the decoder that re-runs the whole buffer."""
import numpy as np
import pytest
import tensorflow as tf

from sinkhorn_t2t import registry
from sinkhorn_t2t.hparam import HParams
from sinkhorn_t2t.models.attention_factory import SELF_ATTENTION_TYPES
from sinkhorn_t2t.models.transformer import build_model
from sinkhorn_t2t.training.decoding import Decoder

VOCAB, LENGTH = 12, 24
CASES = [(kind, has_inputs) for kind in SELF_ATTENTION_TYPES for has_inputs in (False, True)]


def _model(kind, has_inputs):
    hp = registry.hparams("transformer_test")
    hp.override_from_dict(dict(self_attention_type=kind, max_length=LENGTH, sinkhorn_block_size=4,
                               num_hidden_layers=2, sinkhorn_gumbel_noise=False))
    modality, sizes = {"targets": "symbol"}, {"targets": VOCAB}
    if has_inputs:
        modality["inputs"], sizes["inputs"] = "symbol", VOCAB
    return build_model("transformer", hp, HParams(modality=modality, vocab_size=sizes))


def _inputs(rng, has_inputs):
    if not has_inputs:
        return None
    inputs = rng.integers(2, VOCAB, size=(2, 9)).astype("int32")
    inputs[1, 6:] = 0  # padding
    return inputs


@pytest.mark.parametrize("kind,has_inputs", CASES)
def test_decode_step_equals_the_full_pass(rng, kind, has_inputs):
    model = _model(kind, has_inputs)
    inputs = _inputs(rng, has_inputs)
    targets = rng.integers(2, VOCAB, size=(2, 14)).astype("int32")  # 3 full blocks of 4 and a partial one
    features = {"targets": targets} if inputs is None else {"targets": targets, "inputs": inputs}
    full = model(features, training=False).numpy()
    cache = model.init_decode_cache(2, LENGTH, inputs)
    previous = np.zeros((2, 1), np.int32)
    for t in range(targets.shape[1]):
        logits, cache = model.decode_step(tf.constant(previous), cache, tf.constant(t))
        np.testing.assert_allclose(logits.numpy(), full[:, t], atol=1e-4, err_msg=f"position {t}")
        previous = targets[:, t:t + 1]


@pytest.mark.parametrize("kind,has_inputs", [("sinkhorn", False), ("sinkhorn", True), ("dot_product", False),
                                             ("local", True), ("sinkhorn_mixture", False)])
def test_greedy_through_the_cache_picks_the_tokens_of_the_full_rerun(rng, kind, has_inputs):
    model = _model(kind, has_inputs)
    inputs = _inputs(rng, has_inputs)
    expected = Decoder(model, LENGTH, stop_at_eos=False).greedy(inputs=inputs, length=13, batch=2)
    cache = model.init_decode_cache(2, LENGTH, inputs)
    previous, tokens = np.zeros((2, 1), np.int32), []
    for t in range(13):
        logits, cache = model.decode_step(tf.constant(previous), cache, tf.constant(t))
        previous = logits.numpy().argmax(-1).astype(np.int32)[:, None]
        tokens.append(previous[:, 0])
    np.testing.assert_array_equal(np.stack(tokens, 1), expected)
