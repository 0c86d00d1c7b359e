"""The studies' problems, registered T2T-style (importing this module registers them).

- `experiment_sort64`: T2T's sort problem trained on lengths <= 64, evaluated on lengths <= 128
  (2x), over 32 symbols (study 1, 5).
- `experiment_pydoc_characters_packed`: a character LM on real English text available on every
  machine that runs Python: the Python 3.11 reference documentation that CPython ships as
  `pydoc_data/topics.py` (~465k characters of prose with some code), written as one text file
  per topic; every tenth topic is held out. Packed rows of 512 characters (study 2, 3).
- `experiment_digit_match_characters`: a synthetic long-range character classification task
  (study 4): two binary digits far apart in random letters; is the pair equal?
"""
import glob
import os
import random
import zlib

from sinkhorn_t2t.data.problem import DatasetSplit
from sinkhorn_t2t.data.text_problems import Text2ClassProblem, Text2SelfProblem, VocabType
from sinkhorn_t2t.problems.algorithmic import AlgorithmicSortProblem
from sinkhorn_t2t.problems.lm1b import LanguagemodelLm1bCharacters
from sinkhorn_t2t.registry import register_problem

CORPUS_DIR = "pydoc_topics"  # under --tmp_dir: <index>_<topic>.txt
HELD_OUT_EVERY = 10


@register_problem
class ExperimentSort64(AlgorithmicSortProblem):
    """Sort up to 64 symbols (train) / up to 128 (dev, 2x the training length); 32 symbols, so a
    tiny model learns it in minutes; 50k training and 1000 dev examples (the paper's dev size)."""

    train_length = 64
    dev_length = 128
    train_size = 50000
    dev_size = 1000

    @property
    def num_symbols(self):
        return 32


def write_pydoc_corpus(tmp_dir):
    """Writes CPython's `pydoc_data.topics` as `<tmp_dir>/pydoc_topics/<index>_<topic>.txt`
    (sorted by topic name); returns the directory."""
    import pydoc_data.topics

    directory = os.path.join(tmp_dir, CORPUS_DIR)
    os.makedirs(directory, exist_ok=True)
    for index, name in enumerate(sorted(pydoc_data.topics.topics)):
        path = os.path.join(directory, f"{index:03d}_{name}.txt")
        if not os.path.exists(path):
            with open(path + ".tmp", "w", encoding="utf-8") as f:
                f.write(pydoc_data.topics.topics[name])
            os.replace(path + ".tmp", path)
    return directory


def corpus_files(tmp_dir, split):
    """The corpus text files of `split`: file i (in name order) is held out when i % 10 == 0."""
    files = sorted(glob.glob(os.path.join(tmp_dir, CORPUS_DIR, "*.txt")))
    if not files:
        raise FileNotFoundError(f"no corpus files {os.path.join(tmp_dir, CORPUS_DIR, '*.txt')}: run "
                                "experiments/char_lm.py, which writes them (write_pydoc_corpus).")
    held_out = split == DatasetSplit.EVAL
    return [f for i, f in enumerate(files) if (i % HELD_OUT_EVERY == 0) == held_out]


@register_problem
class ExperimentPydocCharactersPacked(Text2SelfProblem):
    """Character LM over the corpus files, one example per file (a topic, ~6k characters on
    average), chopped and packed into rows of 512 bytes as T2T packs LM data: whole rows of one
    topic, so aligning examples to Sinkhorn's blocks wastes little."""

    vocab_type = VocabType.CHARACTER
    packed_length = 512

    @property
    def dataset_splits(self):
        return [{"split": DatasetSplit.TRAIN, "shards": 4}, {"split": DatasetSplit.EVAL, "shards": 1}]

    def generate_samples(self, data_dir, tmp_dir, dataset_split):
        for path in corpus_files(tmp_dir, dataset_split):
            with open(path, encoding="utf-8") as f:
                yield {"targets": f.read()}

    derived_metrics = LanguagemodelLm1bCharacters.derived_metrics  # bits per character


def digit_match_text(rng, length, edge=16):
    """(text, label): `length` random lowercase letters holding two binary digits, one in the
    first `edge` characters and one in the last `edge`; label 1 when they are equal (probability
    1/2)."""
    letters = [rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(length)]
    first = rng.randrange(2)
    label = int(rng.random() < 0.5)
    second = first if label else 1 - first
    letters[rng.randrange(edge)] = str(first)
    letters[length - 1 - rng.randrange(edge)] = str(second)
    return "".join(letters), label


@register_problem
class ExperimentDigitMatchCharacters(Text2ClassProblem):
    """Are the two digits (0 or 1) in this text equal? Texts of 64-96 characters, one digit in the
    first 16 and one in the last 16: in 16-character blocks, block 0 and a block >= 3, farther
    apart than two layers of local attention (own + previous block) reach, so the answer needs
    global attention (a mean over tokens followed by a linear classifier cannot compare two
    tokens)."""

    vocab_type = VocabType.CHARACTER
    min_chars, max_chars = 64, 96
    train_size, dev_size = 20000, 1000

    @property
    def dataset_splits(self):
        return [{"split": DatasetSplit.TRAIN, "shards": 2}, {"split": DatasetSplit.EVAL, "shards": 1}]

    def generate_samples(self, data_dir, tmp_dir, dataset_split):
        rng = random.Random(zlib.crc32(f"{self.name}-{dataset_split}".encode()))
        for _ in range(self.train_size if dataset_split == DatasetSplit.TRAIN else self.dev_size):
            text, label = digit_match_text(rng, rng.randint(self.min_chars, self.max_chars))
            yield {"inputs": text, "label": label}
