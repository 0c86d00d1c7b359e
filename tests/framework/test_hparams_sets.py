"""Registered sets carry T2T's resolved values (notes, section 5) and every paper row exists."""
import pytest

from sinkhorn_t2t import registry

T2T_VALUES = {
    "transformer_base": dict(hidden_size=512, filter_size=2048, num_heads=8, num_hidden_layers=6, max_length=256,
                             batch_size=4096, optimizer="adam", label_smoothing=0.1,
                             learning_rate_schedule="constant*linear_warmup*rsqrt_decay*rsqrt_hidden_size",
                             learning_rate_constant=2.0, learning_rate_warmup_steps=8000,
                             shared_embedding_and_softmax_weights=True, optimizer_adam_beta2=0.997,
                             optimizer_adam_epsilon=1e-9, layer_preprocess_sequence="n",
                             layer_postprocess_sequence="da", self_attention_type="dot_product"),
    "transformer_tiny": dict(hidden_size=128, filter_size=512, num_heads=4, num_hidden_layers=2),
    "transformer_big": dict(hidden_size=1024, filter_size=4096, num_heads=16, batch_size=2048,
                            layer_prepostprocess_dropout=0.3),
    "transformer_tpu": dict(hidden_size=512, max_length=64, batch_size=2048, optimizer="adafactor",
                            learning_rate_schedule="rsqrt_decay", learning_rate_warmup_steps=10000),
    "lmx_base": dict(hidden_size=512, filter_size=2048, max_length=256, batch_size=4096, optimizer="adafactor",
                     label_smoothing=0.0, shared_embedding_and_softmax_weights=False, activation_dtype="bfloat16"),
    "lmx_h2k_f8k": dict(hidden_size=2048, filter_size=8192, num_heads=8, optimizer="adafactor"),
}


@pytest.mark.parametrize("name", sorted(T2T_VALUES))
def test_t2t_sets_have_t2t_values(name):
    hp = registry.hparams(name)
    for key, value in T2T_VALUES[name].items():
        assert hp.get(key) == value, (name, key)


PAPER_ROWS = {
    # Table 1 (sort)
    "sort_transformer": ("dot_product", None), "sort_local_32": ("local", 32), "sort_sparse_32": ("sparse_fixed", 32),
    "sort_sinkhorn_8": ("sinkhorn", 8), "sort_sinkhorn_16": ("sinkhorn", 16), "sort_sinkhorn_32": ("sinkhorn", 32),
    # Table 2 (LM1B) base and big
    "lm1b_base_local_16": ("local", 16), "lm1b_big_local_64": ("local", 64), "lm1b_base_sparse_64": ("sparse_fixed", 64),
    "lm1b_big_sinkhorn_64": ("sinkhorn", 64), "lm1b_base_sinkhorn_mixture": ("sinkhorn_mixture", 32),
    # Table 4 (LM1B chars), Table 5 (CIFAR-10)
    "lm1b_char_base_sinkhorn": ("sinkhorn", 128), "lm1b_char_big_sparse": ("sparse_fixed", 128),
    "cifar_sinkhorn_256": ("sinkhorn", 256), "cifar_sparse_256": ("sparse_fixed", 256),
    "cifar_sinkhorn_mixture": ("sinkhorn_mixture", 256), "cifar_local": ("local", 256),
    # Tables 6 and 7 (classification)
    "cls_sinkhorn_8": ("sinkhorn", 8), "cls_sortcut_2x16": ("sortcut", 16), "cls_char_sortcut_2x32": ("sortcut", 32),
}


@pytest.mark.parametrize("name", sorted(PAPER_ROWS))
def test_paper_rows(name):
    hp = registry.hparams(name)
    kind, block = PAPER_ROWS[name]
    assert hp.self_attention_type == kind
    if block:
        assert hp.sinkhorn_block_size == block


def test_paper_parents_and_knobs():
    assert registry.hparams("lm1b_big_sinkhorn_32").hidden_size == 2048
    assert registry.hparams("lm1b_base_sparse_64").sparse_stride == 8
    assert registry.hparams("cls_sortcut_2x8").sortcut_budget == 2
    assert registry.hparams("cls_sinkhorn_16").num_hidden_layers == 2  # transformer_tiny
    assert registry.hparams("lm1b_char_base_sinkhorn").max_length == 1024
    assert registry.hparams("sort_sinkhorn_16").max_length >= 513  # eval length 512 + EOS
    ablations = {name: registry.hparams("lm1b_base_sinkhorn_32_" + name) for name in
                 ("sortnet_mlp_relu", "sortnet_mlp", "sortnet_linear_relu", "sortnet_linear", "kv_shared",
                  "no_sinkhorn")}
    assert [ablations[n].sinkhorn_sort_net for n in ("sortnet_mlp_relu", "sortnet_mlp", "sortnet_linear_relu",
                                                      "sortnet_linear")] == ["mlp_relu", "mlp", "linear_relu", "linear"]
    assert ablations["kv_shared"].sinkhorn_share_kv and ablations["no_sinkhorn"].sinkhorn_iters == 0
