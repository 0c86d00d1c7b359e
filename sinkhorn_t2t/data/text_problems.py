"""T2T's text problem families: Text2Text (seq2seq), Text2Self (LM), Text2Class (classification).

A subclass yields raw samples from `generate_samples(data_dir, tmp_dir, dataset_split)`; the base
class builds or loads the vocabulary (in `data_dir`, named as T2T names it), encodes, appends EOS
and writes the sharded TFRecords.
"""
import itertools
import os
import random

import tensorflow as tf

from sinkhorn_t2t.data import generator_utils, text_encoder
from sinkhorn_t2t.data.packing import pack_examples
from sinkhorn_t2t.data.problem import DatasetSplit, Modality, Problem, SPLIT_FILES
from sinkhorn_t2t.data.subword_vocab import learn_subword_vocab


class VocabType:
    CHARACTER = "character"  # bytes: 258 ids
    SUBWORD = "subwords"  # T2T's SubwordTextEncoder vocabulary, learned as T2T learns it
    WORDPIECE = "wordpiece"  # WordPiece learned with tensorflow-text (not T2T's; a named option)
    TOKEN = "tokens"  # a given token list


class Text2TextProblem(Problem):
    """Sequence-to-sequence text: samples `{"inputs": str, "targets": str}`."""

    vocab_type = VocabType.SUBWORD
    approx_vocab_size = 2**15
    max_samples_for_vocab = None  # T2T's default: learn the vocabulary from all training samples
    max_subtoken_length = 200
    oov_token = None
    packed_length = None  # T2T's packed (TPU) setting: rows of this length with segments
    packed_spacing = 0
    datagen_seed = generator_utils.T2T_DATAGEN_SEED  # shard shuffling (and packing) as t2t-datagen's
    is_generate_per_split = True

    @property
    def dataset_splits(self):
        return [{"split": DatasetSplit.TRAIN, "shards": 100}, {"split": DatasetSplit.EVAL, "shards": 1}]

    def generate_samples(self, data_dir, tmp_dir, dataset_split):
        raise NotImplementedError

    @property
    def text_features(self):
        return ["inputs", "targets"] if self.has_inputs else ["targets"]

    def vocab_filename(self):
        if self.vocab_type in (VocabType.SUBWORD, VocabType.WORDPIECE):
            return f"vocab.{self.vocab_dataset_filename()}.{self.approx_vocab_size}.{self.vocab_type}"
        return f"vocab.{self.vocab_dataset_filename()}.tokens"

    def vocab_dataset_filename(self):
        """The problem whose vocabulary this one uses (a packed variant shares its base's)."""
        return self.dataset_filename()

    def _vocab_texts(self, data_dir, tmp_dir):
        count = 0
        for sample in self.generate_samples(data_dir, tmp_dir, DatasetSplit.TRAIN):
            for key in self.text_features:
                value = sample.get(key)
                yield from [value] if isinstance(value, str) else (value or [])
            count += 1
            if self.max_samples_for_vocab and count >= self.max_samples_for_vocab:
                return

    def get_or_create_vocab(self, data_dir, tmp_dir=None, force_get=False):
        """The text encoder; a subword vocabulary is learned on first use and kept in data_dir."""
        if self.vocab_type == VocabType.CHARACTER:
            return text_encoder.ByteTextEncoder()
        path = os.path.join(data_dir, self.vocab_filename())
        if self.vocab_type == VocabType.TOKEN:
            if not tf.io.gfile.exists(path):
                raise FileNotFoundError(f"{self.name} needs its token vocabulary {path} (one token per line).")
            return text_encoder.TokenTextEncoder(path, replace_oov=self.oov_token)
        if tf.io.gfile.exists(path):
            return text_encoder.load_subword_vocab(path)
        if force_get:
            raise FileNotFoundError(f"vocabulary {path} is missing: run t2t-datagen --problem={self.name} "
                                    f"--data_dir={data_dir} first.")
        texts = self._vocab_texts(data_dir, tmp_dir)
        first = next(texts, None)  # a missing-data error surfaces here, not inside tf.data
        if first is None:
            raise FileNotFoundError(f"{self.name}: the training data holds no text to learn a vocabulary from.")
        texts = itertools.chain([first], texts)
        if self.vocab_type == VocabType.WORDPIECE:
            return text_encoder.build_wordpiece_vocab(texts, self.approx_vocab_size, path)
        print(f"learning T2T's subword vocabulary ({self.approx_vocab_size} subtokens) for {self.name}", flush=True)
        learn_subword_vocab(texts, self.approx_vocab_size, path, self.max_subtoken_length)
        return text_encoder.T2TSubwordTextEncoder(path)

    def feature_encoders(self, data_dir):
        encoder = self.get_or_create_vocab(data_dir, force_get=True)
        return {"inputs": encoder, "targets": encoder}

    def sample_texts(self, sample):
        """The texts of a raw sample to encode, by feature."""
        return {key: sample[key] for key in self.text_features}

    def assemble(self, sample, ids):
        """Encoded texts (by feature) -> the example's feature lists (text + EOS)."""
        return {key: ids[key] + [text_encoder.EOS_ID] for key in self.text_features}

    def generate_encoded_samples(self, data_dir, tmp_dir, dataset_split, chunk=1024):
        """Encodes samples in chunks (one in-graph tokenizer call per chunk and feature)."""
        encoder = self._encoder = self.get_or_create_vocab(data_dir, tmp_dir)
        samples = self.generate_samples(data_dir, tmp_dir, dataset_split)
        while True:
            batch = list(itertools.islice(samples, chunk))
            if not batch:
                return
            texts = [self.sample_texts(sample) for sample in batch]
            ids = {key: encoder.encode_batch([t[key] for t in texts]) for key in texts[0]}
            for i, sample in enumerate(batch):
                yield self.assemble(sample, {key: ids[key][i] for key in ids})

    def _pack_records(self, records):
        """T2T's `_pack_fn`: one shuffled shard of serialized examples -> its packed rows."""
        keys = ["inputs", "targets"] if self.has_inputs else ["targets"]
        examples = []
        for record in records:
            feature = tf.train.Example.FromString(record).features.feature
            examples.append({k: list(feature[k].int64_list.value) for k in keys})
        rows = list(pack_examples(examples, self.has_inputs, self.packed_length, spacing=self.packed_spacing,
                                  chop_long_sequences=not self.has_inputs))
        self._fill[0] += len(rows)
        self._fill[1] += sum(1 for row in rows for s in row["targets_segmentation"] if s > 0)
        return [generator_utils.to_example(row).SerializeToString() for row in rows]

    def example_reading_spec(self):
        spec = {key: tf.io.VarLenFeature(tf.int64) for key in self.text_features}
        if self.packed_length:
            for key in list(spec):
                spec[f"{key}_segmentation"] = tf.io.VarLenFeature(tf.int64)
                spec[f"{key}_position"] = tf.io.VarLenFeature(tf.int64)
        return spec

    def generate_data(self, data_dir, tmp_dir, task_id=-1):
        """T2T's flow: encoded examples round-robin into shards; then every shard (train, then dev)
        is shuffled with one RNG seeded like t2t-datagen's (`datagen_seed`) and, for packed
        problems, packed from its shuffled records. So the records are T2T's, shard for shard."""
        self.get_or_create_vocab(data_dir, tmp_dir)
        rng = random.Random(self.datagen_seed)
        pack = self._pack_records if self.packed_length else None
        self._fill = [0, 0]
        splits = self.dataset_splits
        if self.is_generate_per_split:
            for split in splits:
                paths = generator_utils.shard_filepaths(data_dir, self.dataset_filename(), SPLIT_FILES[split["split"]],
                                                        split["shards"])
                generator_utils.generate_files(self.generate_encoded_samples(data_dir, tmp_dir, split["split"]), paths,
                                               rng=rng, extra_fn=pack)
        else:
            paths = [p for split in splits for p in generator_utils.shard_filepaths(
                data_dir, self.dataset_filename(), SPLIT_FILES[split["split"]], split["shards"])]
            generator_utils.generate_files(self.generate_encoded_samples(data_dir, tmp_dir, DatasetSplit.TRAIN), paths,
                                           rng=rng, extra_fn=pack)
        if pack and self._fill[0]:
            print(f"{self.name}: {self._fill[0]} packed rows of {self.packed_length} tokens, real-token fill ratio "
                  f"{self._fill[1] / (self._fill[0] * self.packed_length):.3f}", flush=True)

    def hparams(self, defaults, model_hparams):
        if self.vocab_type != VocabType.CHARACTER and not self.data_dir:
            raise FileNotFoundError(f"{self.name}: the vocabulary size needs --data_dir.")
        vocab = self.get_or_create_vocab(self.data_dir, force_get=True).vocab_size
        defaults.modality = {key: Modality.SYMBOL for key in self.text_features}
        defaults.vocab_size = {key: vocab for key in self.text_features}
        if self.vocab_type == VocabType.CHARACTER:
            defaults.loss_multiplier = 2.0

    def max_length(self, model_hparams):
        return self.packed_length or super().max_length(model_hparams)


