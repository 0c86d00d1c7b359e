"""T2T's offline packing (`generator_utils.pack_examples`), record for record.

Examples are packed first fit over a queue of 10 open rows into rows of at most `packed_length`
with `<key>_segmentation` (1, 2, ... per example, 0 for spacing) and `<key>_position` (restarting
at 0). As in T2T: rows are not padded; a language-model row carries a dummy `inputs = [0]`; a
sequence longer than a row is chopped into full rows that are written at once (LM), or written
alone (seq2seq); `spacing` zeros separate examples. So a packed data dir is the same whichever
tool wrote it.

`block_size > 1` additionally pads each example to a multiple of `block_size` (inside its row,
segment 0), so that no block holds two examples; the data dir never uses it (the input pipeline
aligns rows for the models that sort blocks, `input_pipeline.align_packed_rows`).
"""


def _round_up(n, multiple):
    return -(-n // multiple) * multiple


class _Row:
    """One packed row: T2T's `SequencePacker` (or `SequencePairPacker` for inputs + targets)."""

    def __init__(self, keys, first, spacing, block_size):
        self.keys, self.spacing, self.block_size = keys, spacing, block_size
        self.features = {f"{k}{suffix}": [] for k in keys for suffix in ("", "_segmentation", "_position")}
        self.segments = 0
        self.add(first)

    def fits(self, example, packed_length):
        return all(len(self.features[k]) + self.spacing + _round_up(len(example[k]), self.block_size) <= packed_length
                   for k in self.keys)

    def add(self, example):
        gap = self.spacing if self.segments else 0
        self.segments += 1
        for key in self.keys:
            tokens = list(example[key])
            pad = _round_up(len(tokens), self.block_size) - len(tokens)
            segmentation = self.features[f"{key}_segmentation"]
            if self.block_size == 1:  # T2T's numbering, per feature: the last entry + 1 (1 for the first)
                number = segmentation[-1] + 1 if self.segments > 1 and segmentation else 1
            else:
                number = self.segments
            self.features[key] += [0] * gap + tokens + [0] * pad
            segmentation += [0] * gap + [number] * len(tokens) + [0] * pad
            self.features[f"{key}_position"] += [0] * gap + list(range(len(tokens))) + [0] * pad

    def to_dict(self):
        return self.features if "inputs" in self.keys else {"inputs": [0], **self.features}


def pack_examples(examples, has_inputs, packed_length=256, block_size=1, spacing=0, queue_size=10,
                  chop_long_sequences=False):
    """Yields packed rows (dicts of int lists, at most `packed_length` long unless a seq2seq
    example is longer on its own) from feature dicts, exactly as T2T's `pack_examples`.

    With `chop_long_sequences` (language models) a longer sequence is cut into pieces of
    `packed_length`, each written as its own row at once; its remainder is packed as usual.
    """
    if packed_length % block_size:
        raise ValueError(f"packed_length {packed_length} must be a multiple of block_size {block_size}.")
    keys = ["inputs", "targets"] if has_inputs else ["targets"]
    rows = []
    for example in examples:
        if chop_long_sequences and not has_inputs and len(example["targets"]) > packed_length:
            targets = list(example["targets"])
            full = len(targets) // packed_length
            for i in range(full):
                yield _Row(keys, {"targets": targets[i * packed_length:(i + 1) * packed_length]}, spacing,
                           block_size).to_dict()
            example = {"targets": targets[full * packed_length:]}
        row = next((r for r in rows if r.fits(example, packed_length)), None)
        if row is not None:
            row.add(example)
            continue
        if len(rows) == queue_size:
            yield rows.pop(0).to_dict()
        rows.append(_Row(keys, example, spacing, block_size))
    for row in rows:
        yield row.to_dict()


def unpack_row(row, has_inputs):
    """A packed row -> the list of examples it holds (padding dropped), in segment order."""
    keys = ["inputs", "targets"] if has_inputs else ["targets"]
    count = max(max(row[f"{k}_segmentation"], default=0) for k in keys)
    return [{k: [t for t, s in zip(row[k], row[f"{k}_segmentation"]) if s == segment] for k in keys}
            for segment in range(1, count + 1)]
