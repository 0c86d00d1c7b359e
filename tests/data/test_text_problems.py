"""Text problem families on tiny corpora: vocab files, encodings, records, and training."""
import os

import numpy as np
import pytest
import tensorflow as tf

from sinkhorn_t2t import registry
from sinkhorn_t2t.data import text_encoder
from sinkhorn_t2t.data.text_problems import (Text2ClassProblem, Text2SelfProblem, Text2TextProblem,
                                             TextConcat2ClassProblem, VocabType)
from sinkhorn_t2t.training.trainer import Trainer

WORDS = "the cat sat on a mat while dogs ran over green hills and birds sang softly".split()


def _sentences(n, seed):
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=rng.integers(3, 9))) for _ in range(n)]


class ToyTranslate(Text2TextProblem):
    approx_vocab_size = 60
    dataset_splits = [{"split": "train", "shards": 2}, {"split": "eval", "shards": 1}]

    def generate_samples(self, data_dir, tmp_dir, dataset_split):
        for text in _sentences(60 if dataset_split == "train" else 10, dataset_split == "train"):
            yield {"inputs": text, "targets": " ".join(reversed(text.split()))}


class ToyLM(Text2SelfProblem):
    vocab_type = VocabType.CHARACTER
    dataset_splits = [{"split": "train", "shards": 1}, {"split": "eval", "shards": 1}]

    def generate_samples(self, data_dir, tmp_dir, dataset_split):
        for text in _sentences(40, 1):
            yield {"targets": text}


class ToySentiment(Text2ClassProblem):
    approx_vocab_size = 60
    dataset_splits = [{"split": "train", "shards": 1}, {"split": "eval", "shards": 1}]

    def generate_samples(self, data_dir, tmp_dir, dataset_split):
        for i, text in enumerate(_sentences(40, 2)):
            yield {"inputs": text, "label": i % 2}


class ToyNLI(TextConcat2ClassProblem):
    num_classes = 3
    approx_vocab_size = 60
    dataset_splits = [{"split": "train", "shards": 1}, {"split": "eval", "shards": 1}]

    def generate_samples(self, data_dir, tmp_dir, dataset_split):
        texts = _sentences(40, 3)
        for i in range(20):
            yield {"inputs": [texts[2 * i], texts[2 * i + 1]], "label": i % 3}


def _generated(problem, tmp_path):
    data_dir = str(tmp_path / "data")
    problem.generate_data(data_dir, str(tmp_path / "tmp"))
    return data_dir


def test_subword_vocab_is_learned_named_like_t2t_and_round_trips(tmp_path):
    problem = ToyTranslate()
    data_dir = _generated(problem, tmp_path)
    vocab_path = os.path.join(data_dir, "vocab.toy_translate.60.subwords")
    assert os.path.exists(vocab_path)
    encoder = problem.feature_encoders(data_dir)["inputs"]
    assert isinstance(encoder, text_encoder.T2TSubwordTextEncoder)  # T2T's learner by default
    assert open(vocab_path).read().splitlines()[:2] == ["'<pad>_'", "'<EOS>_'"]
    text = "the green cat ran over a mat"
    ids = encoder.encode(text)
    assert min(ids) >= 2 and encoder.decode(ids + [1, 7, 7]) == text  # decoding stops at EOS
    ex = next(problem.dataset("train", data_dir).as_numpy_iterator())
    assert ex["inputs"][-1] == 1 and ex["targets"][-1] == 1
    assert problem.get_hparams(None, data_dir).vocab_size == {"inputs": encoder.vocab_size,
                                                              "targets": encoder.vocab_size}
    assert sorted(f for f in os.listdir(data_dir) if "-" in f) == [
        "toy_translate-dev-00000-of-00001", "toy_translate-train-00000-of-00002", "toy_translate-train-00001-of-00002"]


def test_character_lm_uses_bytes_and_t2t_loss_multiplier(tmp_path):
    problem = ToyLM()
    data_dir = _generated(problem, tmp_path)
    hp = problem.get_hparams(None, data_dir)
    assert hp.vocab_size == {"targets": 258} and hp.loss_multiplier == 2.0 and not problem.has_inputs
    examples = list(problem.dataset("train", data_dir, shuffle_files=False).as_numpy_iterator())
    assert all(set(ex) == {"targets"} for ex in examples)
    texts = sorted(text_encoder.ByteTextEncoder().decode(ex["targets"]) for ex in examples)
    assert texts == sorted(_sentences(40, 1))


def test_classification_records_and_hparams(tmp_path):
    problem = ToySentiment()
    data_dir = _generated(problem, tmp_path)
    examples = list(problem.dataset("train", data_dir, shuffle_files=False).as_numpy_iterator())
    labels = sorted(int(ex["targets"][0]) for ex in examples)
    assert set(labels) == {0, 1} and all(len(ex["targets"]) == 1 for ex in examples)
    hp = problem.get_hparams(None, data_dir)
    assert hp.modality == {"inputs": "symbol", "targets": "class_label"} and hp.vocab_size["targets"] == 2


