"""LM1B language modelling (paper 5.2): subword (32k) and character level, plain and packed."""
import glob
import math
import os

from sinkhorn_t2t.data import sources
from sinkhorn_t2t.data.problem import DatasetSplit
from sinkhorn_t2t.data.text_problems import Text2SelfProblem, VocabType
from sinkhorn_t2t.registry import register_problem

LM1B_DIR = "1-billion-word-language-modeling-benchmark-r13output"
LM1B_ARCHIVE = LM1B_DIR + ".tar.gz"
TRAIN_GLOB = os.path.join(LM1B_DIR, "training-monolingual.tokenized.shuffled", "news.en-000??-of-00100")
DEV_FILE = os.path.join(LM1B_DIR, "heldout-monolingual.tokenized.shuffled", "news.en.heldout-00000-of-00050")


def lm1b_sentences(problem_name, tmp_dir, split):
    """Sentences of LM1B: TFDS `lm1b` (train / test), else the release's tokenized shuffled news
    shards (train: news.en-000{01..99}-of-00100, dev: news.en.heldout-00000-of-00050)."""
    examples = sources.tfds_examples("lm1b", "train" if split == DatasetSplit.TRAIN else "test", tmp_dir)
    if examples is not None:
        for ex in examples:
            yield sources.text(ex["text"])
        return
    sources.extract_release(tmp_dir, LM1B_ARCHIVE, LM1B_DIR)
    if split == DatasetSplit.TRAIN:
        files = [f for f in sorted(glob.glob(os.path.join(tmp_dir, TRAIN_GLOB))) if not f.endswith("00000-of-00100")]
    else:
        files = [p for p in [os.path.join(tmp_dir, DEV_FILE)] if os.path.exists(p)]
    if not files:
        raise sources.missing(problem_name, "lm1b", tmp_dir, f"{TRAIN_GLOB} and {DEV_FILE}", LM1B_ARCHIVE)
    for path in files:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    yield line.strip()


@register_problem
class LanguagemodelLm1b32k(Text2SelfProblem):
    """LM1B with a ~32k-piece subword vocabulary learned on the first 63000 training sentences;
    reports perplexity per subword token."""

    approx_vocab_size = 2**15
    max_samples_for_vocab = 63000

    @property
    def dataset_splits(self):
        return [{"split": DatasetSplit.TRAIN, "shards": 100}, {"split": DatasetSplit.EVAL, "shards": 1}]

    def generate_samples(self, data_dir, tmp_dir, dataset_split):
        for sentence in lm1b_sentences(self.name, tmp_dir, dataset_split):
            yield {"targets": sentence}

    def derived_metrics(self, results):
        return {"perplexity": math.exp(-results["neg_log_perplexity"])}


@register_problem
class LanguagemodelLm1b32kPacked(LanguagemodelLm1b32k):
    """Packed rows of 256 subword tokens (T2T's TPU setting), reusing languagemodel_lm1b32k's
    vocabulary."""

    packed_length = 256

    def vocab_dataset_filename(self):
        return "languagemodel_lm1b32k"


@register_problem
class LanguagemodelLm1bCharacters(LanguagemodelLm1b32k):
    """LM1B over bytes (258 ids, loss multiplier 2); reports bits per character."""

    vocab_type = VocabType.CHARACTER

    def derived_metrics(self, results):
        return {"bits_per_char": -results["neg_log_perplexity"] / math.log(2)}


@register_problem
class LanguagemodelLm1bCharactersPacked(LanguagemodelLm1bCharacters):
    """Packed rows of 1024 bytes."""

    packed_length = 1024
