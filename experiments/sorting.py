"""Study 5: what the sorting learns, and what happens beyond the training length.

Usage: python experiments/sorting.py [--steps 1500] [--seeds 1] [--quick] [--work_dir DIR] [--out PREFIX]

Takes study 1's Sinkhorn sort model (8-token blocks; trained here when study 1 has not, reused
when it has: same hparams, seed, steps and work dir) and, in evaluation mode (no Gumbel noise):
  - plots each encoder head's sorting matrix for one dev-like input at the training length (64
    tokens, 8 blocks) and at twice it (128 tokens, 16 blocks);
  - measures, per layer and head, how far each matrix is from a permutation (mean row entropy in
    nats: 0 for a permutation, ln NB for uniform rows; and 1 - the mean largest row entry) and
    from the identity (||P - I||_F / sqrt(2 NB): 0 for the identity, 1 for a permutation that
    moves every block), and how much of each row is the block just before (1 for what local
    attention's previous block gives), averaged over 32 random inputs per length;
  - compares every SortNet output column with its value at initialisation (a model built with
    the same seed): the columns of block positions no training batch reached never receive a
    gradient and keep their initial random values, and at 2x the training length rows of the
    new blocks are scored by them;
  - evaluates token accuracy and exact match (teacher-forced, as T2T does) on 256 random inputs
    of length <= 64 and 256 of length 65-128, as trained and again with the never-trained columns set
    to zero (neutral logits), which shows what their initial random values cost beyond the
    training length.
"""
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from experiments import common, sort, tasks  # noqa: E402

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from sinkhorn_t2t.data.text_encoder import EOS_ID, NUM_RESERVED_TOKENS  # noqa: E402
from sinkhorn_t2t.training.trainer import Trainer  # noqa: E402

STUDY = "sorting"
RUN = "sinkhorn_8"  # study 1's run
SAMPLES = 32


def row_entropy(matrix):
    """Mean over rows of -sum_j P_ij ln P_ij: `[..., NB, NB]` -> `[...]` (nats)."""
    p = np.clip(matrix, 1e-30, 1.0)
    return -(matrix * np.log(p)).sum(-1).mean(-1)


def permutation_gap(matrix):
    """1 - the mean largest entry of a row: 0 exactly for a permutation matrix."""
    return 1.0 - matrix.max(-1).mean(-1)


def identity_distance(matrix):
    """||P - I||_F / sqrt(2 NB): 0 for the identity, 1 for a doubly stochastic matrix with a zero
    diagonal (a permutation that moves every block)."""
    n = matrix.shape[-1]
    return np.sqrt(((matrix - np.eye(n)) ** 2).sum((-2, -1)) / (2 * n))


def previous_block_mass(matrix):
    """Mean over rows i >= 1 of P[i, i-1], the weight of the block just before: 1 when every
    block receives its predecessor (what local attention's previous block gives)."""
    return np.diagonal(matrix, offset=-1, axis1=-2, axis2=-1).mean(-1)


def sort_examples(rng, length, count, num_symbols):
    """`count` random inputs of exactly `length` tokens (symbols + EOS) with their sorted targets."""
    symbols = rng.integers(0, num_symbols, size=(count, length - 1)) + NUM_RESERVED_TOKENS
    eos = np.full((count, 1), EOS_ID)
    return {"inputs": tf.constant(np.concatenate([symbols, eos], 1), tf.int32),
            "targets": tf.constant(np.concatenate([np.sort(symbols, 1), eos], 1), tf.int32)}


def sinkhorn_layers(model):
    return [(f"encoder {i}", block.self_attention) for i, block in enumerate(model.encoder_blocks)] + \
        [(f"decoder {i}", block.self_attention) for i, block in enumerate(model.decoder_blocks)]


def sorting_matrices(model, features):
    """Runs the model once (evaluation mode) and returns {layer name: [B, H, NB, NB] matrix}."""
    recorded = {}
    for name, layer in sinkhorn_layers(model):
        original = layer.sorting_matrix

        def record(*args, name=name, original=original, **kwargs):
            recorded[name] = original(*args, **kwargs)
            return recorded[name]

        layer.sorting_matrix = record
    try:
        logits = model(features, training=False)
    finally:
        for _, layer in sinkhorn_layers(model):
            del layer.sorting_matrix  # back to the class's method
    return logits, {name: np.asarray(m) for name, m in recorded.items()}


