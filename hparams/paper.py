"""Hparam sets for every model row of the paper's Tables 1-8 (section 5) and its tuning grid.

Each set starts from the T2T parent the paper used and changes the attention fields; the README
maps each table row to its set and command. "Local attention" rows use T2T's local attention
shape: a query block sees its own and the previous block (2 x block keys, as many as Sinkhorn).
"""
from sinkhorn_t2t.hparams.transformer import lmx_base, lmx_h2k_f8k, transformer_base, transformer_tiny
from sinkhorn_t2t.registry import register_hparams, register_ranged_hparams


def with_attention(hp, kind, block=None, **extra):
    """Sets `self_attention_type` (and its block size) on `hp` and returns it."""
    hp.self_attention_type = kind
    if block is not None:
        hp.sinkhorn_block_size = block
    if kind == "local":
        hp.local_num_memory_blocks = 1
    hp.override_from_dict(extra)
    return hp


def _register_family(prefix, parent, rows):
    """Registers `prefix + suffix` for each (suffix, kind, block, extra) row, all from `parent()`."""
    for suffix, kind, block, extra in rows:
        def make(kind=kind, block=block, extra=extra):
            return with_attention(parent(), kind, block, **extra)

        make.__name__ = make.__qualname__ = prefix + suffix
        make.__doc__ = f"{prefix}{suffix}: {kind} attention" + (f", block {block}" if block else "") + "."
        register_hparams(prefix + suffix)(make)


# Table 1: algorithmic sort at length 256 (eval 512), transformer_base.
def sort_base():
    hp = transformer_base()
    hp.max_length = 520  # eval sequences are up to 512 symbols + EOS
    return hp


_register_family("sort_", sort_base, [
    ("transformer", "dot_product", None, {}),
    ("local_32", "local", 32, {}),
    ("sparse_32", "sparse_fixed", 32, {"sparse_stride": 8}),
    ("sinkhorn_8", "sinkhorn", 8, {}),
    ("sinkhorn_16", "sinkhorn", 16, {}),
    ("sinkhorn_32", "sinkhorn", 32, {}),
])

# Table 2: LM1B subword (packed length 256), Base = lmx_base, Big = lmx_h2k_f8k.
_LM1B_ROWS = [
    ("transformer", "dot_product", None, {}),
    ("local_16", "local", 16, {}), ("local_32", "local", 32, {}), ("local_64", "local", 64, {}),
    ("sparse_64", "sparse_fixed", 64, {"sparse_stride": 8}),
    ("sinkhorn_16", "sinkhorn", 16, {}), ("sinkhorn_32", "sinkhorn", 32, {}), ("sinkhorn_64", "sinkhorn", 64, {}),
    ("sinkhorn_mixture", "sinkhorn_mixture", 32, {}),
]
for _size, _parent in (("base", lmx_base), ("big", lmx_h2k_f8k)):
    _register_family(f"lm1b_{_size}_", _parent, _LM1B_ROWS)


# Table 4: LM1B characters, length 1024, block 128.
def _char_parent(parent):
    def make():
        hp = parent()
        hp.max_length = 1024
        return hp

    return make


_CHAR_ROWS = [
    ("transformer", "dot_product", None, {}),
    ("local", "local", 128, {}),
    ("sparse", "sparse_fixed", 128, {"sparse_stride": 8}),
    ("sinkhorn", "sinkhorn", 128, {}),
    ("sinkhorn_mixture", "sinkhorn_mixture", 128, {}),
]
for _size, _parent in (("base", lmx_base), ("big", lmx_h2k_f8k)):
    _register_family(f"lm1b_char_{_size}_", _char_parent(_parent), _CHAR_ROWS)


# Table 5: CIFAR-10 pixels (3072), base parameterisation, batch size 1, block 256.
def cifar_base():
    hp = transformer_base()
    hp.override_from_dict(dict(max_length=3072, batch_size=1, use_fixed_batch_size=True,
                               shared_embedding_and_softmax_weights=False, label_smoothing=0.0))
    return hp


_register_family("cifar_", cifar_base, [
    ("transformer", "dot_product", None, {}),
    ("local", "local", 256, {}),
    ("sparse_256", "sparse_fixed", 256, {"sparse_stride": 8}),
    ("sinkhorn_256", "sinkhorn", 256, {}),
    ("sinkhorn_mixture", "sinkhorn_mixture", 256, {}),
])


# Tables 6 and 7: classification (IMDb, SST, SNLI, MNLI), transformer_tiny, 4096 tokens per batch.
def _classification_parent(max_length):
    def make():
        hp = transformer_tiny()
        hp.override_from_dict(dict(max_length=max_length, batch_size=4096))
        return hp

    return make


_CLS_ROWS = [
    ("transformer", "dot_product", None, {}),
    ("sinkhorn_8", "sinkhorn", 8, {}), ("sinkhorn_16", "sinkhorn", 16, {}), ("sinkhorn_32", "sinkhorn", 32, {}),
    ("sortcut_2x8", "sortcut", 8, {"sortcut_budget": 2}),
    ("sortcut_2x16", "sortcut", 16, {"sortcut_budget": 2}),
    ("sortcut_2x32", "sortcut", 32, {"sortcut_budget": 2}),
]
_register_family("cls_", _classification_parent(512), _CLS_ROWS)  # words: max length 512
_register_family("cls_char_", _classification_parent(2048), _CLS_ROWS)  # characters: max length 2048


# Table 8: sort-net ablations, Sinkhorn b=32 on LM1B (base).
_register_family("lm1b_base_sinkhorn_32_", lmx_base, [
    ("sortnet_mlp_relu", "sinkhorn", 32, {"sinkhorn_sort_net": "mlp_relu"}),  # (1) sigma(F2(sigma(F1)))
    ("sortnet_mlp", "sinkhorn", 32, {"sinkhorn_sort_net": "mlp"}),  # (2) F2(sigma(F1))
    ("sortnet_linear_relu", "sinkhorn", 32, {"sinkhorn_sort_net": "linear_relu"}),  # (3) sigma(F1)
    ("sortnet_linear", "sinkhorn", 32, {"sinkhorn_sort_net": "linear"}),  # (4) F1
    ("kv_shared", "sinkhorn", 32, {"sinkhorn_share_kv": True}),  # (5) K = V
    ("no_sinkhorn", "sinkhorn", 32, {"sinkhorn_iters": 0}),  # (6) N_k = 0
])


@register_ranged_hparams
def sinkhorn_tuning_grid(rhp):
    """The paper's grid (section 5): temperature x Sinkhorn iterations."""
    rhp.set_discrete("sinkhorn_temperature", [0.25, 0.5, 0.75, 1.0])
    rhp.set_discrete("sinkhorn_iters", [2, 5, 10, 20])


@register_hparams
def sinkhorn_tiny():
    """A small Sinkhorn Transformer for the smoke run (`run_t2t.sh`) on the T2T sort problem."""
    hp = transformer_tiny()
    hp.override_from_dict(dict(num_hidden_layers=2, hidden_size=64, filter_size=128, num_heads=4,
                               batch_size=1024, max_length=32, learning_rate_warmup_steps=400,
                               learning_rate_constant=0.3, layer_prepostprocess_dropout=0.0,
                               attention_dropout=0.0, relu_dropout=0.0))
    return with_attention(hp, "sinkhorn", 4)
