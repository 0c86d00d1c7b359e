"""Autoregressive decoding in one graph: greedy, sampling and batched beam search.

Each search is one XLA-compiled `tf.function` holding a `tf.while_loop` over positions; nothing
returns to the host between tokens. A step's logits come from one of two sources that give the same
numbers: the layers' incremental caches (`Transformer.decode_step`, O(1) attention state per
token), or, with `use_cache=False`, a full causal pass over the whole decode buffer at every
step (O(L^2) work, kept as the reference the cached path is tested against). Inputs and decode
buffers are padded to power-of-two length buckets, so new lengths reuse the compiled graph.
"""
import numpy as np
import tensorflow as tf

from sinkhorn_t2t.data.text_encoder import EOS_ID
from sinkhorn_t2t.hparam import HParams

INF = 1e7  # T2T's beam_search.INF: the score of what must never be picked
MIN_BUCKET = 8


def decode_hparams(overrides=""):
    """T2T's decode hparams (`--decode_hparams`), plus `top_k` / `top_p` for sampling and
    `use_cache` (False: re-run the whole decoder at every step)."""
    hp = HParams(beam_size=1, alpha=0.6, extra_length=100, batch_size=32, num_samples=10, max_decode_length=0,
                 sampling_temp=0.0, top_k=0, top_p=1.0, return_beams=False, use_cache=True, seed=0)
    hp.parse(overrides)
    checks = [(hp.beam_size >= 1, "beam_size must be >= 1"), (hp.batch_size >= 1, "batch_size must be >= 1"),
              (hp.sampling_temp >= 0, "sampling_temp must be >= 0 (0: greedy)"),
              (hp.top_k >= 0, "top_k must be >= 0 (0: no top-k cut)"),
              (0 < hp.top_p <= 1, "top_p must be in (0, 1] (1: no nucleus cut)"),
              (hp.extra_length >= 0 and hp.max_decode_length >= 0, "extra_length and max_decode_length must be >= 0"),
              (not hp.return_beams or hp.beam_size > 1,
               "return_beams=True needs beam_size > 1 (it returns every beam of beam search)")]
    for ok, message in checks:
        if not ok:
            raise ValueError(message + ".")
    return hp


def bucket(length, cap):
    """The smallest power of two >= `length` (at least `MIN_BUCKET`), capped at `cap`."""
    return int(min(max(MIN_BUCKET, 1 << max(int(length) - 1, 0).bit_length()), cap))


def _pad_to(array, length):
    return np.pad(array, [(0, 0), (0, length - array.shape[1])])


def _filter_logits(logits, top_k, top_p):
    """Logits `(N, V)` with everything outside the `top_k` most likely tokens (0: all) and outside
    the smallest set holding probability `top_p` set to -INF."""
    ranked = tf.sort(logits, axis=-1, direction="DESCENDING")
    vocab = tf.shape(logits)[-1]
    k = tf.where(top_k > 0, tf.minimum(top_k, vocab), vocab)
    kth = tf.gather(ranked, k - 1, axis=-1)[:, None]
    probs = tf.nn.softmax(ranked, axis=-1)
    before = tf.cumsum(probs, axis=-1, exclusive=True)  # mass of the tokens ranked above each one
    nucleus = tf.reduce_min(tf.where(before < top_p, ranked, INF), axis=-1, keepdims=True)
    return tf.where(logits < tf.maximum(kth, nucleus), -INF, logits)


