"""Studies 1 and 5 (`--quick`): every sort model trains and is evaluated; study 5 analyses study
1's Sinkhorn run without training it again."""
from tests.experiments.studies import quick_run, runs


def test_sort_and_sorting_studies(tmp_path):
    sort, _ = quick_run("sort", str(tmp_path))
    assert runs(sort) == {"transformer", "local_16", "sparse_16", "sinkhorn_8", "sinkhorn_16", "sinkhorn_mixture_16"}
    analysis, printed = quick_run("sorting", str(tmp_path))
    assert "[sorting] sinkhorn_8 seed 1: done before" in printed  # study 1's Sinkhorn run, read back
    # Training reached the first blocks' SortNet columns; the columns of blocks no batch reached
    # are exactly their initial values.
    for deltas in analysis["runs"][0]["columns"].values():
        assert deltas[0] > 0 and deltas[-1] == 0
    assert set(analysis["runs"][0]["by_length"]) == {"1-64", "65-128"}
