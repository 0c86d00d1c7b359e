"""Studies 2 and 3 (`--quick`): every character LM and every ablation trains and is evaluated;
the ablations reuse study 2's Sinkhorn run for their default rows."""
import math

import pytest

from tests.experiments.studies import quick_run, runs


def test_char_lm_and_ablation_studies(tmp_path):
    char_lm, _ = quick_run("char_lm", str(tmp_path))
    assert runs(char_lm) == {"transformer", "local", "sparse_fixed", "sinkhorn", "sinkhorn_mixture"}
    for r in char_lm["runs"]:
        assert r["bits_per_char"] == pytest.approx(-r["neg_log_perplexity"] / math.log(2))
    ablations, printed = quick_run("ablations", str(tmp_path))
    assert len(runs(ablations)) == 14  # 17 table rows, 3 of them the defaults
    assert "[ablations] sinkhorn seed 1: done before" in printed  # study 2's run
