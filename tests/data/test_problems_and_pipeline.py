import bisect
import json
import os
import random

import numpy as np
import pytest
import tensorflow as tf

from sinkhorn_t2t import registry
from sinkhorn_t2t.data import generator_utils
from sinkhorn_t2t.data.input_pipeline import batch_dataset, bucket_batch_sizes, bucket_boundaries, \
    fixed_bucket_lengths, highly_composite_numbers
from sinkhorn_t2t.problems.algorithmic import AlgorithmicSortProblem


# T2T 1.15.7's `data_reader.batching_scheme` for a few hparams (tests/golden/make_t2t_golden.sh).
T2T_BATCHING = json.load(open(os.path.join(os.path.dirname(os.path.dirname(__file__)), "golden", "t2t",
                                           "batching_schemes.json")))


class SmallSort(AlgorithmicSortProblem):
    train_size = 300
    dev_size = 50
    num_shards = 3


@pytest.fixture(scope="module")
def sort_data(tmp_path_factory):
    data_dir = str(tmp_path_factory.mktemp("sort_data"))
    problem = SmallSort()
    problem.generate_data(data_dir, data_dir)
    return problem, data_dir


def test_t2t_settings_of_the_sort_problems():
    problem = registry.problem("algorithmic_sort_problem")
    assert (problem.train_length, problem.dev_length, problem.train_size, problem.dev_size) == (10, 20, 100000, 10000)
    hp = problem.get_hparams()
    assert hp.vocab_size == {"inputs": 22, "targets": 22}
    assert "edit_distance" in problem.eval_metrics() and "accuracy_per_sequence" in problem.eval_metrics()
    paper = registry.problem("algorithmic_sort_problem_paper")
    assert (paper.train_length, paper.dev_length, paper.dev_size) == (256, 512, 1000)


def test_generated_files_follow_t2t_layout_and_content(sort_data):
    problem, data_dir = sort_data
    files = sorted(tf.io.gfile.listdir(data_dir))
    # An unregistered subclass keeps its parent's registered name, as in T2T.
    name = "algorithmic_sort_problem"
    assert files == [f"{name}-dev-00000-of-00001"] + [f"{name}-train-0000{i}-of-00003" for i in range(3)]
    examples = list(problem.dataset("train", data_dir, shuffle_files=False).as_numpy_iterator())
    assert len(examples) == 300
    lengths = set()
    for ex in examples:
        inputs, targets = list(ex["inputs"]), list(ex["targets"])
        assert inputs[-1] == 1 and targets[-1] == 1  # EOS
        assert targets[:-1] == sorted(inputs[:-1]) and all(2 <= t < 22 for t in inputs[:-1])
        lengths.add(len(inputs) - 1)
    assert min(lengths) >= 1 and max(lengths) == 10
    dev = list(problem.dataset("eval", data_dir).as_numpy_iterator())
    assert len(dev) == 50 and max(len(ex["inputs"]) - 1 for ex in dev) > 10  # dev is longer (2x)


def test_reversed_problem_swaps_features(sort_data):
    problem, data_dir = sort_data
    rev = SmallSort(was_reversed=True)
    a = next(problem.dataset("eval", data_dir, shuffle_files=False).as_numpy_iterator())
    b = next(rev.dataset("eval", data_dir, shuffle_files=False).as_numpy_iterator())
    np.testing.assert_array_equal(a["inputs"], b["targets"])


def test_missing_data_names_the_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="t2t-datagen --problem=algorithmic_sort_problem"):
        registry.problem("algorithmic_sort_problem").dataset("train", str(tmp_path))


def test_bucket_boundaries_are_t2t_s():
    boundaries = bucket_boundaries(256, 8, 1.1)
    assert boundaries[:14] == list(range(8, 21)) + [22]
    assert boundaries[-1] < 256 and all(b < c for b, c in zip(boundaries, boundaries[1:]))


def test_highly_composite_numbers_are_the_divisor_count_records():
    counts = [sum(n % d == 0 for d in range(1, n + 1)) for n in range(1, 5041)]  # brute force
    records = [n for n in range(1, 5041) if counts[n - 1] > max(counts[:n - 1], default=0)]
    assert highly_composite_numbers(5040) == records and highly_composite_numbers(5039) == records[:-1]
    assert len(highly_composite_numbers(110270160)) == 57  # the 57th is 110270160 (OEIS A002182)


@pytest.mark.parametrize("t2t", T2T_BATCHING, ids=lambda c: "-".join(str(c[k]) for k in (
    "batch_size", "max_length", "min_length_bucket", "length_bucket_step", "shard_multiplier")))
