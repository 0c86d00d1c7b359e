"""Study 1 (paper Table 1): algorithmic sort, trained on lengths <= 64, evaluated on lengths <= 128.

Usage: python experiments/sort.py [--steps 1500] [--seeds 1 2] [--quick] [--work_dir DIR] [--out PREFIX]

A tiny encoder-decoder Transformer (`transformer_tiny`: 2 layers, 128 wide, 4 heads) with the
same attention type in the encoder and (causally) in the decoder, as the paper did: dense,
local (own + previous block, 16 tokens), Sparse Transformer (fixed, 16-token blocks, stride 4),
Sinkhorn with 8- and 16-token blocks, and the Sinkhorn Mixture. Why these lengths: at 64 tokens a
sequence spans 4-8 blocks, so sorting blocks matters, and a 2-core CPU trains each model in
minutes; the dev split (up to 128) is twice the training length, as the paper's 256 -> 512.
Metrics on the whole dev split: exact match (T2T's `accuracy_per_sequence`, the paper's EM),
T2T's `edit_distance` (summed Levenshtein distance / summed reference length) and token
accuracy, all teacher-forced as T2T's evaluation computes them.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from experiments import common, tasks  # noqa: E402

STUDY = "sort"
# (run name, attention type, block size, extra hparams)
MODELS = [
    ("transformer", "dot_product", None, {}),
    ("local_16", "local", 16, {"local_num_memory_blocks": 1}),
    ("sparse_16", "sparse_fixed", 16, {"sparse_stride": 4}),
    ("sinkhorn_8", "sinkhorn", 8, {}),
    ("sinkhorn_16", "sinkhorn", 16, {}),
    ("sinkhorn_mixture_16", "sinkhorn_mixture", 16, {}),
]
PAPER = {"transformer": "0.4252 / 45.69", "local_16": "0.4340 / 21.12 (b=32)", "sparse_16": "0.4176 / 46.88 (b=32)",
         "sinkhorn_8": "0.4156 / 43.65", "sinkhorn_16": "0.4071 / 48.23", "sinkhorn_mixture_16": "-"}
QUICK_SIZES = dict(train_size=2000, dev_size=64)


def sort_hparams(kind, block, extra):
    """transformer_tiny with `kind` attention, 2048 tokens per batch; max_length 144 covers dev
    inputs (128 + EOS) in whole 8- and 16-token blocks."""
    return common.hparams_with("transformer_tiny", self_attention_type=kind, sinkhorn_block_size=block or 16,
                               max_length=144, batch_size=2048,
                               **extra)


def run_study(args, models=MODELS):
    problem, data_dir, _ = common.prepare_data(tasks.ExperimentSort64(), args.work_dir, args.quick, QUICK_SIZES)
    progress = common.Progress(STUDY, len(models) * len(args.seeds))
    results = []
    for seed in args.seeds:
        for name, kind, block, extra in models:
            hp = sort_hparams(kind, block, extra)
            results.append(common.train_and_evaluate(problem, data_dir, name, hp, seed, args.steps, args.work_dir,
                                                     progress, quick=args.quick))
    return results


def main():
    args = common.parse_args(__doc__.split("\n")[0], steps=1500, seeds=[1, 2])
    results = run_study(args)
    rows = common.summarize(results, ["accuracy_per_sequence", "edit_distance", "accuracy"])
    table = common.markdown_table(rows, [("EM (%)", "accuracy_per_sequence", 2, 100),
                                         ("edit distance", "edit_distance", 4, 1),
                                         ("token acc. (%)", "accuracy", 2, 100)],
                                  PAPER, "paper (edit dist. / EM, length 256)")
    common.write_outputs(common.out_prefix(args, STUDY), STUDY, args,
                         dict(problem="experiment_sort64", models=MODELS, hparams_set="transformer_tiny"), results,
                         table, lambda plt: common.bar_plot(plt, rows, [("exact match (%)", "accuracy_per_sequence", 100),
                                                                        ("edit distance", "edit_distance", 1)],
                                                            f"Sort, train <= 64, eval <= 128, {args.steps} steps"))


if __name__ == "__main__":
    main()
