"""T2T's text encoders: ids 0 (PAD) and 1 (EOS) are reserved, real symbols start at 2."""
import tensorflow as tf

PAD, EOS = "<pad>", "<EOS>"
RESERVED_TOKENS = [PAD, EOS]
NUM_RESERVED_TOKENS = len(RESERVED_TOKENS)
PAD_ID, EOS_ID = 0, 1


class TextEncoder:
    """Space-separated integers, shifted by the reserved ids: "3 4" <-> [5, 6]."""

    def __init__(self, num_reserved_ids=NUM_RESERVED_TOKENS):
        self.num_reserved_ids = num_reserved_ids

    def encode(self, text):
        try:
            return [int(w) + self.num_reserved_ids for w in text.split()]
        except ValueError:
            raise ValueError(f"TextEncoder expects space-separated integers, got {text!r}.") from None

    def decode(self, ids, strip_extraneous=True):
        return " ".join(self.decode_list(ids, strip_extraneous))

    def decode_list(self, ids, strip_extraneous=True):
        ids = _strip(ids) if strip_extraneous else list(ids)
        return [RESERVED_TOKENS[i] if i < self.num_reserved_ids else str(i - self.num_reserved_ids) for i in ids]

    @property
    def vocab_size(self):
        return None


def _strip(ids):
    """Drops everything from the first EOS on, and padding."""
    ids = [int(i) for i in ids]
    if EOS_ID in ids:
        ids = ids[:ids.index(EOS_ID)]
    return [i for i in ids if i != PAD_ID]


class ByteTextEncoder(TextEncoder):
    """UTF-8 bytes shifted by 2: 258 ids (T2T's CHARACTER vocab)."""

    def encode(self, text):
        return [b + self.num_reserved_ids for b in text.encode("utf-8")]

    def decode(self, ids, strip_extraneous=True):
        ids = _strip(ids) if strip_extraneous else list(ids)
        return bytes(i - self.num_reserved_ids for i in ids if i >= self.num_reserved_ids).decode("utf-8", "replace")

    @property
    def vocab_size(self):
        return 2**8 + self.num_reserved_ids


class TokenTextEncoder(TextEncoder):
    """A vocab file with one token per line (reserved tokens first); whitespace tokenization."""

    def __init__(self, vocab_filename, replace_oov=None):
        super().__init__()
        with tf.io.gfile.GFile(vocab_filename) as f:
            self._tokens = [line.rstrip("\n") for line in f if line.strip()]
        self._ids = {t: i for i, t in enumerate(self._tokens)}
        self._replace_oov = replace_oov

    def encode(self, text):
        ids = []
        for token in text.split():
            if token not in self._ids and self._replace_oov is not None:
                token = self._replace_oov
            if token not in self._ids:
                raise ValueError(f"token {token!r} is not in the vocabulary and no OOV token is set.")
            ids.append(self._ids[token])
        return ids

    def decode_list(self, ids, strip_extraneous=True):
        ids = _strip(ids) if strip_extraneous else list(ids)
        return [self._tokens[i] for i in ids]

    @property
    def vocab_size(self):
        return len(self._tokens)


class ClassLabelEncoder(TextEncoder):
    """Class ids <-> label names."""

    def __init__(self, class_labels):
        super().__init__(num_reserved_ids=0)
        self._labels = list(class_labels)

    def encode(self, label):
        return self._labels.index(label)

    def decode(self, ids, strip_extraneous=True):
        ids = list(ids) if hasattr(ids, "__len__") else [ids]
        return self._labels[int(ids[0])]

    @property
    def vocab_size(self):
        return len(self._labels)
