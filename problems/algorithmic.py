"""Algorithmic sort (paper 5.1): T2T's `algorithmic_sort_problem` and the paper's lengths."""
import random
import zlib

from sinkhorn_t2t.data import generator_utils
from sinkhorn_t2t.data.problem import DatasetSplit, Modality, Problem, SPLIT_FILES
from sinkhorn_t2t.data.text_encoder import EOS_ID, NUM_RESERVED_TOKENS
from sinkhorn_t2t.registry import register_problem


class AlgorithmicProblem(Problem):
    """T2T's algorithmic problem base: symbols shifted by the 2 reserved ids, EOS appended to
    inputs and targets, lengths uniform in [1, max length]; 10 train shards, 1 dev shard."""

    train_length = 40
    dev_length = 400
    train_size = 100000
    dev_size = 10000
    num_shards = 10

    @property
    def num_symbols(self):
        return max(self.train_length, self.dev_length)

    def generator(self, nbr_symbols, max_length, nbr_cases, rng):
        raise NotImplementedError

    def generate_data(self, data_dir, tmp_dir, task_id=-1):
        for split, length, size, shards in ((DatasetSplit.TRAIN, self.train_length, self.train_size, self.num_shards),
                                            (DatasetSplit.EVAL, self.dev_length, self.dev_size, 1)):
            rng = random.Random(zlib.crc32(f"{self.dataset_filename()}-{split}".encode()))
            paths = generator_utils.shard_filepaths(data_dir, self.dataset_filename(), SPLIT_FILES[split], shards)
            examples = ({k: [t + NUM_RESERVED_TOKENS for t in v] + [EOS_ID] for k, v in case.items()}
                        for case in self.generator(self.num_symbols, length, size, rng))
            generator_utils.generate_files(examples, paths, seed=rng.randrange(2**31))

    def hparams(self, defaults, model_hparams):
        vocab = self.num_symbols + NUM_RESERVED_TOKENS
        defaults.modality = {"inputs": Modality.SYMBOL, "targets": Modality.SYMBOL}
        defaults.vocab_size = {"inputs": vocab, "targets": vocab}

    def eval_metrics(self):
        return super().eval_metrics() + ["edit_distance"]


@register_problem
class AlgorithmicSortProblem(AlgorithmicProblem):
    """Sort a sequence of symbols (T2T: train length 10, dev length 20, 20 symbols -> vocab 22,
    sampled with replacement, 100k train / 10k dev examples)."""

    train_length = 10
    dev_length = 20

    def generator(self, nbr_symbols, max_length, nbr_cases, rng):
        for _ in range(nbr_cases):
            length = rng.randint(1, max_length)
            inputs = [rng.randrange(nbr_symbols) for _ in range(length)]
            yield {"inputs": inputs, "targets": sorted(inputs)}


@register_problem
class AlgorithmicSortProblemPaper(AlgorithmicSortProblem):
    """The paper's sort task (5.1): train on lengths up to 256, evaluate on lengths up to 512;
    100k train and 1000 test examples."""

    train_length = 256
    dev_length = 512
    dev_size = 1000
