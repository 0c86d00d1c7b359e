"""Natural language inference (paper 5.4): SNLI and MultiNLI, premise and hypothesis in one input
sequence joined by T2T's `$` token; 3 classes; MultiNLI is evaluated on dev matched."""
import json
import os

from sinkhorn_t2t.data import sources
from sinkhorn_t2t.data.problem import DatasetSplit
from sinkhorn_t2t.data.text_problems import TextConcat2ClassProblem, VocabType
from sinkhorn_t2t.registry import register_problem

LABELS = ["contradiction", "entailment", "neutral"]  # T2T's class ids 0, 1, 2
TFDS_LABELS = ["entailment", "neutral", "contradiction"]  # TFDS's ids 0, 1, 2 (-1: no gold label)


def nli_pairs(problem_name, tfds_name, tfds_split, jsonl_path, tmp_dir):
    """(premise, hypothesis, T2T label id) from TFDS, else the release's JSONL (gold_label,
    sentence1, sentence2); examples without a gold label are skipped."""
    examples = sources.tfds_examples(tfds_name, tfds_split, tmp_dir)
    if examples is not None:
        for ex in examples:
            if int(ex["label"]) >= 0:
                yield (sources.text(ex["premise"]), sources.text(ex["hypothesis"]),
                       LABELS.index(TFDS_LABELS[int(ex["label"])]))
        return
    release = jsonl_path.split(os.sep)[0]  # snli_1.0 / multinli_1.0, released as <name>.zip
    sources.extract_release(tmp_dir, release + ".zip", release)
    path = os.path.join(tmp_dir, jsonl_path)
    if not os.path.exists(path):
        raise sources.missing(problem_name, tfds_name, tmp_dir, jsonl_path, release + ".zip")
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            row = json.loads(line)
            if row.get("gold_label") in LABELS:
                yield row["sentence1"], row["sentence2"], LABELS.index(row["gold_label"])


class _NLIProblem(TextConcat2ClassProblem):
    num_classes = 3
    approx_vocab_size = 2**15
    tfds_name = None
    tfds_splits = None
    jsonl_files = None

    @property
    def dataset_splits(self):
        return [{"split": DatasetSplit.TRAIN, "shards": 100}, {"split": DatasetSplit.EVAL, "shards": 1}]

    def class_labels(self, data_dir):
        return LABELS

    def generate_samples(self, data_dir, tmp_dir, dataset_split):
        index = 0 if dataset_split == DatasetSplit.TRAIN else 1
        for premise, hypothesis, label in nli_pairs(self.name, self.tfds_name, self.tfds_splits[index],
                                                    self.jsonl_files[index], tmp_dir):
            yield {"inputs": [premise, hypothesis], "label": label}


@register_problem
class StanfordNLI(_NLIProblem):
    tfds_name = "snli"
    tfds_splits = ("train", "validation")
    jsonl_files = (os.path.join("snli_1.0", "snli_1.0_train.jsonl"), os.path.join("snli_1.0", "snli_1.0_dev.jsonl"))


@register_problem
class StanfordNLICharacters(StanfordNLI):
    vocab_type = VocabType.CHARACTER


@register_problem
class MultiNLI(_NLIProblem):
    tfds_name = "multi_nli"
    tfds_splits = ("train", "validation_matched")
    jsonl_files = (os.path.join("multinli_1.0", "multinli_1.0_train.jsonl"),
                   os.path.join("multinli_1.0", "multinli_1.0_dev_matched.jsonl"))


@register_problem
class MultiNLICharacters(MultiNLI):
    vocab_type = VocabType.CHARACTER
