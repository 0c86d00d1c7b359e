"""One packed batch layout for the "packed example == the example alone" tests."""
import numpy as np

# Real tokens of each packed example, per row: 3 segments of different lengths + padding in row 0.
LENGTHS = ((10, 16, 6), (20, 8))


def packed_segments(block_size, length, lengths=LENGTHS):
    """Block-aligned packing as T2T rows: int `[B, length]` segment ids (1, 2, ...; 0 = padding)
    and the `(row, start, num_tokens)` span of every example."""
    seg = np.zeros((len(lengths), length), np.int32)
    spans = []
    for row, sizes in enumerate(lengths):
        start = 0
        for segment, n in enumerate(sizes, 1):
            seg[row, start:start + n] = segment
            spans.append((row, start, n))
            start += -(-n // block_size) * block_size
        assert start <= length
    return seg, spans
