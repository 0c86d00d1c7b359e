"""The Transformer (Vaswani et al. 2017) as T2T configures it, with pluggable self-attention.

Pre-norm residual blocks (`layer_preprocess_sequence="n"`, `layer_postprocess_sequence="da"`),
sinusoidal timing signal, optional shared target-embedding / softmax weights. Encoder
self-attention is bidirectional, decoder self-attention causal (causal Sinkhorn for the Sinkhorn
types), encoder-decoder attention dense.
"""
import math

import keras
from keras import ops

from sinkhorn_t2t.data.problem import Modality
from sinkhorn_t2t.layers.cross_attention import CrossAttention
from sinkhorn_t2t.layers.dense import FlatDense
from sinkhorn_t2t.layers.dropout import Dropout
from sinkhorn_t2t.models.attention_factory import self_attention
from sinkhorn_t2t.ops.linear import flat_matmul
from sinkhorn_t2t.registry import register_model


def timing_signal(positions, channels, min_timescale=1.0, max_timescale=1.0e4):
    """T2T's `get_timing_signal_1d` at `positions [B, L]` -> `[B, L, channels]` (sin | cos)."""
    num_timescales = channels // 2
    log_increment = math.log(max_timescale / min_timescale) / max(num_timescales - 1, 1)
    inv_timescales = min_timescale * ops.exp(ops.arange(num_timescales, dtype="float32") * -log_increment)
    scaled = ops.cast(positions, "float32")[..., None] * inv_timescales
    signal = ops.concatenate([ops.sin(scaled), ops.cos(scaled)], axis=-1)
    if channels % 2:
        signal = ops.pad(signal, [[0, 0], [0, 0], [0, 1]])
    return signal


class FeedForward(keras.layers.Layer):
    """`dense_relu_dense`: hidden -> filter (ReLU, dropout) -> hidden."""

    def __init__(self, filter_size, hidden_size, dropout, **kwargs):
        super().__init__(**kwargs)
        self.inner = FlatDense(filter_size, activation="relu", name="conv1")
        self.outer = FlatDense(hidden_size, name="conv2")
        self.dropout = Dropout(dropout)

    def call(self, x, training=None):
        return self.outer(self.dropout(self.inner(x), training=training))


class _PreNorm(keras.layers.Layer):
    """T2T's "n" pre-process (layer norm) and "da" post-process (dropout, add residual)."""

    def __init__(self, hparams, **kwargs):
        super().__init__(**kwargs)
        self.norm = keras.layers.LayerNormalization(epsilon=hparams.norm_epsilon, name="layer_norm")
        self.dropout = Dropout(hparams.layer_prepostprocess_dropout)

    def residual(self, x, y, training=None):
        """`x + dropout(y)` where `y` was computed from `self.norm(x)`."""
        return x + self.dropout(y, training=training)


class EncoderBlock(keras.layers.Layer):
    """Self-attention (bidirectional, or causal for a decoder-only LM) + feed-forward."""

    def __init__(self, hparams, max_length, causal=False, **kwargs):
        super().__init__(**kwargs)
        self.self_attention = self_attention(hparams, causal=causal, name="self_attention", max_length=max_length)
        self.ffn = FeedForward(hparams.filter_size, hparams.hidden_size, hparams.relu_dropout, name="ffn")
        self.pre_attention = _PreNorm(hparams, name="self_attention_prenorm")
        self.pre_ffn = _PreNorm(hparams, name="ffn_prenorm")
        self.supports_masking = True

    def build(self, input_shape):
        """Sublayers build on first call."""

    def compute_mask(self, x, mask=None):
        return None  # the padding mask is passed explicitly to every block

    def call(self, x, mask=None, training=None, segment_ids=None):
        y = self.self_attention(self.pre_attention.norm(x), mask=mask, training=training, segment_ids=segment_ids)
        x = self.pre_attention.residual(x, y, training=training)
        return self.pre_ffn.residual(x, self.ffn(self.pre_ffn.norm(x), training=training), training=training)


