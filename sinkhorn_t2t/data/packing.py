"""T2T's offline packing (`generator_utils.pack_examples`) with block-aligned segments.

Examples are packed greedily, first fit over a queue of open rows, into rows of `packed_length`
with `<key>_segmentation` (1, 2, ... per example, 0 for padding) and `<key>_position` (restarting
at 0). Each example is padded to a multiple of `block_size` inside its row, so that a block of a
block-sparse attention never holds two examples.
"""


def _round_up(n, multiple):
    return -(-n // multiple) * multiple


class _Row:
    def __init__(self, keys, packed_length):
        self.keys = keys
        self.packed_length = packed_length
        self.features = {f"{k}{suffix}": [] for k in keys for suffix in ("", "_segmentation", "_position")}
        self.segments = 0

    def fits(self, example, block_size, spacing):
        return all(len(self.features[k]) + (spacing if self.segments else 0) + _round_up(len(example[k]), block_size)
                   <= self.packed_length for k in self.keys)

    def add(self, example, block_size, spacing):
        self.segments += 1
        for key in self.keys:
            gap = spacing if self.segments > 1 else 0
            tokens = list(example[key])
            pad = _round_up(len(tokens), block_size) - len(tokens)
            self.features[key] += [0] * gap + tokens + [0] * pad
            self.features[f"{key}_segmentation"] += [0] * gap + [self.segments] * len(tokens) + [0] * pad
            self.features[f"{key}_position"] += [0] * gap + list(range(len(tokens))) + [0] * pad

    def padded(self):
        return {k: v + [0] * (self.packed_length - len(v)) for k, v in self.features.items()}


def pack_examples(examples, has_inputs, packed_length=256, block_size=1, spacing=0, queue_size=10,
                  chop_long_sequences=False):
    """Yields packed rows (dicts of int lists of length `packed_length`) from feature dicts.

    With `chop_long_sequences` (language models), a longer sequence is cut into pieces of
    `packed_length`; otherwise examples that do not fit a row are dropped, as in T2T.
    """
    if packed_length % block_size:
        raise ValueError(f"packed_length {packed_length} must be a multiple of block_size {block_size}.")
    keys = ["inputs", "targets"] if has_inputs else ["targets"]
    rows = []
    for example in examples:
        pieces = [example]
        if chop_long_sequences and not has_inputs and len(example["targets"]) > packed_length:
            targets = list(example["targets"])
            pieces = [{"targets": targets[i:i + packed_length]} for i in range(0, len(targets), packed_length)]
        for piece in pieces:
            if any(_round_up(len(piece[k]), block_size) > packed_length for k in keys):
                continue
            row = next((r for r in rows if r.fits(piece, block_size, spacing)), None)
            if row is None:
                if len(rows) >= queue_size:
                    yield rows.pop(0).padded()
                row = _Row(keys, packed_length)
                rows.append(row)
            row.add(piece, block_size, spacing)
    for row in rows:
        yield row.padded()


def unpack_row(row, has_inputs):
    """A packed row -> the list of examples it holds (padding dropped), in segment order."""
    keys = ["inputs", "targets"] if has_inputs else ["targets"]
    count = max(max(row[f"{k}_segmentation"]) for k in keys)
    return [{k: [t for t, s in zip(row[k], row[f"{k}_segmentation"]) if s == segment] for k in keys}
            for segment in range(1, count + 1)]