class Text2SelfProblem(Text2TextProblem):
    """Language modelling: samples `{"targets": str}`, no inputs."""

    @property
    def has_inputs(self):
        return False


class Text2ClassProblem(Text2TextProblem):
    """Classification: samples `{"inputs": str, "label": int}`; targets are `[label]`."""

    num_classes = 2

    def class_labels(self, data_dir):
        return [f"ID_{i}" for i in range(self.num_classes)]

    @property
    def text_features(self):
        return ["inputs"]

    max_input_length = 0  # truncation of the encoded inputs (0: none)

    def input_limit(self, hparams):
        """Inputs are cut to this many ids, in training and evaluation: the problem's
        `max_input_length` and the model's length, whichever is shorter (as the paper cut its
        inputs; T2T-written data dirs hold whole reviews)."""
        limits = [n for n in (self.max_input_length, self.max_length(hparams) if hparams is not None else 0) if n]
        return min(limits) if limits else 0

    def preprocess_example(self, example, mode, hparams):
        example = super().preprocess_example(example, mode, hparams)
        limit = self.input_limit(hparams)
        if limit:
            example["inputs"] = example["inputs"][:limit]
        return example

    def assemble(self, sample, ids):
        return {"inputs": ids["inputs"] + [text_encoder.EOS_ID], "targets": [int(sample["label"])]}

    def feature_encoders(self, data_dir):
        return {"inputs": self.get_or_create_vocab(data_dir, force_get=True),
                "targets": text_encoder.ClassLabelEncoder(self.class_labels(data_dir))}

    def example_reading_spec(self):
        return {"inputs": tf.io.VarLenFeature(tf.int64), "targets": tf.io.FixedLenFeature([1], tf.int64)}

    def hparams(self, defaults, model_hparams):
        super().hparams(defaults, model_hparams)
        defaults.modality = {"inputs": Modality.SYMBOL, "targets": Modality.CLASS_LABEL}
        defaults.vocab_size = {"inputs": defaults.vocab_size["inputs"], "targets": self.num_classes}

    def eval_metrics(self):
        return ["accuracy", "neg_log_perplexity"]


class TextConcat2ClassProblem(Text2ClassProblem):
    """Classification of several texts (premise, hypothesis), as T2T writes it: each text encoded
    on its own, joined by the first id of `encode("$")`, then EOS."""

    CONCAT_TOKEN = "$"

    def _vocab_texts(self, data_dir, tmp_dir):
        yield from super()._vocab_texts(data_dir, tmp_dir)
        if self.vocab_type == VocabType.WORDPIECE:  # WordPiece would map an unseen "$" to [UNK]
            yield self.CONCAT_TOKEN

    def sample_texts(self, sample):
        return {f"inputs_{i}": text for i, text in enumerate(sample["inputs"])}

    def assemble(self, sample, ids):
        concat_id = self._encoder.encode(self.CONCAT_TOKEN)[0]
        inputs = []
        for i in range(len(sample["inputs"])):
            inputs += ids[f"inputs_{i}"] + ([concat_id] if i < len(sample["inputs"]) - 1 else [])
        return {"inputs": inputs + [text_encoder.EOS_ID], "targets": [int(sample["label"])]}
