"""A subword vocabulary written by Tensor2Tensor itself (quoted subtokens, escaped tokens ending
in `_`) is read, encodes and decodes as T2T does."""
import string

import pytest

from sinkhorn_t2t.data import text_encoder
from sinkhorn_t2t.data.text_problems import Text2TextProblem

MULTI = ["the_", "cat_", "at_", "he", "s_"]
SINGLE = sorted(set(string.ascii_lowercase + string.digits + " .,!_\\;"))


def _write_t2t_vocab(path):
    lines = ["'<pad>'", "'<EOS>'"] + [f"'{s}'" for s in MULTI + SINGLE]
    path.write_text("\n".join(lines) + "\n")
    return ["<pad>", "<EOS>"] + MULTI + SINGLE


def test_t2t_tokenizer_matches_t2t_rules():
    assert text_encoder.t2t_tokenize("the cat sat.") == ["the", "cat", "sat", "."]
    assert text_encoder.t2t_tokenize(" hi  there") == [" ", "hi", "  ", "there"]
    for text in ("the cat sat.", " hi  there", "a,b!c"):
        assert text_encoder.t2t_detokenize(text_encoder.t2t_tokenize(text)) == text


def test_encode_uses_longest_subtokens_and_decodes_back(tmp_path):
    pieces = _write_t2t_vocab(tmp_path / "vocab.subwords")
    encoder = text_encoder.load_subword_vocab(str(tmp_path / "vocab.subwords"))
    assert isinstance(encoder, text_encoder.T2TSubwordTextEncoder) and encoder.vocab_size == len(pieces)
    ids = encoder.encode("the cat sat.")
    assert [pieces[i] for i in ids] == ["the_", "cat_", "s", "at_", ".", "_"]
    for text in ("the cat sat.", "snake_case and back\\slash", "caf\u00e9 42!", "a,b"):
        assert encoder.decode(encoder.encode(text)) == text
    assert encoder.decode(ids + [1] + ids) == "the cat sat."  # stops at EOS


def test_a_t2t_text_problem_data_dir_uses_t2t_s_vocabulary(tmp_path):
    class T2TWritten(Text2TextProblem):
        approx_vocab_size = 100

    pieces = _write_t2t_vocab(tmp_path / "vocab.t2_t_written.100.subwords")
    problem = T2TWritten()
    assert problem.get_hparams(None, str(tmp_path)).vocab_size == {"inputs": len(pieces), "targets": len(pieces)}
    assert problem.feature_encoders(str(tmp_path))["targets"].decode([2, 3]) == "the cat"


def test_missing_subtoken_is_a_clear_error(tmp_path):
    (tmp_path / "v.subwords").write_text("'<pad>'\n'<EOS>'\n'a'\n'_'\n")
    with pytest.raises(ValueError, match="vocabulary lacks"):
        text_encoder.load_subword_vocab(str(tmp_path / "v.subwords")).encode("ab")
