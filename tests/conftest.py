"""Test set-up: TensorFlow imported quietly (via sinkhorn_t2t), a fixed NumPy seed per test, the
longest files scheduled first."""
import numpy as np
import pytest

import sinkhorn_t2t  # noqa: F401  (imports TensorFlow with its start-up logging silenced)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# The files that take longest (several minutes of console-script runs each), scheduled first so
# that the two pytest-xdist workers (one file at a time each, --dist loadfile) end together
# instead of one finishing a long file alone. The order of everything else is unchanged.
LONGEST_FIRST = ["tests/bin/test_tools_end_to_end.py", "tests/problems/test_paper_problems.py",
                 "tests/training/test_fast_decoding.py", "tests/bin/test_bad_input_and_damaged_state.py",
                 "tests/experiments/test_quick_char_lm.py", "tests/bin/test_exact_resume.py",
                 "tests/training/test_tpu_path.py"]


def pytest_collection_modifyitems(items):
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))
