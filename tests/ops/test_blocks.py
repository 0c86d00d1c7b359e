import numpy as np
import pytest

from sinkhorn_t2t import ops


def test_to_blocks_is_contiguous_and_invertible(rng):
    x = rng.normal(size=(2, 3, 12, 4)).astype("float32")
    blocks = ops.to_blocks(x, 4, -2).numpy()
    assert blocks.shape == (2, 3, 3, 4, 4)
    for i in range(3):  # block i holds positions 4i .. 4i+3, never a strided group
        np.testing.assert_array_equal(blocks[:, :, i], x[:, :, 4 * i:4 * i + 4])
    np.testing.assert_array_equal(ops.from_blocks(blocks, -3).numpy(), x)


def test_to_blocks_rejects_a_length_that_is_not_a_multiple():
    with pytest.raises(ValueError, match="block_size"):
        ops.to_blocks(np.zeros((1, 10, 2), np.float32), 4, 1)


def test_hard_permutation_moves_whole_blocks_exactly(rng):
    x = rng.normal(size=(2, 3, 5, 4, 6)).astype("float32")  # [B, H, NB, b, D]
    order = np.stack([np.stack([rng.permutation(5) for _ in range(3)]) for _ in range(2)])
    perm = np.eye(5, dtype="float32")[order]  # perm[b, h, i, order[b, h, i]] = 1
    out = ops.sort_blocks(x, perm).numpy()
    for b in range(2):
        for h in range(3):
            np.testing.assert_array_equal(out[b, h], x[b, h, order[b, h]])
    # Distinct blocks stay distinct: nothing is summed over both block axes.
    assert len({out[0, 0, i].tobytes() for i in range(5)}) == 5


def test_soft_permutation_is_a_weighted_sum_of_blocks(rng):
    x = rng.normal(size=(2, 4, 3, 5)).astype("float32")
    perm = rng.random(size=(2, 4, 4)).astype("float32")
    out = ops.sort_blocks(x, perm).numpy()
    expected = np.zeros_like(x)
    for b in range(2):
        for i in range(4):
            for j in range(4):
                expected[b, i] += perm[b, i, j] * x[b, j]
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_sort_blocks_broadcasts_leading_axes(rng):
    x = rng.normal(size=(2, 1, 3, 2, 1)).astype("float32")
    perm = rng.random(size=(2, 4, 3, 3)).astype("float32")
    out = ops.sort_blocks(x, perm).numpy()
    assert out.shape == (2, 4, 3, 2, 1)
    np.testing.assert_allclose(out[1, 2, 0], np.tensordot(perm[1, 2, 0], x[1, 0], axes=1), atol=1e-6)
