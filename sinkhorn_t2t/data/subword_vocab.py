"""Tensor2Tensor's subword vocabulary learner (`SubwordTextEncoder.build_to_target_size`).

Written here from T2T's published description and behaviour, because nothing in TensorFlow or
tensorflow-text learns *this* vocabulary: T2T-trained numbers (the paper's LM1B perplexities) are
per T2T subtoken, so the same text must give the same vocabulary file, subtoken for subtoken.

The algorithm (T2T 1.15.7, `text_encoder.py`):
  1. Tokens are T2T's tokenizer's (split where alphanumeric and other characters meet) with
     their counts. The alphabet is every character of every token and reserved token, plus the
     escaping characters `\\ _ u ; 0-9`.
  2. `build_from_token_counts(min_count)`: start from the alphabet; `num_iterations` times,
     segment every escaped token greedily (longest known prefix first) with the current
     vocabulary; count every substring that starts at a segment boundary (up to
     `max_subtoken_length`), weighted by the token's count; keep the candidates counted at least
     `min_count` times, longest first, and subtract a kept string's count from its prefixes;
     the new vocabulary is the reserved tokens (escaped, so `<pad>_`), then the kept strings and
     the alphabet sorted by (count, string) descending.
  3. `build_to_target_size`: bisect `min_count` in [1, 1000] until the size is within 1% of the
     target, keeping whichever tried vocabulary is closest.
"""
import collections
import itertools
import os

from sinkhorn_t2t.data.text_encoder import RESERVED_TOKENS, escape_token, t2t_tokenize

ESCAPE_CHARS = set("\\_u;0123456789")


def count_tokens(texts):
    """`{token: count}` over T2T's tokenization of `texts`."""
    counts = collections.defaultdict(int)
    for text in texts:
        for token in t2t_tokenize(text):
            counts[token] += 1
    return counts


def _segment(escaped, vocab, max_length):
    """Greedy longest-prefix segmentation of an escaped token with `vocab` (a set of strings)."""
    pieces, start = [], 0
    while start < len(escaped):
        for end in range(min(len(escaped), start + max_length), start, -1):
            if escaped[start:end] in vocab:
                pieces.append(escaped[start:end])
                start = end
                break
        else:
            raise ValueError(f"no subtoken matches {escaped[start:]!r}: a character is missing from the alphabet.")
    return pieces


def build_from_token_counts(token_counts, min_count, num_iterations=4, reserved_tokens=RESERVED_TOKENS,
                            max_subtoken_length=None):
    """The vocabulary (a list of subtoken strings, reserved tokens first) for one `min_count`."""
    reserved_tokens = list(reserved_tokens)
    alphabet = {c for token in itertools.chain(token_counts, reserved_tokens) for c in token} | ESCAPE_CHARS
    vocab, max_length = set(alphabet), 1  # the first segmentation knows only the alphabet
    min_count = max(min_count, 1)
    strings = reserved_tokens + sorted(alphabet)
    for _ in range(num_iterations):
        counts = collections.defaultdict(int)
        for token, count in token_counts.items():
            escaped = escape_token(token, alphabet)
            start = 0
            for piece in _segment(escaped, vocab, max_length):
                last = len(escaped) + 1
                if max_subtoken_length is not None:
                    last = min(last, start + max_subtoken_length)
                for end in range(start + 1, last):
                    counts[escaped[start:end]] += count
                start += len(piece)
        by_length = collections.defaultdict(set)
        for string, count in counts.items():
            if count >= min_count:
                by_length[len(string)].add(string)
        kept = []
        for length in sorted(by_length, reverse=True):
            for string in by_length[length]:
                count = counts[string]
                if count >= min_count:
                    if string not in alphabet:
                        kept.append((count, string))
                    for prefix in range(1, length):
                        counts[string[:prefix]] -= count
        kept.extend((counts.get(char, 0), char) for char in alphabet)
        kept.sort(reverse=True)
        strings = [escape_token(t, alphabet) for t in reserved_tokens] + [string for _, string in kept]
        # T2T's lookup then holds every string, the reserved ones included.
        vocab, max_length = {s for s in strings if s}, max(len(s) for s in strings)
    return strings


def build_to_target_size(target_size, token_counts, min_val=1, max_val=1e3, max_subtoken_length=None,
                         reserved_tokens=RESERVED_TOKENS, num_iterations=4):
    """The vocabulary whose size is closest to `target_size` found by bisecting `min_count`."""
    if min_val > max_val:
        raise ValueError("the lower bound of the minimum token count is above the upper bound.")
    if target_size < 1:
        raise ValueError("the target vocabulary size must be positive.")

    def bisect(low, high):
        present = (high + low) // 2
        strings = build_from_token_counts(token_counts, present, num_iterations, reserved_tokens, max_subtoken_length)
        size = len(strings)
        if abs(size - target_size) * 100 < target_size or low >= high or present < 2:
            return strings
        other = bisect(present + 1, high) if size > target_size else bisect(low, present - 1)
        return other if abs(len(other) - target_size) < abs(size - target_size) else strings

    return bisect(min_val, max_val)


def learn_subword_vocab(texts, target_size, vocab_filename, max_subtoken_length=200):
    """Learns T2T's subword vocabulary from `texts` and writes it as T2T does (one subtoken per
    line in single quotes). Returns the list of subtoken strings."""
    import tensorflow as tf

    strings = build_to_target_size(target_size, count_tokens(texts), max_subtoken_length=max_subtoken_length)
    tf.io.gfile.makedirs(os.path.dirname(vocab_filename) or ".")
    with tf.io.gfile.GFile(vocab_filename + ".incomplete", "w") as f:
        f.write("".join(f"'{s}'\n" for s in strings))
    tf.io.gfile.rename(vocab_filename + ".incomplete", vocab_filename, overwrite=True)
    return strings