class DecoderBlock(keras.layers.Layer):
    """Causal self-attention + encoder-decoder attention (dense) + feed-forward."""

    def __init__(self, hparams, max_length, **kwargs):
        super().__init__(**kwargs)
        heads = hparams.num_heads
        self.self_attention = self_attention(hparams, causal=True, name="self_attention", max_length=max_length)
        self.encdec_attention = CrossAttention(
            heads, (hparams.attention_key_channels or hparams.hidden_size) // heads,
            value_dim=(hparams.attention_value_channels or hparams.hidden_size) // heads,
            dropout=hparams.attention_dropout, name="encdec_attention")
        self.ffn = FeedForward(hparams.filter_size, hparams.hidden_size, hparams.relu_dropout, name="ffn")
        self.pre_self = _PreNorm(hparams, name="self_attention_prenorm")
        self.pre_encdec = _PreNorm(hparams, name="encdec_attention_prenorm")
        self.pre_ffn = _PreNorm(hparams, name="ffn_prenorm")

    def build(self, input_shape):
        """Sublayers build on first call."""

    def call(self, x, encoder_output, encdec_mask, segment_ids=None, training=None):
        y = self.self_attention(self.pre_self.norm(x), training=training, segment_ids=segment_ids)
        x = self.pre_self.residual(x, y, training=training)
        y = self.encdec_attention(self.pre_encdec.norm(x), encoder_output, attention_mask=encdec_mask,
                                  training=training)
        x = self.pre_encdec.residual(x, y, training=training)
        return self.pre_ffn.residual(x, self.ffn(self.pre_ffn.norm(x), training=training), training=training)


