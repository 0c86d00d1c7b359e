"""The in-graph searches: decoding through the layers' caches picks exactly the tokens of the
decoder that re-runs the whole buffer at every step (greedy and beam; every causal attention
type as an LM, dense and Sinkhorn with inputs), beam search is T2T's (checked against a NumPy
re-implementation over the model's teacher-forced log-probabilities), sampling honours top_k /
top_p, and new input lengths reuse the traced graph."""
import numpy as np
import pytest
import tensorflow as tf

from sinkhorn_t2t import registry
from sinkhorn_t2t.hparam import HParams
from sinkhorn_t2t.models.transformer import build_model
from sinkhorn_t2t.training.decoding import Decoder, _filter_logits, bucket, decode_hparams

VOCAB, LENGTH = 9, 32  # 0 = pad, 1 = EOS
CAUSAL = [("dot_product", {}), ("local", {}), ("sparse_fixed", {}), ("sinkhorn", {}), ("sinkhorn_mixture", {}),
          ("sinkhorn", {"sinkhorn_combine": "sum_scores"}), ("sinkhorn", {"sinkhorn_combine": "sum_outputs"})]


def _model(kind, has_inputs, seed=0, **overrides):
    import keras
    keras.utils.set_random_seed(seed)
    hp = registry.hparams("transformer_test")
    hp.override_from_dict(dict(self_attention_type=kind, max_length=LENGTH, sinkhorn_block_size=4,
                               num_hidden_layers=2, sinkhorn_gumbel_noise=False, **overrides))
    modality, sizes = {"targets": "symbol"}, {"targets": VOCAB}
    if has_inputs:
        modality["inputs"], sizes["inputs"] = "symbol", VOCAB
    return build_model("transformer", hp, HParams(modality=modality, vocab_size=sizes))


def _inputs(has_inputs, rows=3):
    if not has_inputs:
        return None
    rng = np.random.default_rng(5)
    inputs = rng.integers(2, VOCAB, size=(rows, 7)).astype("int32")
    inputs[1, 4:] = 0
    return inputs


def _scrambled(model, has_inputs):
    """Random weights of scale 0.3 everywhere: an untrained model whose greedy and beam outputs
    are varied, not a run of padding."""
    features = {"targets": np.zeros((1, 1), np.int32)}
    if has_inputs:
        features["inputs"] = np.ones((1, 1), np.int32)
    model(features, training=False)
    rng = np.random.default_rng(4)
    for variable in model.weights:
        variable.assign(rng.normal(scale=0.3, size=variable.shape).astype(variable.dtype))
    return model


# Every causal type as an LM; with inputs, dense and Sinkhorn decoder self-attention (what inputs
# add, the encoder output and the encoder-decoder attention's cache, does not depend on the type).
CASES = [(kind, overrides, False) for kind, overrides in CAUSAL] + [("dot_product", {}, True), ("sinkhorn", {}, True)]


@pytest.mark.parametrize("kind,overrides,has_inputs", CASES, ids=[
    ("seq2seq-" if i else "lm-") + k + "".join(f"-{v}" for v in o.values()) for k, o, i in CASES])
def test_cached_decoding_equals_the_full_rerun(kind, overrides, has_inputs):
    """Token for token, greedy and beam search (all beams), over 18 positions (4 blocks of 4
    and a partial one; rows do not stop at EOS, so every position is decoded and beams are
    reordered at every step)."""
    model = _scrambled(_model(kind, has_inputs, **overrides), has_inputs)
    decoder = Decoder(model, LENGTH, stop_at_eos=False)
    inputs = _inputs(has_inputs)
    prefix = None if has_inputs else np.array([[4, 2, 7], [3, 3, 5], [8, 6, 2]], np.int32)
    greedy = [decoder.greedy(inputs, prefix, length=18, use_cache=c) for c in (True, False)]
    np.testing.assert_array_equal(greedy[0], greedy[1])
    beams = [decoder.beam(inputs, 18, beam_size=3, prefix=prefix, return_beams=True, use_cache=c)
             for c in (True, False)]
    np.testing.assert_array_equal(beams[0], beams[1])
    generated = np.concatenate([greedy[0][:, None], beams[0]], 1)[:, :, 0 if has_inputs else 3:]
    assert len(np.unique(generated)) >= 2, generated  # not one token repeated: the beams differ


def _teacher_forced_logp(model, sequences, inputs):
    """Log-probabilities `(N, T, V)` of every position given the earlier tokens (full pass);
    `inputs` `(1, Li)` are shared by the N sequences."""
    features = {"targets": tf.constant(np.asarray(sequences, np.int32))}
    if inputs is not None:
        features["inputs"] = tf.constant(np.repeat(np.asarray(inputs, np.int32), len(sequences), axis=0))
    logits = model(features, training=False).numpy().astype(np.float64)
    return logits - np.log(np.exp(logits).sum(-1, keepdims=True))


