"""T2T's Transformer hparam sets with their resolved values (T2T 1.15.7, notes section 5)."""
from sinkhorn_t2t.hparam import HParams
from sinkhorn_t2t.registry import register_hparams


@register_hparams("basic_1")
def basic_params1():
    """T2T's `basic_params1`, limited to what this implementation uses."""
    return HParams(
        batch_size=4096,
        max_length=0,
        min_length_bucket=8,
        length_bucket_step=1.1,
        use_fixed_batch_size=False,
        eval_drop_long_sequences=False,
        max_input_seq_length=0,
        max_target_seq_length=0,
        hidden_size=64,
        filter_size=256,
        num_heads=4,
        num_hidden_layers=2,
        num_encoder_layers=0,
        num_decoder_layers=0,
        attention_key_channels=0,
        attention_value_channels=0,
        layer_preprocess_sequence="n",
        layer_postprocess_sequence="da",
        layer_prepostprocess_dropout=0.1,
        attention_dropout=0.1,
        relu_dropout=0.1,
        norm_epsilon=1e-6,
        label_smoothing=0.1,
        shared_embedding_and_softmax_weights=False,
        initializer_gain=1.0,
        optimizer="adam",
        optimizer_adam_beta1=0.85,
        optimizer_adam_beta2=0.997,
        optimizer_adam_epsilon=1e-6,
        optimizer_adafactor_beta1=0.0,
        optimizer_adafactor_beta2=0.999,
        optimizer_adafactor_decay_rate=-0.8,
        optimizer_adafactor_clipping_threshold=1.0,
        optimizer_adafactor_multiply_by_parameter_scale=True,
        learning_rate=0.1,
        learning_rate_schedule="legacy",
        learning_rate_constant=1.0,
        learning_rate_warmup_steps=100,
        clip_grad_norm=0.0,
        weight_decay=0.0,
        activation_dtype="float32",
        weight_dtype="float32",
        pack_dataset=False,
        # Attention type and the Sinkhorn / baseline knobs (this project).
        self_attention_type="dot_product",
        sinkhorn_block_size=32,
        sinkhorn_iters=5,
        sinkhorn_temperature=0.75,
        sinkhorn_sort_net="linear",
        sinkhorn_combine="concat",
        sinkhorn_gumbel_noise=True,
        sinkhorn_share_kv=False,
        sortcut_budget=2,
        sparse_stride=8,
        local_num_memory_blocks=0,
    )


@register_hparams
def transformer_base():
    """transformer_base_v3 / transformer_base: 6 layers, 512 wide, pre-norm, Adam, rsqrt schedule."""
    hp = basic_params1()
    hp.override_from_dict(dict(
        hidden_size=512, filter_size=2048, num_heads=8, num_hidden_layers=6, max_length=256,
        batch_size=4096, label_smoothing=0.1, shared_embedding_and_softmax_weights=True,
        optimizer="adam", optimizer_adam_beta1=0.9, optimizer_adam_beta2=0.997, optimizer_adam_epsilon=1e-9,
        learning_rate_schedule="constant*linear_warmup*rsqrt_decay*rsqrt_hidden_size",
        learning_rate_constant=2.0, learning_rate_warmup_steps=8000, learning_rate=0.2,
        layer_prepostprocess_dropout=0.1, attention_dropout=0.1, relu_dropout=0.1))
    return hp


@register_hparams
def transformer_tiny():
    hp = transformer_base()
    hp.override_from_dict(dict(num_hidden_layers=2, hidden_size=128, filter_size=512, num_heads=4))
    return hp


@register_hparams
def transformer_small():
    hp = transformer_base()
    hp.override_from_dict(dict(num_hidden_layers=2, hidden_size=256, filter_size=1024, num_heads=4))
    return hp


@register_hparams
def transformer_big():
    hp = transformer_base()
    hp.override_from_dict(dict(hidden_size=1024, filter_size=4096, batch_size=2048, num_heads=16,
                               layer_prepostprocess_dropout=0.3))
    return hp


def update_hparams_for_tpu(hp):
    """T2T's TPU changes: Adafactor with rsqrt_decay and 10k warmup, max_length 64, batch <= 2048."""
    hp.override_from_dict(dict(optimizer="adafactor", learning_rate_schedule="rsqrt_decay",
                               learning_rate_warmup_steps=10000, max_length=64,
                               batch_size=min(hp.batch_size, 2048)))
    return hp


@register_hparams
def transformer_tpu():
    return update_hparams_for_tpu(transformer_base())


@register_hparams
def transformer_tiny_tpu():
    return update_hparams_for_tpu(transformer_tiny())


@register_hparams
def lmx_base():
    """lm_experiments.py: transformer_tpu for LM1B, no label smoothing, bfloat16 activations."""
    hp = transformer_tpu()
    hp.override_from_dict(dict(shared_embedding_and_softmax_weights=False, label_smoothing=0.0,
                               max_length=256, batch_size=4096, activation_dtype="bfloat16"))
    return hp


@register_hparams
def lmx_h2k_f8k():
    """lmx_base at 2048 wide with a 8192 filter (the paper's Big LM1B setting, ~430M params)."""
    hp = lmx_base()
    hp.override_from_dict(dict(hidden_size=2048, filter_size=8192))
    return hp


@register_hparams
def transformer_test():
    """A tiny model for tests and the smoke run: 1 layer, 32 wide."""
    hp = transformer_tiny()
    hp.override_from_dict(dict(num_hidden_layers=1, hidden_size=32, filter_size=64, num_heads=2,
                               batch_size=256, learning_rate_warmup_steps=50, sinkhorn_block_size=4,
                               sparse_stride=2))
    return hp