@register_model
class Transformer(keras.Model):
    """Encoder-decoder when the problem has inputs, else a decoder-only language model.

    Args:
      hparams: model hparams (hidden_size, filter_size, num_heads, num_hidden_layers, dropouts,
        self_attention_type and the Sinkhorn fields, shared_embedding_and_softmax_weights, ...).
      problem_hparams: the problem's `vocab_size` / `modality` per feature.
      max_length: longest sequence (the SortNet width of Sinkhorn layers); defaults to
        `hparams.max_length`.

    Call arguments:
      features: dict with int `targets (B, Lt)` and, for seq2seq, `inputs (B, Li)`; packed rows
        add `targets_segmentation` / `targets_position` (and `inputs_*`), T2T's format: no
        attention across segments, positions restart per segment.

    Returns:
      float32 logits `(B, Lt, target_vocab_size)`; position t predicts `targets[:, t]` from
      `targets[:, :t]` (teacher forcing; the decoder input is `targets` shifted right, and 0 at
      the start of every packed segment).
    """

    def __init__(self, hparams, problem_hparams, max_length=None, **kwargs):
        super().__init__(**kwargs)
        self.hp = hparams
        self.problem_hparams = problem_hparams
        self.has_inputs = "inputs" in problem_hparams.modality
        depth = hparams.hidden_size
        self.max_length = max_length or hparams.max_length or None
        init = keras.initializers.RandomNormal(0.0, depth**-0.5)
        self.target_vocab_size = problem_hparams.vocab_size["targets"]
        self.target_embedding = keras.layers.Embedding(self.target_vocab_size, depth, embeddings_initializer=init,
                                                       name="target_embedding")
        self.dropout = Dropout(hparams.layer_prepostprocess_dropout)
        num_encoder = hparams.num_encoder_layers or hparams.num_hidden_layers
        num_decoder = hparams.num_decoder_layers or hparams.num_hidden_layers
        if self.has_inputs:
            self.input_embedding = keras.layers.Embedding(problem_hparams.vocab_size["inputs"], depth,
                                                          embeddings_initializer=init, name="input_embedding")
            self.encoder_blocks = [EncoderBlock(hparams, self.max_length, name=f"encoder_layer_{i}")
                                   for i in range(num_encoder)]
            self.encoder_norm = keras.layers.LayerNormalization(epsilon=hparams.norm_epsilon, name="encoder_norm")
            self.decoder_blocks = [DecoderBlock(hparams, self.max_length, name=f"decoder_layer_{i}")
                                   for i in range(num_decoder)]
        else:
            self.decoder_blocks = [EncoderBlock(hparams, self.max_length, causal=True, name=f"decoder_layer_{i}")
                                   for i in range(num_decoder)]
        self.decoder_norm = keras.layers.LayerNormalization(epsilon=hparams.norm_epsilon, name="decoder_norm")
        self.shared_softmax = hparams.shared_embedding_and_softmax_weights
        if not self.shared_softmax:
            self.softmax_layer = FlatDense(self.target_vocab_size, use_bias=False, name="softmax")

    def _embed(self, embedding, ids, positions=None):
        x = embedding(ids) * (self.hp.hidden_size**0.5)
        if positions is None:
            positions = ops.broadcast_to(ops.arange(ops.shape(ids)[1])[None, :], ops.shape(ids))
        return x + ops.cast(timing_signal(positions, self.hp.hidden_size), x.dtype)

    def encode(self, inputs, training=None, segment_ids=None, positions=None):
        """`inputs (B, Li)` -> `(B, Li, hidden)` and the input mask `(B, Li)`."""
        mask = ops.not_equal(inputs, 0)
        x = self.dropout(self._embed(self.input_embedding, inputs, positions), training=training)
        for block in self.encoder_blocks:
            x = block(x, mask=mask, training=training, segment_ids=segment_ids)
        return self.encoder_norm(x), mask

    def decode(self, decoder_ids, encoder_output=None, input_mask=None, training=None, segment_ids=None,
               positions=None, input_segment_ids=None):
        """Decoder input ids `(B, Lt)` (already shifted) -> logits `(B, Lt, vocab)`."""
        x = self.dropout(self._embed(self.target_embedding, decoder_ids, positions), training=training)
        encdec_mask = None
        if input_mask is not None:
            encdec_mask = ops.broadcast_to(input_mask[:, None, :], (ops.shape(decoder_ids)[0],
                                                                     ops.shape(decoder_ids)[1],
                                                                     ops.shape(input_mask)[1]))
            if segment_ids is not None and input_segment_ids is not None:
                encdec_mask = ops.logical_and(encdec_mask, ops.equal(segment_ids[:, :, None],
                                                                     input_segment_ids[:, None, :]))
        for block in self.decoder_blocks:
            if self.has_inputs:
                x = block(x, encoder_output, encdec_mask, segment_ids=segment_ids, training=training)
            else:
                x = block(x, training=training, segment_ids=segment_ids)
        return self._logits(self.decoder_norm(x))

    def _logits(self, x):
        """Final decoder states -> float32 logits (shared embedding / softmax weights or not)."""
        if self.shared_softmax:
            logits = flat_matmul(x, ops.transpose(self.target_embedding.embeddings))
        else:
            logits = self.softmax_layer(x)
        return ops.cast(logits, "float32")

    # --- incremental decoding ----------------------------------------------------------------
    def init_decode_cache(self, batch_size, max_length, inputs=None):
        """State for `decode_step`: every decoder self-attention layer's cache and, for seq2seq,
        the encoder output's cross-attention keys and values and mask, computed once.

        Args:
          batch_size, max_length: the decode buffer.
          inputs: int `(batch_size, Li)` for seq2seq, else None.
        """
        cache = {"self": [block.self_attention.init_cache(batch_size, max_length) for block in self.decoder_blocks]}
        if self.has_inputs:
            encoder_output, input_mask = self.encode(inputs, training=False)
            memory = [block.encdec_attention.project_memory(encoder_output) for block in self.decoder_blocks]
            cache["encdec_key"], cache["encdec_value"] = [k for k, _ in memory], [v for _, v in memory]
            cache["encdec_mask"] = input_mask[:, None, :]  # [B, 1, Li]
        return cache

    def decode_step(self, ids, cache, index):
        """Decoder input ids at position `index` (`(B, 1)`, the previous token; 0 at the start)
        -> float32 logits `(B, vocab)` for position `index`, and the updated cache. Equal to
        `decode(...)[:, index]` of a full pass over the same ids (inference mode)."""
        positions = ops.broadcast_to(ops.reshape(ops.cast(index, "int32"), (1, 1)), ops.shape(ids))
        x = self._embed(self.target_embedding, ids, positions)
        cache = dict(cache, self=list(cache["self"]))
        for i, block in enumerate(self.decoder_blocks):
            pre = block.pre_self if self.has_inputs else block.pre_attention
            y, cache["self"][i] = block.self_attention.decode_step(pre.norm(x), cache["self"][i], index)
            x = x + y
            if self.has_inputs:
                cross = block.encdec_attention
                x = x + cross.attend(cross.project_query(block.pre_encdec.norm(x)), cache["encdec_key"][i],
                                     cache["encdec_value"][i], cache["encdec_mask"])
            x = x + block.ffn(block.pre_ffn.norm(x), training=False)
        return self._logits(self.decoder_norm(x))[:, 0], cache

    def call(self, features, training=None):
        targets = features["targets"]
        decoder_ids = ops.pad(targets, [[0, 0], [1, 0]])[:, :-1]  # shift right
        positions = features.get("targets_position")
        if positions is not None:  # a packed segment starts from 0, not from the previous example
            decoder_ids = ops.where(ops.equal(positions, 0), ops.zeros_like(decoder_ids), decoder_ids)
        segments = features.get("targets_segmentation")
        if self.has_inputs:
            input_segments = features.get("inputs_segmentation")
            encoder_output, input_mask = self.encode(features["inputs"], training=training, segment_ids=input_segments,
                                                     positions=features.get("inputs_position"))
            return self.decode(decoder_ids, encoder_output, input_mask, training=training, segment_ids=segments,
                               positions=positions, input_segment_ids=input_segments)
        return self.decode(decoder_ids, training=training, segment_ids=segments, positions=positions)


