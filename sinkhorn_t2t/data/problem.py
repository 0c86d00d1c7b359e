"""T2T's `Problem` contract: generate data, read it back as `tf.data`, describe its features."""
import os

import tensorflow as tf

from sinkhorn_t2t import registry
from sinkhorn_t2t.data import text_encoder
from sinkhorn_t2t.hparam import HParams


class DatasetSplit:
    TRAIN, EVAL, TEST = "train", "eval", "test"


SPLIT_FILES = {DatasetSplit.TRAIN: "train", DatasetSplit.EVAL: "dev", DatasetSplit.TEST: "test"}
PARSE_BATCH = 64  # records per parse op (`Problem.decode_examples`)


class Modality:
    SYMBOL = "symbol"  # token ids; id 0 is padding and carries no loss
    SYMBOL_WEIGHTS_ALL = "symbol_weights_all"  # token ids where 0 is a real value (pixels)
    CLASS_LABEL = "class_label"  # one label per example
    IDENTITY = "identity"  # passed through (segmentation, position)


class Problem:
    """A dataset and how to model it, following Tensor2Tensor.

    Subclasses implement `generate_data(data_dir, tmp_dir, task_id)` and `hparams(defaults,
    model_hparams)`; they may override `example_reading_spec`, `preprocess_example`,
    `feature_encoders`, `eval_metrics`, `dataset_filename` and `max_length`.
    `was_reversed` swaps inputs and targets (`<name>_rev`); `was_copy` copies inputs to
    targets (`<name>_copy`).
    """

    batch_size_means_tokens = True
    data_dir = None  # set by get_hparams: where hparams() finds vocabularies

    def __init__(self, was_reversed=False, was_copy=False):
        self._was_reversed = was_reversed
        self._was_copy = was_copy

    @property
    def base_name(self):
        return getattr(type(self), "REGISTERED_NAME", registry.default_name(type(self)))

    @property
    def name(self):
        return self.base_name + ("_rev" if self._was_reversed else "") + ("_copy" if self._was_copy else "")

    def dataset_filename(self):
        return self.base_name

    @property
    def has_inputs(self):
        return True

    # --- data generation -------------------------------------------------------------------
    def generate_data(self, data_dir, tmp_dir, task_id=-1):
        raise NotImplementedError(f"problem {self.name!r} does not generate data.")

    # --- problem hparams -------------------------------------------------------------------
    def hparams(self, defaults, model_hparams):
        """Mutates `defaults`: `vocab_size`, `modality`, `loss_multiplier`, ... Returns None."""

    def get_hparams(self, model_hparams=None, data_dir=None):
        """The problem hparams: `vocab_size` and `modality` dicts keyed by feature, and more."""
        self.data_dir = data_dir or self.data_dir
        hp = HParams(vocab_size={}, modality={}, loss_multiplier=1.0, stop_at_eos=True, input_space_id=0,
                     target_space_id=0, batch_size_multiplier=1)
        if self.hparams(hp, model_hparams) is not None:
            raise ValueError(f"{type(self).__name__}.hparams must mutate `defaults` and return None.")
        if self._was_reversed:
            for key in ("vocab_size", "modality"):
                values = dict(getattr(hp, key))
                values["inputs"], values["targets"] = values.get("targets"), values.get("inputs")
                setattr(hp, key, {k: v for k, v in values.items() if v is not None})
        return hp

    def feature_encoders(self, data_dir):
        return {"inputs": text_encoder.TextEncoder(), "targets": text_encoder.TextEncoder()}

    def eval_metrics(self):
        return ["accuracy", "accuracy_per_sequence", "neg_log_perplexity"]

    def derived_metrics(self, results):
        """Metrics computed from the standard ones (perplexity, bits per char / dim)."""
        return {}

    def max_length(self, model_hparams):
        """Longest sequence batches hold: `hparams.max_length`, else `batch_size`."""
        return (model_hparams.max_length if model_hparams and model_hparams.max_length else None) or (
            model_hparams.batch_size if model_hparams else 256)

    # --- reading ---------------------------------------------------------------------------
    def example_reading_spec(self):
        return {"inputs": tf.io.VarLenFeature(tf.int64), "targets": tf.io.VarLenFeature(tf.int64)}

    def filepattern(self, data_dir, mode):
        return os.path.join(data_dir, f"{self.dataset_filename()}-{SPLIT_FILES[mode]}*")

    def data_files(self, data_dir, mode):
        if not data_dir or not tf.io.gfile.isdir(data_dir):
            raise FileNotFoundError(f"--data_dir {data_dir!r} does not exist: generate data with "
                                    f"`t2t-datagen --problem={self.name} --data_dir=DIR --tmp_dir=TMP`.")
        files = sorted(f for f in tf.io.gfile.glob(self.filepattern(data_dir, mode))
                       if not f.endswith((".incomplete", "-unshuffled")))
        if not files:
            raise FileNotFoundError(
                f"no {SPLIT_FILES[mode]} files ({os.path.basename(self.filepattern(data_dir, mode))}) in "
                f"--data_dir {data_dir}: run `t2t-datagen --problem={self.name} --data_dir={data_dir}` "
                "or pass --generate_data to t2t-trainer.")
        return files

    def first_corrupt_file(self, data_dir, mode):
        """`(path, reason)` of the first `mode` file whose records do not read back as examples
        (a truncated or overwritten shard), or None when all do. Reads every record."""
        for path in self.data_files(data_dir, mode):
            try:
                tf.data.TFRecordDataset(path).batch(PARSE_BATCH).map(self.decode_examples).reduce(
                    0, lambda count, _: count + 1)
            except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as err:
                return path, str(err).strip().splitlines()[0]
        return None

    def decode_examples(self, serialized):
        """Records `[N]` -> features with a leading `N` axis (ragged `[N, None]` for variable-length
        ones), for `unbatch`: one parse op per `PARSE_BATCH` records, not one per record, leaves
        the CPU to the training step."""
        spec = {key: tf.io.RaggedFeature(feature.dtype) if isinstance(feature, tf.io.VarLenFeature) else feature
                for key, feature in self.example_reading_spec().items()}
        return tf.io.parse_example(serialized, spec)

    def preprocess_example(self, example, mode, hparams):
        """Truncates inputs / targets to `max_input_seq_length` / `max_target_seq_length` (0 = off)."""
        if hparams is not None:
            for key, limit in (("inputs", hparams.get("max_input_seq_length", 0)),
                               ("targets", hparams.get("max_target_seq_length", 0))):
                if limit and key in example:
                    example[key] = example[key][:limit]
        return example

    def _reverse_or_copy(self, example):
        if self._was_reversed and "inputs" in example:
            example["inputs"], example["targets"] = example["targets"], example["inputs"]
        if self._was_copy and "inputs" in example:
            example["targets"] = example["inputs"]
        return example

    def dataset(self, mode, data_dir, hparams=None, shuffle_files=None, preprocess=True, seed=None):
        """Unbatched `tf.data.Dataset` of feature dicts (int64 tensors) for `mode`."""
        files = self.data_files(data_dir, mode)
        shuffle_files = mode == DatasetSplit.TRAIN if shuffle_files is None else shuffle_files
        ds = tf.data.Dataset.from_tensor_slices(files)
        if shuffle_files:
            ds = ds.shuffle(len(files), seed=seed)
        ds = ds.interleave(tf.data.TFRecordDataset, cycle_length=min(4, len(files)),
                           num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        ds = ds.batch(PARSE_BATCH).map(self.decode_examples, num_parallel_calls=tf.data.AUTOTUNE).unbatch()
        if self._was_reversed or self._was_copy:
            ds = ds.map(self._reverse_or_copy)
        if preprocess:
            ds = ds.map(lambda ex: self.preprocess_example(ex, mode, hparams), num_parallel_calls=tf.data.AUTOTUNE)
        return ds
