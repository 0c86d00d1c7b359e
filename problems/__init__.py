"""Registered problems for the paper's tasks. Installed as `sinkhorn_t2t.problems`; importing it
registers them."""
from sinkhorn_t2t.problems import algorithmic, cifar, lm1b, nli, sentiment  # noqa: F401