@register_model
class TransformerEncoder(keras.Model):
    """Encoder-only classifier: encoder stack, mean over real tokens, dense to the classes.

    Call arguments:
      features: dict with int `inputs (B, L)`.

    Returns:
      float32 logits `(B, 1, num_classes)` (targets are `(B, 1)` class ids).
    """

    def __init__(self, hparams, problem_hparams, max_length=None, **kwargs):
        super().__init__(**kwargs)
        if problem_hparams.modality.get("targets") != Modality.CLASS_LABEL:
            raise ValueError("model transformer_encoder needs a classification problem (targets: class_label).")
        self.hp = hparams
        self.problem_hparams = problem_hparams
        self.has_inputs = True
        depth = hparams.hidden_size
        init = keras.initializers.RandomNormal(0.0, depth**-0.5)
        self.input_embedding = keras.layers.Embedding(problem_hparams.vocab_size["inputs"], depth,
                                                      embeddings_initializer=init, name="input_embedding")
        self.dropout = Dropout(hparams.layer_prepostprocess_dropout)
        length = max_length or hparams.max_length or None
        self.encoder_blocks = [EncoderBlock(hparams, length, name=f"encoder_layer_{i}")
                               for i in range(hparams.num_encoder_layers or hparams.num_hidden_layers)]
        self.encoder_norm = keras.layers.LayerNormalization(epsilon=hparams.norm_epsilon, name="encoder_norm")
        self.classifier = keras.layers.Dense(problem_hparams.vocab_size["targets"], name="classifier")

    def call(self, features, training=None):
        inputs = features["inputs"]
        mask = ops.not_equal(inputs, 0)
        x = self.input_embedding(inputs) * (self.hp.hidden_size**0.5)
        positions = ops.broadcast_to(ops.arange(ops.shape(inputs)[1])[None, :], ops.shape(inputs))
        x = self.dropout(x + ops.cast(timing_signal(positions, self.hp.hidden_size), x.dtype), training=training)
        for block in self.encoder_blocks:
            x = block(x, mask=mask, training=training)
        x = self.encoder_norm(x)
        weights = ops.cast(mask, x.dtype)[..., None]
        pooled = ops.sum(x * weights, axis=1) / ops.maximum(ops.sum(weights, axis=1), 1.0)
        return ops.cast(self.classifier(pooled), "float32")[:, None, :]


