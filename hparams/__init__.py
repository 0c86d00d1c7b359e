"""Registered hparam sets: T2T's Transformer family and every model row of the paper's tables.

Installed as `sinkhorn_t2t.hparams`; importing it registers the sets.
"""
from sinkhorn_t2t.hparams import paper, transformer  # noqa: F401
