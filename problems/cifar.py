"""CIFAR-10 pixel generation (paper 5.3): `image_cifar10_plain_gen_flat_rev`, unconditional
modelling of the 3072 pixel values (0..255) of each 32x32x3 image, reported in bits per dim."""
import math
import os
import pickle

import numpy as np
import tensorflow as tf

from sinkhorn_t2t.data import generator_utils, sources, text_encoder
from sinkhorn_t2t.data.problem import DatasetSplit, Modality, Problem, SPLIT_FILES
from sinkhorn_t2t.registry import register_problem

PICKLE_DIR = "cifar-10-batches-py"
TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_BATCHES = ["test_batch"]


def cifar10_images(problem_name, tmp_dir, split):
    """(uint8 image [32, 32, 3], label) pairs: TFDS `cifar10`, else the python pickle batches."""
    examples = sources.tfds_examples("cifar10", "train" if split == DatasetSplit.TRAIN else "test", tmp_dir)
    if examples is not None:
        for ex in examples:
            yield np.asarray(ex["image"], np.uint8), int(ex["label"])
        return
    sources.extract_release(tmp_dir, "cifar-10-python.tar.gz", PICKLE_DIR)
    names = TRAIN_BATCHES if split == DatasetSplit.TRAIN else TEST_BATCHES
    paths = [os.path.join(tmp_dir, PICKLE_DIR, n) for n in names]
    if not all(os.path.exists(p) for p in paths):
        raise sources.missing(problem_name, "cifar10", tmp_dir, f"{PICKLE_DIR}/{{{','.join(TRAIN_BATCHES)},test_batch}}",
                              "cifar-10-python.tar.gz")
    for path in paths:
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
        # The release's Python 2 pickles give bytes keys here; files pickled by Python 3 give str.
        batch = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in batch.items()}
        data = np.asarray(batch["data"], np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # rows of R|G|B
        for image, label in zip(data, batch["labels"]):
            yield image, int(label)


@register_problem
class ImageCifar10PlainGenFlat(Problem):
    """CIFAR-10 in T2T's image layout (PNG `image/encoded`, `image/class/label`; files named
    `image_cifar10_plain-*`). Plain: pixels -> class. `_rev`: unconditional pixel model, targets =
    the 3072 flattened pixel values (height, width, channel order), every position a real value."""

    batch_size_means_tokens = False
    num_train_shards = 10

    def dataset_filename(self):
        return "image_cifar10_plain"

    def generate_data(self, data_dir, tmp_dir, task_id=-1):
        for split, shards in ((DatasetSplit.TRAIN, self.num_train_shards), (DatasetSplit.EVAL, 1)):
            paths = generator_utils.shard_filepaths(data_dir, self.dataset_filename(), SPLIT_FILES[split], shards)
            examples = ({"image/encoded": [tf.io.encode_png(image).numpy()], "image/format": [b"png"],
                         "image/class/label": [label], "image/height": [32], "image/width": [32]}
                        for image, label in cifar10_images(self.name, tmp_dir, split))
            generator_utils.generate_files(examples, paths)

    def example_reading_spec(self):
        return {"image/encoded": tf.io.FixedLenFeature([], tf.string),
                "image/class/label": tf.io.FixedLenFeature([1], tf.int64)}

    def decode_examples(self, serialized):
        parsed = tf.io.parse_example(serialized, self.example_reading_spec())
        images = tf.map_fn(lambda png: tf.io.decode_png(png, channels=3), parsed["image/encoded"],
                           fn_output_signature=tf.TensorSpec([None, None, 3], tf.uint8))
        return {"inputs": tf.reshape(tf.cast(images, tf.int64), [tf.shape(images)[0], -1]),
                "targets": parsed["image/class/label"]}

    def _reverse_or_copy(self, example):
        if self._was_reversed:
            return {"targets": example["inputs"]}  # unconditional: the label is not an input
        return example

    def hparams(self, defaults, model_hparams):
        defaults.modality = {"inputs": Modality.SYMBOL_WEIGHTS_ALL, "targets": Modality.CLASS_LABEL}
        defaults.vocab_size = {"inputs": 256, "targets": 10}
        defaults.stop_at_eos = False  # 1 is a pixel value, not EOS

    def feature_encoders(self, data_dir):
        pixels = text_encoder.RawIntEncoder()
        return {"inputs": pixels, "targets": pixels}

    def get_hparams(self, model_hparams=None, data_dir=None):
        hp = super().get_hparams(model_hparams, data_dir)
        if self._was_reversed:
            hp.modality, hp.vocab_size = {"targets": Modality.SYMBOL_WEIGHTS_ALL}, {"targets": 256}
        return hp

    def max_length(self, model_hparams):
        return 32 * 32 * 3

    def eval_metrics(self):
        return ["accuracy", "neg_log_perplexity"]

    def derived_metrics(self, results):
        return {"bits_per_dim": -results["neg_log_perplexity"] / math.log(2)}