def accuracy_by_length(model, seed, spans, num_symbols, count=256):
    """Teacher-forced token accuracy and exact match over `count` random inputs per length span
    (padded batches; the same inputs for the same seed)."""
    rng = np.random.default_rng(seed)
    out = {}
    for low, high in spans:
        inputs, targets = np.zeros((2, count, high + 1), np.int32)
        for i, n in enumerate(rng.integers(low, high + 1, size=count)):
            symbols = rng.integers(0, num_symbols, size=n) + NUM_RESERVED_TOKENS
            inputs[i, :n + 1] = np.append(symbols, EOS_ID)
            targets[i, :n + 1] = np.append(np.sort(symbols), EOS_ID)
        predictions = np.concatenate([np.argmax(np.asarray(model({"inputs": inputs[i:i + 64],
                                                                  "targets": targets[i:i + 64]}, training=False)), -1)
                                      for i in range(0, count, 64)])
        real, hits = targets > 0, predictions == targets
        out[f"{low}-{high}"] = dict(token_accuracy=float(hits[real].mean()),
                                    exact_match=float((hits | ~real).all(-1).mean()))
    return out


def initial_model(problem, data_dir, hparams, seed, work_dir):
    """The model as initialised with `seed` (what the trained run started from)."""
    keras.utils.set_random_seed(seed)
    trainer = Trainer(problem, "transformer", hparams, data_dir, os.path.join(work_dir, "init"),
                      tf.distribute.get_strategy(), seed=seed, log=lambda _: None)
    return trainer.model


def column_changes(trained, initial):
    """Per layer: the largest |trained - initial| of each SortNet output column (over heads and
    input features)."""
    changes = {}
    for (name, layer), (_, layer0) in zip(sinkhorn_layers(trained), sinkhorn_layers(initial)):
        delta = np.abs(np.asarray(layer.sort_net.output_kernel) - np.asarray(layer0.sort_net.output_kernel))
        changes[name] = delta.max(axis=(0, 1)).tolist()
    return changes


def zero_untrained_columns(model, reached):
    """Sets every SortNet's output columns from `reached` on to zero (neutral logits)."""
    for _, layer in sinkhorn_layers(model):
        kernel = layer.sort_net.output_kernel
        kernel.assign(np.concatenate([np.asarray(kernel)[..., :reached],
                                      np.zeros_like(np.asarray(kernel)[..., reached:])], -1))


def measure(model, num_symbols, train_blocks, rng):
    """Sorting-matrix statistics per length, layer and head, and the mean row entropy of the
    blocks training reached and of those beyond."""
    stats = {}
    for length in (64, 128):
        _, matrices = sorting_matrices(model, sort_examples(rng, length, SAMPLES, num_symbols))
        for name, m in matrices.items():
            stats[f"{length}/{name}"] = dict(
                row_entropy=row_entropy(m).mean(0).tolist(), uniform_entropy=math.log(m.shape[-1]),
                permutation_gap=permutation_gap(m).mean(0).tolist(),
                identity_distance=identity_distance(m).mean(0).tolist(),
                previous_block_mass=previous_block_mass(m).mean(0).tolist(),
                reached_rows_entropy=float(row_entropy(m[..., :train_blocks, :]).mean()),
                new_rows_entropy=float(row_entropy(m[..., train_blocks:, :]).mean()) if m.shape[-1] > train_blocks
                else None)
    return stats


