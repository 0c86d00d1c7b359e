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
            assert len(row[feature]) == len(seg) == len(pos) == 64
            for s in range(1, seg.max() + 1):
                where = np.flatnonzero(seg == s)
                assert where[0] % block_size == 0  # every example starts on a block boundary
                np.testing.assert_array_equal(pos[where], np.arange(len(where)))  # positions restart
            # no block holds two examples
            blocks = seg.reshape(-1, block_size)
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