class Decoder:
    """Decodes with a trained `Transformer`.

    Args:
      model: a `Transformer` (seq2seq or LM).
      max_length: the longest decode buffer (the model's length).
      stop_at_eos: a row ends at EOS (positions after it hold 0).

    `traces` counts the graphs traced so far (one per search, cache mode and length bucket).
    """

    def __init__(self, model, max_length, stop_at_eos=True):
        self.model = model
        self.max_length = max_length
        self.stop_at_eos = stop_at_eos
        self.traces = 0
        if not model.built:  # the caches need the layers' weights
            features = {"targets": np.zeros((1, 1), np.int32)}
            if model.has_inputs:
                features["inputs"] = np.ones((1, 1), np.int32)
            model(features, training=False)
        # XLA keeps the caches in place across the loop's iterations (plain graphs copy every cache
        # tensor at every step, which makes a step's cost grow with the buffer length).
        self._greedy_graph = tf.function(self._greedy_loop, jit_compile=True, autograph=False)
        self._beam_graph = tf.function(self._beam_loop, jit_compile=True, autograph=False)

    # --- where a step's log-probabilities come from --------------------------------------------
    def init_state(self, inputs, rows, length, use_cache):
        """Decoding state for `rows` rows and a buffer of static `length`."""
        if use_cache:
            return self.model.init_decode_cache(rows, length, inputs)
        state = {"buffer": tf.zeros((rows, length), tf.int32)}
        if inputs is not None:
            state["encoder_output"], state["input_mask"] = self.model.encode(inputs, training=False)
        return state

    def step(self, previous, index, state, use_cache):
        """Previous tokens `(N, 1)` at position `index` -> log-probabilities `(N, V)` of the token
        at `index`, and the new state."""
        if use_cache:
            logits, state = self.model.decode_step(previous, state, index)
            return tf.nn.log_softmax(logits), state
        state = dict(state)
        at_index = tf.equal(tf.range(tf.shape(state["buffer"])[1]), index)[None, :]
        state["buffer"] = tf.where(at_index, previous, state["buffer"])  # decoder ids: shifted right
        logits = self.model.decode(state["buffer"], state.get("encoder_output"), state.get("input_mask"),
                                   training=False)
        return tf.nn.log_softmax(tf.gather(logits, index, axis=1)), state

    def _feed_prefix(self, prefix, prefix_length, state, use_cache):
        """Runs the forced prefix through the state: returns `(position, previous token, state)` at
        the first position to choose."""
        def body(i, previous, state):
            _, state = self.step(previous, i, state, use_cache)
            return i + 1, tf.gather(prefix, i[None], axis=1), state

        start = (tf.constant(0), tf.zeros_like(prefix[:, :1]), state)
        return tf.while_loop(lambda i, *_: i < prefix_length, body, start)

    # --- greedy and sampling -------------------------------------------------------------------
    def _greedy_loop(self, inputs, prefix, prefix_length, length, temperature, top_k, top_p, seed, sample,
                     use_cache):
        self.traces += 1
        rows, buffer = prefix.shape[0], prefix.shape[1]
        state = self.init_state(inputs, rows, buffer, use_cache)
        start, previous, state = self._feed_prefix(prefix, prefix_length, state, use_cache)
        positions = tf.range(buffer)[None, :]

        def body(i, previous, out, finished, state):
            logp, state = self.step(previous, i, state, use_cache)
            if sample:
                logits = _filter_logits(logp / temperature, top_k, top_p)
                token = tf.random.stateless_categorical(logits, 1, tf.stack([seed, i]), dtype=tf.int32)[:, 0]
            else:
                token = tf.argmax(logp, -1, output_type=tf.int32)
            token = tf.where(finished, 0, token)
            out = tf.where(tf.equal(positions, i), token[:, None], out)
            finished = finished | (tf.equal(token, EOS_ID) & self.stop_at_eos)
            return i + 1, token[:, None], out, finished, state

        def more(i, previous, out, finished, state):
            return (i < length) & ~tf.reduce_all(finished)

        finished = tf.zeros((rows,), tf.bool)
        _, _, out, _, _ = tf.while_loop(more, body, (start, previous, prefix, finished, state))
        return out

    def greedy(self, inputs=None, prefix=None, length=32, sampling_temp=0.0, seed=0, batch=None, top_k=0,
               top_p=1.0, use_cache=True):
        """Greedy (or sampled when `sampling_temp > 0`, from the `top_k` / `top_p` cut) decoding.

        Args:
          inputs: int array `(B, Li)` for seq2seq, else None.
          prefix: optional int array `(B, P)` forced at the start of the output (LM prompts).
          length: positions to decode (prefix included).
          batch: batch size when both inputs and prefix are None.

        Returns:
          int array `(B, length)`; positions after EOS are 0.
        """
        rows = len(inputs) if inputs is not None else (len(prefix) if prefix is not None else batch)
        size = bucket(length, self.max_length)
        forced = np.zeros((rows, size), np.int32)
        if prefix is not None:
            forced[:, :prefix.shape[1]] = prefix
        out = self._greedy_graph(
            self._bucketed(inputs), tf.constant(forced), tf.constant(0 if prefix is None else prefix.shape[1]),
            tf.constant(length), tf.constant(max(sampling_temp, 1e-9), tf.float32), tf.constant(top_k),
            tf.constant(top_p, tf.float32), tf.constant(seed), sampling_temp > 0, use_cache)
        return out.numpy()[:, :length]

    # --- beam search -----------------------------------------------------------------------------
    def _beam_loop(self, inputs, prefix, prefix_length, length, alpha, beam_size, use_cache):
        """T2T's beam search (`beam_search.py`, stop_early) over `(B, K)` beams at once."""
        self.traces += 1
        batch, buffer, k = prefix.shape[0], prefix.shape[1], beam_size
        tiled = None if inputs is None else tf.repeat(inputs, k, axis=0)
        state = self.init_state(tiled, batch * k, buffer, use_cache)
        start, previous, state = self._feed_prefix(tf.repeat(prefix, k, axis=0), prefix_length, state, use_cache)
        positions = tf.range(buffer)
        alpha = tf.cast(alpha, tf.float32)

        def penalty(generated):  # ((5 + length) / 6) ** alpha (Wu et al. 2016)
            return ((5.0 + tf.cast(generated, tf.float32)) / 6.0) ** alpha

        def body(i, previous, alive_seq, alive_logp, done_seq, done_scores, done_flags, state):
            logp, state = self.step(previous, i, state, use_cache)
            vocab = tf.shape(logp)[-1]
            logp = tf.reshape(logp, (batch, k, vocab)) + alive_logp[:, :, None]
            scale = penalty(i + 1 - prefix_length)
            top_scores, top_ids = tf.math.top_k(tf.reshape(logp / scale, (batch, k * vocab)), 2 * k)
            top_logp = top_scores * scale
            parent, token = top_ids // vocab, top_ids % vocab
            top_seq = tf.where(tf.equal(positions, i), token[:, :, None], tf.gather(alive_seq, parent, batch_dims=1))
            ended = tf.equal(token, EOS_ID) & self.stop_at_eos
            alive_scores = top_logp - tf.cast(ended, tf.float32) * INF
            _, keep = tf.math.top_k(alive_scores, k)
            rows = tf.reshape(tf.gather(parent, keep, batch_dims=1) + tf.range(batch)[:, None] * k, (-1,))
            state = tf.nest.map_structure(lambda t: tf.gather(t, rows), state)
            ended_scores = top_scores - (1.0 - tf.cast(ended, tf.float32)) * INF
            scores = tf.concat([done_scores, ended_scores], 1)
            _, best = tf.math.top_k(scores, k)
            pick = lambda t: tf.gather(t, best, batch_dims=1)  # noqa: E731
            return (i + 1, tf.reshape(tf.gather(token, keep, batch_dims=1), (-1, 1)),
                    tf.gather(top_seq, keep, batch_dims=1), tf.gather(alive_scores, keep, batch_dims=1),
                    pick(tf.concat([done_seq, top_seq], 1)), pick(scores), pick(tf.concat([done_flags, ended], 1)),
                    state)

        def more(i, previous, alive_seq, alive_logp, done_seq, done_scores, done_flags, state):
            best_alive = alive_logp[:, 0] / penalty(length - prefix_length)
            flags = tf.cast(done_flags, tf.float32)
            worst_done = tf.reduce_min(done_scores * flags, 1) - (1.0 - tf.reduce_max(flags, 1)) * INF
            return (i < length) & ~tf.reduce_all(worst_done > best_alive)

        alive_seq = tf.repeat(prefix[:, None, :], k, axis=1)
        alive_logp = tf.tile(tf.concat([[0.0], tf.fill([k - 1], -INF)], 0)[None, :], (batch, 1))
        done = (tf.zeros_like(alive_seq), tf.fill((batch, k), -INF), tf.zeros((batch, k), tf.bool))
        _, _, alive_seq, alive_logp, done_seq, done_scores, done_flags, _ = tf.while_loop(
            more, body, (start, previous, alive_seq, alive_logp) + done + (state,))
        any_done = tf.reduce_any(done_flags, 1)
        return (tf.where(any_done[:, None, None], done_seq, alive_seq),
                tf.where(any_done[:, None], done_scores, alive_logp))

    def beam(self, inputs, length, beam_size=4, alpha=0.6, prefix=None, return_beams=False, use_cache=True,
             batch=None):
        """Beam search batched over examples and beams, with T2T's length penalty
        `((5 + len) / 6) ** alpha` and EOS handling.

        Args:
          inputs: int `(B, Li)` or None; prefix: optional int `(B, P)` forced at the start.
          length: positions to decode (prefix included).

        Returns:
          best ids `(B, length)`, or with `return_beams` all beams `(B, beam_size, length)`, best first.
        """
        rows = len(inputs) if inputs is not None else (len(prefix) if prefix is not None else batch)
        size = bucket(length, self.max_length)
        forced = np.zeros((rows, size), np.int32)
        if prefix is not None:
            forced[:, :prefix.shape[1]] = prefix
        seqs, _ = self._beam_graph(self._bucketed(inputs), tf.constant(forced),
                                   tf.constant(0 if prefix is None else prefix.shape[1]), tf.constant(length),
                                   tf.constant(alpha, tf.float32), beam_size, use_cache)
        seqs = seqs.numpy()[:, :, :length]
        return seqs if return_beams else seqs[:, 0]

    def _bucketed(self, inputs):
        return None if inputs is None else tf.constant(_pad_to(inputs, bucket(inputs.shape[1], self.max_length)))

    def decode_length(self, input_length, hp):
        """`input length + extra_length` (or `max_decode_length`), capped at the model's max_length."""
        length = hp.max_decode_length or input_length + hp.extra_length
        return max(1, min(length, self.max_length))

    def decode(self, inputs=None, prefix=None, hp=None, batch=None):
        """Dispatches on `hp.beam_size`: greedy / sampling for 1, beam search above; with
        `hp.return_beams` (beam search only) every row holds its `beam_size` beams."""
        hp = hp or decode_hparams()
        input_length = inputs.shape[1] if inputs is not None else (prefix.shape[1] if prefix is not None else 0)
        length = self.decode_length(input_length, hp)
        if hp.beam_size <= 1:
            return self.greedy(inputs, prefix, length, hp.sampling_temp, hp.seed, batch, hp.top_k, hp.top_p,
                               hp.use_cache)
        return self.beam(inputs, length, hp.beam_size, hp.alpha, prefix, hp.return_beams, hp.use_cache, batch)
