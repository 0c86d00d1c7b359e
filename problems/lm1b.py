"""LM1B language modelling (paper 5.2): subword (32k) and character level, plain and packed."""
import math
import os

from sinkhorn_t2t.data import sources
from sinkhorn_t2t.data.problem import DatasetSplit
from sinkhorn_t2t.data.text_problems import Text2SelfProblem, VocabType
from sinkhorn_t2t.registry import register_problem

LM1B_DIR = "1-billion-word-language-modeling-benchmark-r13output"
LM1B_ARCHIVE = LM1B_DIR + ".tar.gz"
TRAIN_DIR = os.path.join(LM1B_DIR, "training-monolingual.tokenized.shuffled")
TRAIN_FILES = [os.path.join(TRAIN_DIR, f"news.en-{i:05d}-of-00100") for i in range(1, 100)]  # 00000 is not used
DEV_FILE = os.path.join(LM1B_DIR, "heldout-monolingual.tokenized.shuffled", "news.en.heldout-00000-of-00050")
VOCAB_FILE = "vocab-2016-09-10.txt.en"  # LM1B's original word list (vocab-2016-09-10.txt), in --tmp_dir


def original_vocab(problem_name, tmp_dir):
    """The words of LM1B's original vocabulary; T2T replaces every other word with UNK."""
    path = os.path.join(tmp_dir, VOCAB_FILE)
    if not os.path.exists(path):
        raise sources.MissingDataError(
            f"{problem_name} needs LM1B's original vocabulary {path} (vocab-2016-09-10.txt from the LM1B release, "
            f"saved as {VOCAB_FILE}, as T2T's generator saves it): T2T replaces every word outside it with UNK.")
    with open(path, encoding="utf-8") as f:
        return {line.strip() for line in f}


def replace_oov(vocab, line):
    """T2T's `_replace_oov`: words outside `vocab` become UNK; words joined by single spaces."""
    return " ".join(word if word in vocab else "UNK" for word in line.split())


def lm1b_sentences(problem_name, tmp_dir, split):
    """Sentences of LM1B as T2T's generator yields them: every line of the 99 training shards
    news.en-000{01..99}-of-00100 (dev: news.en.heldout-00000-of-00050), out-of-vocabulary words
    replaced by UNK. From TFDS `lm1b` (train / test) when prepared: the same replacement; its test
    split holds all 50 heldout shards, T2T's dev only the first."""
    examples = sources.tfds_examples("lm1b", "train" if split == DatasetSplit.TRAIN else "test", tmp_dir)
    if examples is not None:
        vocab = original_vocab(problem_name, tmp_dir)
        for ex in examples:
            yield replace_oov(vocab, sources.text(ex["text"]))
        return
    sources.extract_release(tmp_dir, LM1B_ARCHIVE, LM1B_DIR)
    files = [os.path.join(tmp_dir, f) for f in (TRAIN_FILES if split == DatasetSplit.TRAIN else [DEV_FILE])]
    missing = [f for f in files if not os.path.isfile(f)]
    if len(missing) == len(files):
        raise sources.missing(problem_name, "lm1b", tmp_dir, f"{TRAIN_DIR}/news.en-000{{01..99}}-of-00100 and "
                              f"{DEV_FILE}", LM1B_ARCHIVE)
    if missing:
        names = ", ".join(os.path.basename(f) for f in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise sources.MissingDataError(
            f"{problem_name}: {len(missing)} of the release's {len(files)} {split} files are missing under "
            f"--tmp_dir {tmp_dir} ({names}); T2T reads all of them: restore them (or extract {LM1B_ARCHIVE} again).")
    for path in files:  # every release shard ends with a newline; a cut copy ends mid-line
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(size - 1, 0))
            if size and f.read(1) != b"\n":
                raise sources.MissingDataError(
                    f"{problem_name}: {path} looks truncated (it ends mid-line, as no LM1B release file does): "
                    f"restore it (or extract {LM1B_ARCHIVE} again).")
    vocab = original_vocab(problem_name, tmp_dir)
    for path in files:
        with open(path, encoding="utf-8") as f:
            for line in f:
                yield replace_oov(vocab, line)


@register_problem
class LanguagemodelLm1b32k(Text2SelfProblem):
    """LM1B with T2T's ~32k subword vocabulary learned on the first 63000 training sentences;
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
