import numpy as np
import pytest

from sinkhorn_t2t.data.packing import pack_examples, unpack_row


def _examples(rng, n, has_inputs, high=30):
    out = []
    for _ in range(n):
        ex = {"targets": [int(t) for t in rng.integers(2, 50, size=rng.integers(1, high))]}
        if has_inputs:
            ex["inputs"] = [int(t) for t in rng.integers(2, 50, size=rng.integers(1, high))]
        out.append(ex)
    return out


@pytest.mark.parametrize("has_inputs", [False, True])
@pytest.mark.parametrize("block_size", [1, 4, 8])
def test_unpacking_a_packed_row_gives_back_the_examples(rng, has_inputs, block_size):
    examples = _examples(rng, 60, has_inputs)
    rows = list(pack_examples(iter(examples), has_inputs, packed_length=64, block_size=block_size))
    unpacked = [ex for row in rows for ex in unpack_row(row, has_inputs)]
    key = lambda ex: (tuple(ex["targets"]), tuple(ex.get("inputs", ())))  # noqa: E731
    assert sorted(map(key, unpacked)) == sorted(map(key, examples))
    assert len(rows) < len(examples)  # several examples share a row
    for row in rows:
        for feature in ("inputs", "targets") if has_inputs else ("targets",):
            seg, pos = np.array(row[f"{feature}_segmentation"]), np.array(row[f"{feature}_position"])
            assert len(row[feature]) == len(seg) == len(pos) <= 64
            for s in range(1, seg.max() + 1):
                where = np.flatnonzero(seg == s)
                assert where[0] % block_size == 0  # every example starts on a block boundary
                np.testing.assert_array_equal(pos[where], np.arange(len(where)))  # positions restart
            # no block holds two examples
            blocks = np.pad(seg, (0, -len(seg) % block_size)).reshape(-1, block_size)
            assert all(len(set(b[b > 0])) <= 1 for b in blocks)
            np.testing.assert_array_equal(np.array(row[feature])[seg == 0], 0)


def test_language_model_sequences_longer_than_a_row_are_chopped():
    long = {"targets": list(range(2, 152))}
    rows = list(pack_examples(iter([long]), False, packed_length=64, chop_long_sequences=True))
    pieces = [ex["targets"] for row in rows for ex in unpack_row(row, False)]
    assert sum(pieces, []) == long["targets"] and max(map(len, pieces)) == 64


def test_block_size_must_divide_the_row():
    with pytest.raises(ValueError, match="block_size"):
        list(pack_examples(iter([{"targets": [2]}]), False, packed_length=60, block_size=8))


def test_packing_is_t2ts_record_for_record():
    """Worked out by hand from T2T's `pack_examples` (first fit over 10 open rows, unpadded rows,
    `inputs=[0]` on LM rows, full chopped pieces written at once, the remainder packed)."""
    examples = [{"targets": [2, 3, 4]}, {"targets": [5, 6, 7, 8, 9]}, {"targets": list(range(10, 27))},
                {"targets": [30, 31]}]
    rows = list(pack_examples(iter(examples), False, packed_length=8, chop_long_sequences=True))
    assert rows == [
        {"inputs": [0], "targets": list(range(10, 18)), "targets_segmentation": [1] * 8,
         "targets_position": list(range(8))},
        {"inputs": [0], "targets": list(range(18, 26)), "targets_segmentation": [1] * 8,
         "targets_position": list(range(8))},
        {"inputs": [0], "targets": [2, 3, 4, 5, 6, 7, 8, 9], "targets_segmentation": [1, 1, 1, 2, 2, 2, 2, 2],
         "targets_position": [0, 1, 2, 0, 1, 2, 3, 4]},
        {"inputs": [0], "targets": [26, 30, 31], "targets_segmentation": [1, 2, 2], "targets_position": [0, 0, 1]},
    ]


def test_seq2seq_packing_with_spacing_and_an_example_longer_than_a_row():
    examples = [{"inputs": [2, 3], "targets": [4]}, {"inputs": [5], "targets": [6, 7]},
                {"inputs": list(range(2, 12)), "targets": [3]}]
    rows = list(pack_examples(iter(examples), True, packed_length=6, spacing=1))
    assert rows == [
        {"inputs": [2, 3, 0, 5], "inputs_segmentation": [1, 1, 0, 2], "inputs_position": [0, 1, 0, 0],
         "targets": [4, 0, 6, 7], "targets_segmentation": [1, 0, 2, 2], "targets_position": [0, 0, 0, 1]},
        {"inputs": list(range(2, 12)), "inputs_segmentation": [1] * 10, "inputs_position": list(range(10)),
         "targets": [3], "targets_segmentation": [1], "targets_position": [0]},  # alone, as T2T writes it
    ]


@pytest.mark.parametrize("block_size", [4, 8, 16])
def test_rows_are_realigned_to_blocks_for_block_sorting_models(rng, block_size):
    import tensorflow as tf

    from sinkhorn_t2t.data.input_pipeline import align_packed_rows

    examples = _examples(rng, 80, False)
    rows = list(pack_examples(iter(examples), False, packed_length=64))
    dataset = tf.data.Dataset.from_generator(
        lambda: ({k: np.array(v, np.int64) for k, v in row.items()} for row in rows),
        output_signature={k: tf.TensorSpec([None], tf.int64) for k in rows[0]})
    aligned = list(align_packed_rows(dataset, block_size, 64).as_numpy_iterator())
    unpacked = [ex["targets"] for row in aligned for ex in unpack_row({k: list(v) for k, v in row.items()}, False)]
    assert sorted(map(tuple, unpacked)) == sorted(tuple(ex["targets"]) for ex in examples)
    for row in aligned:
        seg, pos = row["targets_segmentation"], row["targets_position"]
        assert len(seg) == 64
        for s in range(1, seg.max() + 1):
            where = np.flatnonzero(seg == s)
            assert where[0] % block_size == 0 and (np.diff(where) == 1).all()
            np.testing.assert_array_equal(pos[where], np.arange(len(where)))
        assert all(len(set(b[b > 0])) <= 1 for b in seg.reshape(-1, block_size))
