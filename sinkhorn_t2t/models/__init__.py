"""Keras 3 Transformer models assembled from `sinkhorn_t2t.layers` by hparams."""
from sinkhorn_t2t.models.transformer import Transformer, TransformerEncoder, build_model  # noqa: F401
