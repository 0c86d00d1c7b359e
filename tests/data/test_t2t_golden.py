"""This project's datagen against files the real T2T 1.15.7 wrote for the same inputs
(`tests/golden/make_t2t_golden.sh`): records compared as multisets (T2T shuffles inside shards),
vocabularies byte for byte."""
import gzip
import json
import os
import tarfile

import pytest

from sinkhorn_t2t import registry
from sinkhorn_t2t.data.subword_vocab import learn_subword_vocab
from tests.golden.inputs import records

GOLDEN = os.path.join(os.path.dirname(__file__), "..", "golden", "t2t")


@pytest.mark.parametrize("target", [64, 200, 500, 1000])
def test_subword_learner_learns_t2ts_vocabulary(tmp_path, target):
    path = str(tmp_path / "vocab")
    with gzip.open(os.path.join(GOLDEN, "subword_texts.json.gz"), "rt") as f:
        learn_subword_vocab(json.load(f), target, path)
    with open(path, encoding="utf-8") as ours, open(os.path.join(GOLDEN, f"subwords.target_{target}"),
                                                    encoding="utf-8") as t2t:
        assert ours.read() == t2t.read()


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("golden")
    for name in ("lm1b", "imdb", "cifar"):  # the very files T2T read
        with tarfile.open(os.path.join(GOLDEN, f"{name}_inputs.tar.gz")) as archive:
            archive.extractall(root / name, filter="data")
    for name in ("languagemodel_lm1b_characters", "languagemodel_lm1b32k", "languagemodel_lm1b_characters_packed",
                 "languagemodel_lm1b32k_packed"):
        registry.problem(name).generate_data(str(root / "data"), str(root / "lm1b"))
    registry.problem("sentiment_imdb").generate_data(str(root / "data"), str(root / "imdb"))
    registry.problem("image_cifar10_plain_gen_flat_rev").generate_data(str(root / "data"), str(root / "cifar"))
    return root / "data"


@pytest.mark.parametrize("problem", ["languagemodel_lm1b_characters", "languagemodel_lm1b32k",
                                     "languagemodel_lm1b_characters_packed", "languagemodel_lm1b32k_packed",
                                     "sentiment_imdb", "image_cifar10_plain"])
def test_records_are_the_ones_t2t_writes(generated, problem):
    with gzip.open(os.path.join(GOLDEN, f"{problem}.json.gz"), "rt") as f:
        expected = json.load(f)
    ours = records(generated, problem)
    for split in ("train", "dev"):
        assert len(ours[split]) == len(expected[split]), split
        assert ours[split] == expected[split], split


@pytest.mark.parametrize("vocab", ["vocab.languagemodel_lm1b32k.32768.subwords", "vocab.sentiment_imdb.8192.subwords"])
def test_vocabulary_files_are_the_ones_t2t_writes(generated, vocab):
    with open(generated / vocab, encoding="utf-8") as ours, open(os.path.join(GOLDEN, vocab), encoding="utf-8") as t2t:
        assert ours.read() == t2t.read()
