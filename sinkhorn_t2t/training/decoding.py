"""Autoregressive decoding: greedy, sampling and beam search, for seq2seq and language models.

Every step re-runs the decoder on a fixed-size buffer `(batch, decode_length)` (positions not yet
decoded hold 0 and, the decoder being causal, cannot affect earlier ones). One static shape means
one trace and no per-length recompilation; it is the "slow" path T2T also takes for attention
types other than dot-product, O(decode_length^2) work. The encoder runs once per batch.
"""
import numpy as np
import tensorflow as tf

from sinkhorn_t2t.data.text_encoder import EOS_ID
from sinkhorn_t2t.hparam import HParams


def decode_hparams(overrides=""):
    """T2T's decode hparams (`--decode_hparams`)."""
    hp = HParams(beam_size=1, alpha=0.6, extra_length=100, batch_size=32, num_samples=10, max_decode_length=0,
                 sampling_temp=0.0, return_beams=False, seed=0)
    hp.parse(overrides)
    if hp.return_beams and hp.beam_size <= 1:
        raise ValueError("return_beams=True needs beam_size > 1 (it returns every beam of beam search).")
    return hp


class Decoder:
    """Decodes with a trained `Transformer` (teacher-forcing model, run step by step)."""

    def __init__(self, model, max_length, stop_at_eos=True):
        self.model = model
        self.max_length = max_length
        self.stop_at_eos = stop_at_eos
        self._encode = tf.function(lambda inputs: model.encode(inputs, training=False))
        self._step = tf.function(self._step_logits)

    def _step_logits(self, buffer, position, encoder_output, input_mask):
        decoder_ids = tf.pad(buffer, [[0, 0], [1, 0]])[:, :-1]  # shift right, as in training
        logits = self.model.decode(decoder_ids, encoder_output, input_mask, training=False)
        return tf.nn.log_softmax(tf.gather(logits, position, axis=1))

    def _encoded(self, inputs):
        if inputs is None:
            return None, None
        return self._encode(tf.constant(inputs, tf.int32))

    def decode_length(self, input_length, hp):
        """`input length + extra_length` (or `max_decode_length`), capped at the model's max_length."""
        length = hp.max_decode_length or input_length + hp.extra_length
        return max(1, min(length, self.max_length))

    def greedy(self, inputs=None, prefix=None, length=32, sampling_temp=0.0, seed=0, batch=None):
        """Greedy (or sampled when `sampling_temp > 0`) decoding.

        Args:
          inputs: int array `(B, Li)` for seq2seq, else None.
          prefix: optional int array `(B, P)` forced at the start of the output (LM prompts).
          length: decode buffer length.
          batch: batch size when both inputs and prefix are None.

        Returns:
          int array `(B, length)`; positions after EOS are 0.
        """
        size = len(inputs) if inputs is not None else (len(prefix) if prefix is not None else batch)
        buffer = np.zeros((size, length), np.int32)
        start = 0
        if prefix is not None:
            start = prefix.shape[1]
            buffer[:, :start] = prefix
        encoder_output, input_mask = self._encoded(inputs)
        finished = np.zeros(size, bool)
        rng = np.random.default_rng(seed)
        for position in range(start, length):
            logp = self._step(tf.constant(buffer), tf.constant(position), encoder_output, input_mask).numpy()
            if sampling_temp > 0:
                probs = np.exp((logp - logp.max(-1, keepdims=True)) / sampling_temp)
                probs /= probs.sum(-1, keepdims=True)
                tokens = np.array([rng.choice(len(p), p=p) for p in probs], np.int32)
            else:
                tokens = logp.argmax(-1).astype(np.int32)
            buffer[:, position] = np.where(finished, 0, tokens)
            finished |= (tokens == EOS_ID) & self.stop_at_eos
            if finished.all():
                break
        return buffer

    def beam(self, inputs, length, beam_size=4, alpha=0.6, prefix=None, return_beams=False):
        """Beam search for one example: `inputs (1, Li)` or None, optional forced `prefix (P,)`
        -> best ids `(length,)`, or with `return_beams` the `beam_size` best `(beam_size, length)`,
        best first.

        Length penalty `((5 + len) / 6) ** alpha` (Wu et al. 2016, T2T's default alpha 0.6).
        """
        encoder_output, input_mask = self._encoded(None if inputs is None else np.repeat(inputs, beam_size, 0))
        start = 0 if prefix is None else len(prefix)
        first = np.zeros(length, np.int32)
        first[:start] = prefix if prefix is not None else []
        alive = [(first, 0.0)]
        finished = []
        for position in range(start, length):
            buffer = np.stack([seq for seq, _ in alive] + [alive[0][0]] * (beam_size - len(alive)))
            logp = self._step(tf.constant(buffer), tf.constant(position), encoder_output, input_mask).numpy()
            candidates = []
            for b, (seq, score) in enumerate(alive):
                for token in np.argsort(-logp[b])[:2 * beam_size]:
                    candidates.append((score + float(logp[b, token]), b, int(token)))
            candidates.sort(key=lambda c: -c[0])
            alive = []
            for score, b, token in candidates:
                seq = buffer[b].copy()
                seq[position] = token
                if token == EOS_ID and self.stop_at_eos:
                    finished.append((seq, score / ((5.0 + position + 1) / 6.0) ** alpha))
                elif len(alive) < beam_size:
                    alive.append((seq, score))
                if len(alive) >= beam_size and len(finished) >= beam_size:
                    break
            best_alive = max((s for _, s in alive), default=-np.inf) / ((5.0 + length) / 6.0) ** alpha
            if not alive or (len(finished) >= beam_size and max(s for _, s in finished) >= best_alive):
                break
        pool = finished or [(seq, score / ((5.0 + length) / 6.0) ** alpha) for seq, score in alive]
        ranked = [seq for seq, _ in sorted(pool, key=lambda c: -c[1])]
        if not return_beams:
            return ranked[0]
        ranked += [np.zeros(length, np.int32)] * (beam_size - len(ranked))
        return np.stack(ranked[:beam_size])

    def decode(self, inputs=None, prefix=None, hp=None, batch=None):
        """Dispatches on `hp.beam_size`: greedy / sampling for 1, beam search above; with
        `hp.return_beams` (beam search only) every row holds its `beam_size` beams."""
        hp = hp or decode_hparams()
        input_length = inputs.shape[1] if inputs is not None else (prefix.shape[1] if prefix is not None else 0)
        length = self.decode_length(input_length, hp)
        if hp.beam_size <= 1:
            return self.greedy(inputs, prefix, length, hp.sampling_temp, hp.seed, batch)
        rows = len(inputs) if inputs is not None else (len(prefix) if prefix is not None else batch)
        return np.stack([self.beam(None if inputs is None else inputs[i:i + 1], length, hp.beam_size, hp.alpha,
                                   None if prefix is None else prefix[i], hp.return_beams) for i in range(rows)])