def test_bucket_batch_sizes_are_t2t_s(t2t):
    """Boundaries and examples per batch equal T2T's `batching_scheme` (batch sizes rounded down to
    divisors of a highly composite window; per data shard, times the shards)."""
    max_length = t2t["max_length"] or t2t["batch_size"]
    boundaries = bucket_boundaries(max_length, t2t["min_length_bucket"], t2t["length_bucket_step"])
    assert boundaries == t2t["boundaries"]
    sizes = bucket_batch_sizes(t2t["batch_size"], boundaries, max_length)
    assert [size * t2t["shard_multiplier"] for size in sizes] == t2t["batch_sizes"]


def test_token_batches_are_t2t_s_buckets(sort_data):
    """Training batches of the sort data hold exactly T2T's number of examples for their length
    bucket (`batch_sizes` of T2T's scheme for batch_size 64, max_length 16, buckets from 4), so
    at most batch_size tokens."""
    problem, data_dir = sort_data
    t2t = next(c for c in T2T_BATCHING if (c["batch_size"], c["max_length"], c["min_length_bucket"]) == (64, 16, 4))
    hp = registry.hparams("transformer_test")
    hp.override_from_dict(dict(batch_size=64, max_length=16, min_length_bucket=4))
    ds = batch_dataset(problem.dataset("train", data_dir, hp), problem, hp, "train").take(40)
    sizes = set()
    for batch in ds.as_numpy_iterator():
        length = max(batch["targets"].shape[1], batch["inputs"].shape[1])
        assert batch["targets"].shape[0] == t2t["batch_sizes"][bisect.bisect_right(t2t["boundaries"], length)]
        assert batch["targets"].shape[0] * length <= 64
        sizes.add(batch["targets"].shape[0])
    assert len(sizes) > 1  # buckets of different lengths hold different numbers of examples
    dev = batch_dataset(problem.dataset("eval", data_dir, hp), problem, hp, "eval")
    assert max(b["inputs"].shape[1] for b in dev.as_numpy_iterator()) > 16  # evaluation keeps long examples


def test_fixed_shapes_for_tpu(sort_data):
    """Fixed shapes come from a few bucket lengths (2^k times 1, 5/4, 3/2 and 7/4 up to max_length):
    each example is padded to the shortest one that holds it, each bucket's batches all have one
    shape with T2T's examples per batch for that length (batch_size / length rounded down to a
    divisor of 48, the largest highly composite number <= 3 x 16), and no batch is ragged
    (remainders dropped)."""
    problem, data_dir = sort_data
    hp = registry.hparams("transformer_test")
    hp.override_from_dict(dict(batch_size=64, max_length=16, min_length_bucket=4))
    assert fixed_bucket_lengths(16, 4) == [4, 5, 6, 7, 8, 10, 12, 14, 16]
    assert fixed_bucket_lengths(20, 8) == [8, 10, 12, 14, 16, 20] and fixed_bucket_lengths(6, 1) == [1, 2, 3, 4, 5, 6]
    assert fixed_bucket_lengths(256, 8) == [8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160,
                                            192, 224, 256]
    ds = batch_dataset(problem.dataset("train", data_dir, hp), problem, hp, "train", fixed_shapes=True)
    sizes = {4: 16, 5: 12, 6: 8, 7: 8, 8: 8, 10: 6, 12: 4}  # 64 // length, down to a divisor of 48
    shapes = set()
    for batch in ds.take(100).as_numpy_iterator():
        length = batch["inputs"].shape[1]
        assert batch["targets"].shape[1] == length and batch["inputs"].shape[0] == sizes[length]
        true_lengths = np.maximum((batch["inputs"] > 0).sum(1), (batch["targets"] > 0).sum(1))
        shorter = {4: 0, 5: 4, 6: 5, 7: 6, 8: 7, 10: 8, 12: 10}[length]  # the next shorter bucket
        assert shorter < true_lengths.min() and true_lengths.max() <= length  # the shortest bucket that holds it
        shapes.add(batch["inputs"].shape)
    assert shapes == {(n, length) for length, n in sizes.items()}  # sort examples of 2 to 11 ids: seven buckets


def test_generated_shards_are_the_round_robin_records_shuffled_with_the_seed(tmp_path):
    """Each shard holds, as bytes, the records dealt to it in turn, in the order
    `random.Random(seed).shuffle` gives (shards shuffled one after another by one generator)."""
    examples = [{"inputs": list(range(n % 7 + 1)), "targets": [n]} for n in range(23)]
    paths = [str(tmp_path / f"shard-{i}") for i in range(2)]
    assert generator_utils.generate_files(iter(examples), paths, seed=5, log=lambda _: None) == 23
    rng = random.Random(5)
    for i, path in enumerate(paths):
        expected = [tf.train.Example(features=tf.train.Features(feature={
            k: tf.train.Feature(int64_list=tf.train.Int64List(value=v)) for k, v in ex.items()})).SerializeToString()
            for ex in examples[i::2]]
        rng.shuffle(expected)
        assert generator_utils._read_records(path, chunk=4) == expected  # 12 / 11 records: a partial last chunk
        assert list(tf.data.TFRecordDataset(path).as_numpy_iterator()) == expected
