"""The replication studies (experiments/): their measures against closed forms, their problems'
data and their flags (the `--quick` runs: test_quick_*.py)."""
import math
import os

import numpy as np
import pytest

from experiments import common, sorting, tasks
from sinkhorn_t2t import registry
from sinkhorn_t2t.data.problem import DatasetSplit

from tests.experiments.studies import run_study


def test_sorting_measures_against_closed_forms():
    n = 6
    identity, shift = np.eye(n), np.roll(np.eye(n), 1, axis=1)  # the shift moves every block
    uniform = np.full((n, n), 1.0 / n)
    assert sorting.row_entropy(identity) == pytest.approx(0.0, abs=1e-12)
    assert sorting.row_entropy(shift) == pytest.approx(0.0, abs=1e-12)
    assert sorting.row_entropy(uniform) == pytest.approx(math.log(n))
    half = np.array([[0.5, 0.5], [0.5, 0.5]])
    assert sorting.row_entropy(np.stack([half, np.eye(2)])) == pytest.approx([math.log(2), 0.0])
    assert sorting.permutation_gap(shift) == pytest.approx(0.0)
    assert sorting.permutation_gap(uniform) == pytest.approx(1 - 1 / n)
    below = np.eye(n, k=-1)  # every block receives the one before it (row 0: nothing, as causal)
    assert sorting.previous_block_mass(below) == pytest.approx(1.0)
    assert sorting.previous_block_mass(identity) == pytest.approx(0.0)
    assert sorting.previous_block_mass(uniform) == pytest.approx(1 / n)
    assert sorting.identity_distance(identity) == pytest.approx(0.0)
    assert sorting.identity_distance(shift) == pytest.approx(1.0)
    # uniform: ||U - I||^2 = n * (1 - 1/n)^2 + n (n - 1) / n^2 = n - 1
    assert sorting.identity_distance(uniform) == pytest.approx(math.sqrt((n - 1) / (2 * n)))


def test_sort_examples_are_sorted_and_end_with_eos():
    features = sorting.sort_examples(np.random.default_rng(0), 9, 4, 32)
    inputs, targets = features["inputs"].numpy(), features["targets"].numpy()
    assert inputs.shape == targets.shape == (4, 9)
    assert (inputs[:, -1] == 1).all() and (targets[:, -1] == 1).all()
    for row_in, row_out in zip(inputs, targets):
        assert list(row_out[:-1]) == sorted(row_in[:-1]) and min(row_in[:-1]) >= 2 and max(row_in[:-1]) < 34


def test_accuracy_by_length_counts_real_tokens_only():
    """A stand-in model that predicts the targets, except the first token of every row: exact
    match 0 and token accuracy 1 - rows / real tokens; the padding is never counted."""
    seen = []

    def off_by_one(features, training):
        targets = np.array(features["targets"])
        seen.append(targets)
        targets[:, 0] += 1
        return np.eye(40)[targets]

    perfect = sorting.accuracy_by_length(lambda f, training: np.eye(40)[f["targets"]], 0, [(1, 4), (5, 9)], 32, count=70)
    assert perfect == {"1-4": dict(token_accuracy=1.0, exact_match=1.0), "5-9": dict(token_accuracy=1.0, exact_match=1.0)}
    wrong = sorting.accuracy_by_length(off_by_one, 0, [(1, 4), (5, 9)], 32, count=70)
    short = np.concatenate(seen[:2])  # the first span's 70 rows, in two calls of at most 64
    assert short.shape == (70, 5) and ((short > 0).sum(1) >= 2).all() and ((short > 0).sum(1) <= 5).all()
    assert wrong["1-4"] == dict(token_accuracy=pytest.approx(1 - 70 / (short > 0).sum()), exact_match=0.0)
    assert wrong["5-9"]["exact_match"] == 0.0


def test_digit_match_texts_hold_two_far_apart_digits_and_the_right_label():
    import random

    rng = random.Random(3)
    labels = []
    for _ in range(400):
        length = rng.randint(64, 96)
        text, label = tasks.digit_match_text(rng, length)
        digits = [(i, c) for i, c in enumerate(text) if c.isdigit()]
        assert len(text) == length and len(digits) == 2
        (i, a), (j, b) = digits
        assert i < 16 and j >= length - 16
        assert j // 16 - i // 16 > 2  # more 16-character blocks apart than two local layers reach
        assert label == int(a == b) and {a, b} <= {"0", "1"}
        assert set(text) - set("01") <= set("abcdefghijklmnopqrstuvwxyz")
        labels.append(label)
    assert 0.4 < np.mean(labels) < 0.6


