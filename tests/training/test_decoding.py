"""Decoding checked against teacher-forced forward passes and exhaustive search."""
import itertools

import numpy as np
import pytest

from sinkhorn_t2t import registry
from sinkhorn_t2t.hparam import HParams
from sinkhorn_t2t.models.transformer import build_model
from sinkhorn_t2t.training.decoding import Decoder, decode_hparams

VOCAB = 4  # 0 = pad, 1 = EOS


def _model(has_inputs, kind="sinkhorn"):
    hp = registry.hparams("transformer_test")
    hp.override_from_dict(dict(self_attention_type=kind, max_length=8, sinkhorn_gumbel_noise=False))
    modality, sizes = {"targets": "symbol"}, {"targets": VOCAB}
    if has_inputs:
        modality["inputs"], sizes["inputs"] = "symbol", 6
    return build_model("transformer", hp, HParams(modality=modality, vocab_size=sizes))


def _logprobs(model, targets, inputs=None):
    features = {"targets": np.array([targets], np.int32)}
    if inputs is not None:
        features["inputs"] = inputs
    logits = model(features, training=False).numpy()[0]
    return logits - np.log(np.exp(logits).sum(-1, keepdims=True))


@pytest.mark.parametrize("has_inputs", [True, False])
def test_greedy_tokens_are_the_teacher_forced_argmax(has_inputs):
    model = _model(has_inputs)
    inputs = np.array([[3, 4, 2, 5, 1]], np.int32) if has_inputs else None
    decoder = Decoder(model, max_length=8)
    out = decoder.greedy(inputs=inputs, length=6, batch=1)[0]
    end = list(out).index(1) + 1 if 1 in out else len(out)
    logp = _logprobs(model, list(out[:end]) + [0] * (6 - end), inputs)
    for t in range(end):
        assert out[t] == logp[t].argmax()


def test_prefix_is_kept_and_continued():
    model = _model(False)
    out = Decoder(model, 8).greedy(prefix=np.array([[2, 3]], np.int32), length=6)[0]
    assert list(out[:2]) == [2, 3]


def _penalty(length, alpha):
    return ((5.0 + length) / 6.0) ** alpha


def test_wide_beam_finds_the_best_sequence_exhaustively():
    model = _model(True, "dot_product")
    inputs = np.array([[2, 5, 3, 1]], np.int32)
    length, alpha = 3, 0.6
    best, best_score = None, -np.inf
    for seq in itertools.product(range(VOCAB), repeat=length):
        seq = list(seq)
        if 1 not in seq or any(seq[seq.index(1) + 1:]):
            continue  # finished hypotheses (EOS, then padding) win over unfinished ones, as in T2T
        end = seq.index(1) + 1
        logp = _logprobs(model, seq[:end] + [0] * (length - end), inputs)
        score = sum(logp[t, seq[t]] for t in range(end)) / _penalty(end, alpha)
        if score > best_score:
            best, best_score = seq[:end] + [0] * (length - end), score
    found = Decoder(model, 8).beam(inputs, length, beam_size=VOCAB**length, alpha=alpha)[0]
    assert list(found) == best


def test_decode_dispatch_and_lengths():
    model = _model(True)
    decoder = Decoder(model, max_length=8)
    hp = decode_hparams("beam_size=2,extra_length=100")
    out = decoder.decode(inputs=np.array([[2, 3, 1], [4, 1, 0]], np.int32), hp=hp)
    assert out.shape == (2, 8)  # input length + extra_length, capped at the model's max_length
    with pytest.raises(ValueError, match="beam_szie"):
        decode_hparams("beam_szie=3")
