"""Study 2 (paper Table 4): character-level language modelling on real English text.

Usage: python experiments/char_lm.py [--steps 1200] [--seeds 1 2] [--quick] [--work_dir DIR] [--out PREFIX]

Corpus: the Python 3.11 reference documentation CPython ships as `pydoc_data/topics.py` (see
`experiments/tasks.py`): real English prose, present offline on every machine that runs this
project, so anyone reruns the study on the same bytes; every tenth topic is held out (never
trained on, never tuned on). Rows of 512 characters packed as T2T packs them (the paper: 1024
with 128-token blocks, 8 blocks per row; here 64-token blocks keep the same 8 blocks per row).
A tiny decoder-only LM (`transformer_tiny`, 2 layers, 128 wide): dense, local (own + previous
block), Sparse Transformer (fixed, stride 8), causal Sinkhorn and the Sinkhorn Mixture. Metric:
bits per character on the held-out topics (`-neg_log_perplexity / ln 2` over every real
character, the paper's "bytes per char").
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from experiments import common, tasks  # noqa: E402

STUDY = "char_lm"
BLOCK = 64
MODELS = [
    ("transformer", "dot_product", {}),
    ("local", "local", {"local_num_memory_blocks": 1}),
    ("sparse_fixed", "sparse_fixed", {"sparse_stride": 8}),
    ("sinkhorn", "sinkhorn", {}),
    ("sinkhorn_mixture", "sinkhorn_mixture", {}),
]
PAPER = {"transformer": "1.283", "local": "2.559", "sparse_fixed": "1.300", "sinkhorn": "1.295",
         "sinkhorn_mixture": "1.270"}


def char_lm_hparams(kind, **extra):
    """transformer_tiny as an LM on 4 packed rows of 512 characters per batch, 64-character blocks."""
    return common.hparams_with("transformer_tiny", self_attention_type=kind, sinkhorn_block_size=BLOCK,
                               max_length=tasks.ExperimentPydocCharactersPacked.packed_length, batch_size=2048,
                               **extra)


def prepare(args):
    """The corpus files and the packed data (the quick run uses the same data)."""
    problem = tasks.ExperimentPydocCharactersPacked()
    tasks.write_pydoc_corpus(os.path.join(args.work_dir, "tmp"))
    return common.prepare_data(problem, args.work_dir, False)[:2]


def run_models(args, models, study):
    problem, data_dir = prepare(args)
    progress = common.Progress(study, len(models) * len(args.seeds))
    return [common.train_and_evaluate(problem, data_dir, name, char_lm_hparams(kind, **extra), seed,
                                      args.steps, args.work_dir, progress, quick=args.quick)
            for seed in args.seeds for name, kind, extra in models]


def main():
    args = common.parse_args(__doc__.split("\n")[0], steps=1200, seeds=[1, 2])
    results = run_models(args, MODELS, STUDY)
    rows = common.summarize(results, ["bits_per_char", "accuracy"])
    table = common.markdown_table(rows, [("held-out bits/char", "bits_per_char", 3, 1),
                                         ("next-char acc. (%)", "accuracy", 2, 100)],
                                  PAPER, "paper bpc (LM1B, Base)")
    common.write_outputs(common.out_prefix(args, STUDY), STUDY, args,
                         dict(problem="experiment_pydoc_characters_packed", block_size=BLOCK, models=MODELS,
                              hparams_set="transformer_tiny"), results, table,
                         lambda plt: common.bar_plot(plt, rows, [("held-out bits per character", "bits_per_char", 1)],
                                                     f"Character LM (pydoc corpus), {args.steps} steps"))


if __name__ == "__main__":
    main()