def test_corpus_split_holds_out_every_tenth_file_and_reads_whole_files(tmp_path):
    directory = tmp_path / tasks.CORPUS_DIR
    directory.mkdir()
    for i in range(23):
        (directory / f"{i:03d}_topic{i}.txt").write_text(f"Topic {i} says hello.\n\nSecond paragraph {i}.\n")
    train = tasks.corpus_files(str(tmp_path), DatasetSplit.TRAIN)
    held_out = tasks.corpus_files(str(tmp_path), DatasetSplit.EVAL)
    names = lambda files: [os.path.basename(f) for f in files]  # noqa: E731
    assert names(held_out) == ["000_topic0.txt", "010_topic10.txt", "020_topic20.txt"]
    assert len(train) == 20 and not set(train) & set(held_out)
    problem = tasks.ExperimentPydocCharactersPacked()
    samples = list(problem.generate_samples(None, str(tmp_path), DatasetSplit.EVAL))
    assert [s["targets"] for s in samples] == [f"Topic {i} says hello.\n\nSecond paragraph {i}.\n" for i in (0, 10, 20)]


def test_missing_corpus_is_one_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="experiments/char_lm.py"):
        tasks.corpus_files(str(tmp_path), DatasetSplit.TRAIN)


def test_pydoc_corpus_is_written_from_the_python_install(tmp_path):
    import pydoc_data.topics

    directory = tasks.write_pydoc_corpus(str(tmp_path))
    files = sorted(os.listdir(directory))
    assert len(files) == len(pydoc_data.topics.topics)
    first = sorted(pydoc_data.topics.topics)[0]
    assert open(os.path.join(directory, files[0]), encoding="utf-8").read() == pydoc_data.topics.topics[first]


def test_schedule_peaks_at_the_same_rate_for_every_width():
    for width in (32, 128):
        hp = common.configure(common.hparams_with("transformer_tiny", hidden_size=width), steps=500)
        warmup = hp.learning_rate_warmup_steps
        assert warmup == 100
        peak = hp.learning_rate_constant / math.sqrt(warmup) / math.sqrt(width)  # T2T's schedule at its peak
        assert peak == pytest.approx(common.PEAK_LEARNING_RATE)


def test_run_directory_changes_with_model_seed_and_steps():
    problem = registry.problem("experiment_sort64")
    hp = common.hparams_with("transformer_tiny")
    base = common.run_dir("/w", problem, "m", hp, 1, 10)
    assert base != common.run_dir("/w", problem, "m", hp, 2, 10)
    assert base != common.run_dir("/w", problem, "m", hp, 1, 20)
    assert base != common.run_dir("/w", problem, "m", common.hparams_with("transformer_tiny", sinkhorn_iters=2), 1, 10)
    assert base == common.run_dir("/w", problem, "m", common.hparams_with("transformer_tiny"), 1, 10)


def test_table_cells_show_mean_and_half_range_over_seeds():
    results = [dict(run="a", seed=1, accuracy=0.5, steps_per_s=2.0, peak_mb=10.0, params=5),
               dict(run="a", seed=2, accuracy=0.7, steps_per_s=4.0, peak_mb=12.0, params=5),
               dict(run="b", seed=1, accuracy=0.9, steps_per_s=1.0, peak_mb=20.0, params=5),
               dict(run="c", seed=1, accuracy=0.2, steps_per_s=3.0, peak_mb=None, params=5),  # peak not kept
               dict(run="c", seed=2, accuracy=0.4, steps_per_s=3.0, peak_mb=30.0, params=5)]
    rows = common.summarize(results, ["accuracy"])
    assert rows[0]["accuracy"] == pytest.approx(0.6) and rows[0]["accuracy_spread"] == pytest.approx(0.2)
    table = common.markdown_table(rows, [("acc", "accuracy", 1, 100)], {"a": "1.0"})
    assert "| a | 60.0 ± 10.0 | 3.00 ± 1.00 | 11 ± 1 | 1.0 |" in table
    assert "| b | 90.0 | 1.00 | 20 | - |" in table
    assert "| c | 30.0 ± 10.0 | 3.00 ± 0.00 | 30 | - |" in table  # one seed's peak: no spread shown


def test_bad_flags_are_one_clear_line(tmp_path):
    done = run_study("sort", str(tmp_path), "--steps=0")
    assert done.returncode == 2 and "--steps must be positive" in done.stderr and "Traceback" not in done.stderr
