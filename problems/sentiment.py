"""Sentiment classification (paper 5.4): IMDb and SST-2, word (subword) and character level,
inputs truncated to 512 subword tokens / 2048 characters."""
import csv
import os

from sinkhorn_t2t.data import sources
from sinkhorn_t2t.data.problem import DatasetSplit
from sinkhorn_t2t.data.text_problems import Text2ClassProblem, VocabType
from sinkhorn_t2t.registry import register_problem


def imdb_reviews(problem_name, tmp_dir, split):
    """(text, label) from TFDS `imdb_reviews` (train / test), else `aclImdb/{train,test}/{pos,neg}/*.txt`."""
    tfds_split = "train" if split == DatasetSplit.TRAIN else "test"
    examples = sources.tfds_examples("imdb_reviews", tfds_split, tmp_dir)
    if examples is not None:
        for ex in examples:
            yield sources.text(ex["text"]), int(ex["label"])
        return
    sources.extract_release(tmp_dir, "aclImdb_v1.tar.gz", "aclImdb")
    root = os.path.join(tmp_dir, "aclImdb", tfds_split)
    folders = {label: os.path.join(root, name) for label, name in ((1, "pos"), (0, "neg"))}
    missing = [path for path in folders.values() if not os.path.isdir(path)]
    if len(missing) == 2:
        raise sources.missing(problem_name, "imdb_reviews", tmp_dir, "aclImdb/{train,test}/{pos,neg}/*.txt",
                              "aclImdb_v1.tar.gz")
    if missing:
        raise sources.MissingDataError(f"{problem_name}: {missing[0]} is missing (T2T reads aclImdb/{tfds_split}/pos "
                                       f"and /neg); restore it or extract aclImdb_v1.tar.gz again.")
    for label, folder in folders.items():  # every file of pos/ then neg/, as T2T's doc_generator
        for name in sorted(os.listdir(folder)):
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                yield f.read().strip(), label  # "<br />" kept verbatim, as T2T and TFDS keep it


def sst2_sentences(problem_name, tmp_dir, split):
    """(sentence, label) from TFDS `glue/sst2` (train / validation), else `SST-2/{train,dev}.tsv`."""
    tfds_split = "train" if split == DatasetSplit.TRAIN else "validation"
    examples = sources.tfds_examples("glue/sst2", tfds_split, tmp_dir)
    if examples is not None:
        for ex in examples:
            yield sources.text(ex["sentence"]), int(ex["label"])
        return
    sources.extract_release(tmp_dir, "SST-2.zip", "SST-2")
    path = os.path.join(tmp_dir, "SST-2", "train.tsv" if split == DatasetSplit.TRAIN else "dev.tsv")
    if not os.path.exists(path):
        raise sources.missing(problem_name, "glue/sst2", tmp_dir, "SST-2/train.tsv and SST-2/dev.tsv", "SST-2.zip")
    with open(path, encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            yield row["sentence"].strip(), int(row["label"])


class _Sentiment(Text2ClassProblem):
    """Binary sentiment: samples from `read(problem_name, tmp_dir, split)` as (text, label)."""

    max_input_length = 512
    read = None

    @property
    def dataset_splits(self):
        return [{"split": DatasetSplit.TRAIN, "shards": 10}, {"split": DatasetSplit.EVAL, "shards": 1}]

    def class_labels(self, data_dir):
        return ["neg", "pos"]

    def generate_samples(self, data_dir, tmp_dir, dataset_split):
        for text, label in type(self).read(self.name, tmp_dir, dataset_split):
            yield {"inputs": text, "label": label}


@register_problem
class SentimentIMDB(_Sentiment):
    """IMDb movie reviews, negative / positive."""

    approx_vocab_size = 2**13
    read = staticmethod(imdb_reviews)


@register_problem
class SentimentIMDBCharacters(SentimentIMDB):
    vocab_type = VocabType.CHARACTER
    max_input_length = 2048


@register_problem
class SentimentSSTBinary(_Sentiment):
    """Stanford Sentiment Treebank, binary (GLUE SST-2); evaluated on its dev set."""

    approx_vocab_size = 2**14
    read = staticmethod(sst2_sentences)


@register_problem
class SentimentSSTBinaryCharacters(SentimentSSTBinary):
    vocab_type = VocabType.CHARACTER
    max_input_length = 2048
