"""A user problem (reverse a sequence) and hparams set, written against sinkhorn_t2t's API."""
from sinkhorn_t2t.hparams.paper import with_attention
from sinkhorn_t2t.hparams.transformer import transformer_test
from sinkhorn_t2t.problems.algorithmic import AlgorithmicProblem
from sinkhorn_t2t.registry import register_hparams, register_problem


@register_problem
class AlgorithmicReverseTiny(AlgorithmicProblem):
    """Reverse a sequence of up to 8 symbols (1000 train / 100 dev examples)."""

    train_length = 8
    dev_length = 8
    train_size = 1000
    dev_size = 100
    num_shards = 2

    def generator(self, nbr_symbols, max_length, nbr_cases, rng):
        for _ in range(nbr_cases):
            inputs = [rng.randrange(nbr_symbols) for _ in range(rng.randint(1, max_length))]
            yield {"inputs": inputs, "targets": inputs[::-1]}


@register_hparams
def my_sinkhorn_tiny():
    hp = transformer_test()
    hp.max_length = 16
    return with_attention(hp, "sinkhorn", 4)
