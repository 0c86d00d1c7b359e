"""T2T's text encoders: ids 0 (PAD) and 1 (EOS) are reserved, real symbols start at 2."""
import os
import re
import unicodedata

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

    def encode_batch(self, texts):
        return [self.encode(text) for text in texts]

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


UNK = "[UNK]"


class WordpieceTextEncoder(TokenTextEncoder):
    """Subword encoder on a WordPiece vocabulary, tokenizing in-graph with tensorflow-text.

    The vocab file has one piece per line; `<pad>`, `<EOS>` and `[UNK]` come first, so ids 0
    and 1 keep T2T's meaning. Build one with `build_wordpiece_vocab`.
    """

    def __init__(self, vocab_filename, lower_case=False):
        super().__init__(vocab_filename)
        import tensorflow_text

        self.vocab_filename = vocab_filename
        if self._tokens[:2] != RESERVED_TOKENS:
            raise ValueError(f"vocab file {vocab_filename} must start with {RESERVED_TOKENS} (ids 0 and 1).")
        self._tokenizer = tensorflow_text.BertTokenizer(vocab_filename, lower_case=lower_case, unknown_token=UNK,
                                                        token_out_type=tf.int64)

    def tokenize(self, texts):
        """In-graph: string tensor `[N]` -> ragged int64 ids `[N, None]`."""
        return self._tokenizer.tokenize(texts).merge_dims(-2, -1)

    def encode(self, text):
        return [int(i) for i in self.tokenize(tf.constant([text]))[0].numpy()]

    def encode_batch(self, texts):
        return [[int(i) for i in row] for row in self.tokenize(tf.constant(texts)).to_list()]

    def decode(self, ids, strip_extraneous=True):
        ids = _strip(ids) if strip_extraneous else [int(i) for i in ids]
        if not ids:
            return ""
        words = self._tokenizer.detokenize(tf.ragged.constant([ids], dtype=tf.int64))[0].numpy()
        return " ".join(w.decode("utf-8", "replace") for w in words)


def build_wordpiece_vocab(texts, approx_vocab_size, vocab_filename, lower_case=False):
    """Learns a WordPiece vocabulary of about `approx_vocab_size` pieces from an iterable of
    strings with tensorflow-text's `bert_vocab_from_dataset`, and writes it (reserved first)."""
    from tensorflow_text.tools.wordpiece_vocab import bert_vocab_from_dataset as bert_vocab

    dataset = tf.data.Dataset.from_generator(lambda: iter(texts), output_signature=tf.TensorSpec([], tf.string))
    pieces = bert_vocab.bert_vocab_from_dataset(
        dataset.batch(1024), vocab_size=approx_vocab_size, reserved_tokens=RESERVED_TOKENS + [UNK],
        bert_tokenizer_params=dict(lower_case=lower_case), learn_params={})
    tf.io.gfile.makedirs(os.path.dirname(vocab_filename) or ".")
    with tf.io.gfile.GFile(vocab_filename + ".incomplete", "w") as f:
        f.write("".join(p + "\n" for p in pieces))
    tf.io.gfile.rename(vocab_filename + ".incomplete", vocab_filename, overwrite=True)
    return WordpieceTextEncoder(vocab_filename, lower_case)


class RawIntEncoder(TextEncoder):
    """Integer values with nothing reserved and nothing stripped (image pixel values 0..255)."""

    def __init__(self):
        super().__init__(num_reserved_ids=0)

    def decode(self, ids, strip_extraneous=False):
        return " ".join(str(int(i)) for i in ids)


_UNESCAPE = re.compile(r"\\u|\\\\|\\([0-9]+);")


def _is_alnum(char):
    return unicodedata.category(char)[0] in "LN"


def t2t_tokenize(text):
    """T2T's `tokenizer.encode`: split where alphanumeric and other characters meet; a single
    space between two alphanumeric tokens is dropped."""
    if not text:
        return []
    tokens, start = [], 0
    for pos in range(1, len(text)):
        if _is_alnum(text[pos]) != _is_alnum(text[pos - 1]):
            token = text[start:pos]
            if token != " " or start == 0:
                tokens.append(token)
            start = pos
    tokens.append(text[start:])
    return tokens


def escape_token(token, alphabet):
    """T2T's `_escape_token`: `\\` -> `\\\\`, `_` -> `\\u`, a character outside `alphabet` (or a
    newline) -> `\\<code point>;`, then a final `_` marking the token's end."""
    token = token.replace("\\", "\\\\").replace("_", "\\u")
    return "".join(c if c in alphabet and c != "\n" else f"\\{ord(c)};" for c in token) + "_"


def t2t_detokenize(tokens):
    """T2T's `tokenizer.decode`: a space between two alphanumeric tokens."""
    out = []
    for i, token in enumerate(tokens):
        if i and _is_alnum(tokens[i - 1][0]) and _is_alnum(token[0]):
            out.append(" ")
        out.append(token)
    return "".join(out)


class T2TSubwordTextEncoder(TokenTextEncoder):
    """Reads (and encodes / decodes with) a vocabulary written by Tensor2Tensor's own
    `SubwordTextEncoder` (`vocab.<problem>.<size>.subwords`, one quoted subtoken per line), so that
    data generated by T2T's t2t-datagen trains and decodes here unchanged. New ones are learned by
    `sinkhorn_t2t.data.subword_vocab`, T2T's learner."""

    def __init__(self, vocab_filename):
        super().__init__(vocab_filename)
        self._tokens = [t[1:-1] for t in self._tokens]  # unquote
        self._ids = {s: i for i, s in enumerate(self._tokens)}
        self._alphabet = {c for s in self._tokens for c in s}
        self._max_len = max(len(s) for s in self._tokens)

    @staticmethod
    def is_t2t_vocab(vocab_filename):
        with tf.io.gfile.GFile(vocab_filename) as f:
            first = f.readline().strip()
        return len(first) >= 2 and first[0] == first[-1] and first[0] in "'\""

    def encode(self, text):
        ids = []
        for token in t2t_tokenize(text):
            escaped, start = escape_token(token, self._alphabet), 0
            while start < len(escaped):
                for end in range(min(len(escaped), start + self._max_len), start, -1):
                    if escaped[start:end] in self._ids:
                        ids.append(self._ids[escaped[start:end]])
                        start = end
                        break
                else:
                    raise ValueError(f"cannot encode {token!r}: the vocabulary lacks the subtoken for "
                                     f"{escaped[start]!r}.")
        return ids

    def decode(self, ids, strip_extraneous=True):
        ids = _strip(ids) if strip_extraneous else [int(i) for i in ids]
        joined = "".join(self._tokens[i] for i in ids)
        tokens = []
        for piece in joined.split("_"):
            if piece:
                token = _UNESCAPE.sub(lambda m: ("_" if m.group(0) == "\\u" else "\\") if m.group(1) is None
                                      else chr(int(m.group(1))), piece)
                if token:
                    tokens.append(token)
        return t2t_detokenize(tokens)



def load_subword_vocab(vocab_filename):
    """A T2T-written subword vocabulary or a WordPiece one, by the file's format."""
    if T2TSubwordTextEncoder.is_t2t_vocab(vocab_filename):
        return T2TSubwordTextEncoder(vocab_filename)
    return WordpieceTextEncoder(vocab_filename)