def test_concatenated_inputs_are_joined_by_the_concat_token(tmp_path):
    """T2T's rule: each text encoded on its own, joined by `encode("$")[0]`, then EOS."""
    problem = ToyNLI()
    data_dir = _generated(problem, tmp_path)
    encoder = problem.feature_encoders(data_dir)["inputs"]
    concat_id = encoder.encode("$")[0]
    expected = sorted(tuple(encoder.encode(s["inputs"][0]) + [concat_id] + encoder.encode(s["inputs"][1]) + [1])
                      for s in problem.generate_samples(data_dir, None, "train"))
    records = sorted(tuple(ex["inputs"]) for ex in problem.dataset("train", data_dir).as_numpy_iterator())
    assert records == expected


def test_token_vocab_must_exist(tmp_path):
    class Tokens(ToyTranslate):
        vocab_type = VocabType.TOKEN

    with pytest.raises(FileNotFoundError, match="vocab.tokens.tokens"):
        Tokens().get_or_create_vocab(str(tmp_path))


@pytest.mark.parametrize("problem_cls,model", [(ToySentiment, "transformer_encoder"), (ToyLM, "transformer"),
                                               (ToyTranslate, "transformer")])
def test_text_problems_train_and_evaluate(tmp_path, problem_cls, model):
    problem = problem_cls()
    data_dir = _generated(problem, tmp_path)
    hp = registry.hparams("transformer_test")
    hp.override_from_dict(dict(self_attention_type="sinkhorn", max_length=64, batch_size=256))
    trainer = Trainer(problem, model, hp, data_dir, str(tmp_path / "model"), tf.distribute.get_strategy(),
                      log=lambda s: None)
    trainer.train(2, save_every=2, log_every=1)
    results = trainer.evaluate(2)
    assert 0.0 <= results["accuracy"] <= 1.0 and np.isfinite(results["neg_log_perplexity"])


def test_evaluation_traces_its_step_once_for_every_bucket_length(tmp_path):
    """Dev batches of several lengths (T2T's length buckets) all run one shape-generic trace of
    the evaluation step; evaluating again traces nothing and gives the same metrics."""
    problem = ToyTranslate()
    data_dir = _generated(problem, tmp_path)
    hp = registry.hparams("transformer_test")
    hp.override_from_dict(dict(max_length=64, batch_size=24))
    trainer = Trainer(problem, "transformer", hp, data_dir, str(tmp_path / "model"), tf.distribute.get_strategy(),
                      log=lambda s: None)
    lengths = {int(batch["targets"].shape[1]) for batch in trainer._dataset("eval")}
    assert len(lengths) >= 3, lengths
    first = trainer.evaluate(0)
    assert trainer.evaluate(0) == first
    assert trainer._eval_step.experimental_get_tracing_count() == 1


class ToyPackedLM(ToyLM):
    packed_length = 64


def test_packed_rows_longer_than_hparams_max_length_size_the_model(tmp_path):
    """As in T2T, packed problems use packed_length, whatever hparams.max_length says."""
    problem = ToyPackedLM()
    data_dir = _generated(problem, tmp_path)
    row = next(problem.dataset("train", data_dir).as_numpy_iterator())
    assert len(row["targets"]) <= 64 and row["targets_segmentation"].max() >= 2  # T2T rows are not padded
    hp = registry.hparams("transformer_test")
    hp.override_from_dict(dict(self_attention_type="sinkhorn", max_length=16, batch_size=128))
    trainer = Trainer(problem, "transformer", hp, data_dir, str(tmp_path / "model"), tf.distribute.get_strategy(),
                      log=lambda s: None)
    assert trainer.model.decoder_blocks[0].self_attention.sort_net.num_blocks == 64 // 4
    trainer.train(2, save_every=2, log_every=1)
    assert np.isfinite(trainer.evaluate(1)["neg_log_perplexity"])


class ToyTranslateWordpiece(ToyTranslate):
    vocab_type = VocabType.WORDPIECE


def test_wordpiece_stays_available_as_a_named_option(tmp_path):
    problem = ToyTranslateWordpiece()
    data_dir = _generated(problem, tmp_path)
    vocab_path = os.path.join(data_dir, "vocab.toy_translate_wordpiece.60.wordpiece")
    assert open(vocab_path).read().splitlines()[:3] == ["<pad>", "<EOS>", "[UNK]"]
    encoder = problem.feature_encoders(data_dir)["inputs"]
    assert isinstance(encoder, text_encoder.WordpieceTextEncoder)
    text = "the green cat ran over a mat"
    assert encoder.decode(encoder.encode(text) + [1, 7]) == text