def table(result, train_blocks):
    lines = ["| input length | layer | row entropy per head (nats; uniform = ln NB) | 1 - mean row max per head | "
             f"distance from identity per head | mass on the previous block per head | row entropy: blocks < "
             f"{train_blocks} / beyond |", "|---|---|---|---|---|---|---|"]
    fmt = lambda values: " ".join(f"{v:.2f}" for v in values)  # noqa: E731
    for key, s in result["matrices"].items():
        length, layer = key.split("/")
        lines.append(f"| {length} | {layer} | {fmt(s['row_entropy'])} (ln NB = {s['uniform_entropy']:.2f}) | "
                     f"{fmt(s['permutation_gap'])} | {fmt(s['identity_distance'])} | {fmt(s['previous_block_mass'])} | "
                     f"{s['reached_rows_entropy']:.2f} / "
                     f"{'-' if s['new_rows_entropy'] is None else format(s['new_rows_entropy'], '.2f')} |")
    lines += ["", f"SortNet output columns changed by training (of {len(next(iter(result['columns'].values())))}; "
              f"training batches reached {train_blocks} blocks):", "",
              "| layer | columns whose weights moved | columns exactly at their initial values |", "|---|---|---|"]
    for name, deltas in result["columns"].items():
        moved = [i for i, d in enumerate(deltas) if d > 0]
        still = [i for i, d in enumerate(deltas) if d == 0]
        lines.append(f"| {name} | {moved} | {still} |")
    lines += ["", "| eval lengths | token accuracy (%) | exact match (%) | token accuracy, never-trained columns "
              "set to 0 (%) | exact match, same (%) |", "|---|---|---|---|---|"]
    for span, acc in result["by_length"].items():
        zeroed = result["by_length_untrained_columns_zeroed"][span]
        lines.append(f"| {span} | {100 * acc['token_accuracy']:.2f} | {100 * acc['exact_match']:.2f} | "
                     f"{100 * zeroed['token_accuracy']:.2f} | {100 * zeroed['exact_match']:.2f} |")
    return "\n".join(lines)


def plot(plt, matrices):
    names = list(matrices)
    heads = matrices[names[0]].shape[1]
    figure, axes = plt.subplots(len(names), heads, figsize=(2.6 * heads, 2.6 * len(names)), squeeze=False)
    for row, name in enumerate(names):
        for h in range(heads):
            ax = axes[row][h]
            ax.imshow(matrices[name][0, h], vmin=0, vmax=1, cmap="viridis")
            ax.set_title(f"{name}, head {h}", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
    figure.suptitle("Sorting matrices in evaluation mode\n(row: target block, column: source block)", fontsize=9)
    return figure


def main():
    args = common.parse_args(__doc__.split("\n")[0], steps=1500, seeds=[1])
    problem, data_dir, _ = common.prepare_data(tasks.ExperimentSort64(), args.work_dir, args.quick, sort.QUICK_SIZES)
    _, kind, block, extra = next(m for m in sort.MODELS if m[0] == RUN)
    seed = args.seeds[0]
    hp = common.configure(sort.sort_hparams(kind, block, extra), args.steps, args.quick)
    progress = common.Progress(STUDY, 1)
    trained = common.train_and_evaluate(problem, data_dir, RUN, hp.copy(), seed, args.steps, args.work_dir, progress,
                                        quick=args.quick)
    keras.utils.set_random_seed(seed)
    out = common.run_dir(args.work_dir, problem, RUN, hp, seed, args.steps)
    trainer = Trainer(problem, "transformer", hp, data_dir, out, tf.distribute.get_strategy(), seed=seed,
                      log=progress.log)
    trainer.restore()
    model, rng = trainer.model, np.random.default_rng(seed)
    num_symbols = problem.num_symbols
    train_blocks = math.ceil((problem.train_length + 1) / block)  # the longest training input, in blocks
    columns = column_changes(model, initial_model(problem, data_dir, hp, seed, args.work_dir))
    reached = max(i + 1 for deltas in columns.values() for i, d in enumerate(deltas) if d > 0)
    result = dict(run=RUN, seed=seed, steps=args.steps, wall_s=trained["wall_s"], block_size=block,
                  train_blocks=reached, columns=columns, matrices=measure(model, num_symbols, reached, rng),
                  longest_training_input_blocks=train_blocks)
    examples = {}
    for length, layer in ((64, "encoder 0"), (128, "encoder 0"), (64, "decoder 0")):
        _, found = sorting_matrices(model, sort_examples(rng, length, 1, num_symbols))
        examples[f"{layer}, L={length}"] = found[layer]
    spans = [(1, problem.train_length), (problem.train_length + 1, problem.dev_length)]
    result["by_length"] = accuracy_by_length(model, seed, spans, num_symbols)
    zero_untrained_columns(model, reached)  # what the never-trained columns do: compare with neutral ones
    result["by_length_untrained_columns_zeroed"] = accuracy_by_length(model, seed, spans, num_symbols)
    common.write_outputs(common.out_prefix(args, STUDY), STUDY, args, dict(problem=problem.name, run=RUN, hparams=
                                                                          hp.values()),
                         [result], table(result, reached), lambda plt: plot(plt, examples))


if __name__ == "__main__":
    main()