class HParamsError(ValueError):
    """Hparams that cannot build the model; the message names the offending value."""


# hparam -> (the one value supported here, why another is not). Everything else a set may hold is
# implemented; these are refused rather than silently ignored.
UNSUPPORTED = {
    "weight_dtype": ("float32", "variables stay float32 (Keras keeps float32 weights under mixed precision); set "
                                "activation_dtype=bfloat16 for bfloat16 compute"),
    "pack_dataset": (False, "packing on the fly is not implemented; use the problem's *_packed variant (T2T's "
                            "packed rows, written by t2t-datagen)"),
    "layer_preprocess_sequence": ("n", "the Transformer here is pre-norm: layer norm before each sublayer"),
    "layer_postprocess_sequence": ("da", "the Transformer here adds dropout then the residual after each sublayer"),
    "optimizer_adafactor_beta1": (0.0, "Keras's Adafactor has no first-moment (momentum) term; use optimizer=adam "
                                       "for momentum"),
    "optimizer_adafactor_beta2": (0.999, "T2T reads it only with optimizer_adafactor_decay_type=adam, which Keras's "
                                         "Adafactor does not offer; its second-moment decay is 1 - step^"
                                         "optimizer_adafactor_decay_rate"),
    "optimizer_adafactor_multiply_by_parameter_scale": (True, "Keras's Adafactor always scales updates by the "
                                                              "parameter's RMS"),
}


def check_supported(hparams):
    """Raises `HParamsError` naming the first hparam set to a value this implementation would ignore."""
    for name, (supported, why) in UNSUPPORTED.items():
        value = hparams.get(name, supported)
        if value != supported:
            raise HParamsError(f"hparam {name}={value!r} is not supported ({why}); leave it at {supported!r}.")


def apply_initializer_gain(model, gain):
    """T2T's `initializer_gain`: kernels are drawn from `variance_scaling(gain, fan_avg, uniform)`.

    Keras's default kernel initializer is that distribution with gain 1 (Glorot uniform), so
    scaling every freshly built kernel by `sqrt(gain)` gives exactly T2T's initialisation.
    Embeddings (normal, stddev hidden_size^-0.5), biases and layer norms are not kernels and keep
    their own initialisers, as in T2T.
    """
    if gain == 1.0:
        return
    if gain <= 0:
        raise HParamsError(f"hparam initializer_gain={gain!r} must be > 0.")
    for variable in model.trainable_variables:
        if variable.path.rsplit("/", 1)[-1].endswith("kernel"):
            variable.assign(variable * gain**0.5)


def build_model(model_name, hparams, problem_hparams, max_length=None):
    """Instantiates a registered model under the hparams' activation dtype policy.

    `max_length`: the problem's longest sequence (`Problem.max_length`: packed length, 3072 for
    CIFAR-10, else `hparams.max_length`), which sizes the Sinkhorn SortNets."""
    from sinkhorn_t2t import registry

    cls = registry.model(model_name)
    check_supported(hparams)
    policy = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}.get(
        hparams.activation_dtype)
    if policy is None:
        raise HParamsError(f"hparam activation_dtype={hparams.activation_dtype!r}: use float32, bfloat16 or float16.")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        return cls(hparams, problem_hparams, max_length=max_length, name=model_name)
    except ValueError as err:
        raise HParamsError(f"cannot build {model_name} from these hparams: {err}") from None
    finally:
        keras.config.set_dtype_policy(previous)