def _t2t_beam_search(model, inputs, length, k, alpha):
    """T2T 1.15's `beam_search.beam_search` (stop_early) for one example, in NumPy, scoring every
    hypothesis with a teacher-forced pass of the model over its tokens (the alive hypotheses of
    a step in one batch)."""
    full_pass = tf.function(lambda features, training: model(features, training=training))  # traced once
    neg_inf = 1e7
    penalty = lambda n: ((5.0 + n) / 6.0) ** alpha  # noqa: E731
    alive = [([], 0.0)] + [([], -neg_inf)] * (k - 1)
    done = [([0] * length, -neg_inf, False)] * k
    for i in range(length):
        candidates = []
        padded = [seq + [0] * (length - len(seq)) for seq, _ in alive]
        logps = _teacher_forced_logp(full_pass, padded, inputs)[:, i]
        for b, ((seq, logp_so_far), logp) in enumerate(zip(alive, logps)):
            for token in range(VOCAB):
                candidates.append(((logp_so_far + logp[token]) / penalty(i + 1), b * VOCAB + token, seq + [token]))
        top = sorted(candidates, key=lambda c: (-c[0], c[1]))[:2 * k]
        ended = [seq[-1] == 1 for _, _, seq in top]
        alive_scores = [s * penalty(i + 1) - (neg_inf if e else 0) for (s, _, _), e in zip(top, ended)]
        order = sorted(range(2 * k), key=lambda j: (-alive_scores[j], j))[:k]
        alive = [(top[j][2], alive_scores[j]) for j in order]
        pool = done + [(seq + [0] * (length - len(seq)), s - (0 if e else neg_inf), e)
                       for (s, _, seq), e in zip(top, ended)]
        done = [pool[j] for j in sorted(range(len(pool)), key=lambda j: (-pool[j][1], j))[:k]]
        best_alive = alive[0][1] / penalty(length)
        flags = [e for _, _, e in done]
        worst = min(s * e for _, s, e in done) - (0 if any(flags) else neg_inf)
        if worst > best_alive:
            break
    if any(flags):
        return [seq for seq, _, _ in done]
    return [seq + [0] * (length - len(seq)) for seq, _ in alive]


@pytest.mark.parametrize("kind,has_inputs", [("sinkhorn", True), ("sinkhorn", False), ("local", True)])
def test_beam_search_is_t2t_beam_search(kind, has_inputs):
    """Every beam, in order, equals T2T's algorithm run example by example in NumPy; the batched
    search decodes all examples at once."""
    model = _model(kind, has_inputs, seed=3)
    inputs = _inputs(has_inputs, rows=2)
    length, k = 10, 4
    found = Decoder(model, LENGTH).beam(inputs, length, beam_size=k, alpha=0.6, return_beams=True, batch=2)
    for row in range(2):
        expected = _t2t_beam_search(model, None if inputs is None else inputs[row:row + 1], length, k, 0.6)
        np.testing.assert_array_equal(found[row], np.array(expected), err_msg=f"example {row}")


def test_filter_logits_keeps_the_top_k_and_the_nucleus():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 11)).astype("float32")
    for top_k, top_p in [(0, 1.0), (3, 1.0), (0, 0.5), (4, 0.3), (1, 1.0), (0, 1e-6)]:
        kept = _filter_logits(logits, top_k, top_p).numpy() > -1e6
        for row, row_kept in zip(logits, kept):
            order = np.argsort(-row)
            probs = np.exp(row[order] - row.max())
            probs /= probs.sum()
            before = np.concatenate([[0.0], np.cumsum(probs)[:-1]])
            n = min(top_k or 11, int((before < top_p).sum()))
            assert set(np.flatnonzero(row_kept)) == set(order[:n]), (top_k, top_p)


def test_sampling_follows_the_cut_and_the_seed():
    model = _model("sinkhorn", False, seed=1)
    decoder = Decoder(model, LENGTH)
    greedy = decoder.greedy(length=12, batch=4)
    np.testing.assert_array_equal(decoder.greedy(length=12, batch=4, sampling_temp=1.0, top_k=1), greedy)
    np.testing.assert_array_equal(decoder.greedy(length=12, batch=4, sampling_temp=1.0, top_p=1e-6), greedy)
    hp = decode_hparams("sampling_temp=1.0,top_k=3,seed=7,max_decode_length=12")
    first, again = decoder.decode(hp=hp, batch=4), decoder.decode(hp=hp, batch=4)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, decoder.decode(hp=decode_hparams("sampling_temp=1.0,top_k=3,seed=8,"
                                                                       "max_decode_length=12"), batch=4))
    logp = _teacher_forced_logp(model, first, None)
    for row, seq in enumerate(first):
        end = list(seq).index(1) + 1 if 1 in seq else len(seq)
        for t in range(end):
            assert seq[t] in np.argsort(-logp[row, t])[:3], (row, t)


def test_new_input_lengths_reuse_the_traced_graph():
    model = _model("sinkhorn", True)
    decoder = Decoder(model, LENGTH)
    rng = np.random.default_rng(2)
    for beam_size in (1, 2):
        hp = decode_hparams(f"beam_size={beam_size},extra_length=3")
        for length in (9, 10, 11, 12, 13):
            decoder.decode(inputs=rng.integers(2, VOCAB, size=(2, length)).astype("int32"), hp=hp)
    assert decoder.traces == 2  # one graph per search, for five input and decode lengths
    assert [bucket(n, LENGTH) for n in (1, 8, 9, 16, 17, 40)] == [8, 8, 16, 16, 32, 32]


def test_decode_hparams_refuse_values_out_of_range():
    for bad, name in [("top_p=0.0", "top_p"), ("top_k=-1", "top_k"), ("beam_size=0", "beam_size"),
                      ("sampling_temp=-1.0", "sampling_temp"), ("batch_size=0", "batch_size")]:
        with pytest.raises(ValueError, match=name):
            decode_hparams(bad)
