"""Test set-up: TensorFlow imported quietly (via sinkhorn_t2t) and a fixed NumPy seed per test."""
import numpy as np
import pytest

import sinkhorn_t2t  # noqa: F401  (imports TensorFlow with its start-up logging silenced)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
