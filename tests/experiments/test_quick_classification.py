"""Study 4 (`--quick`), and what every study does when rerun: finished runs are read back, a run
whose result is lost resumes from its checkpoint at the last step and evaluates to the same
metrics, keeping the cost measured in training."""
import json
import os

import pytest

from experiments import classification, common
from sinkhorn_t2t import registry
from tests.experiments.studies import quick_run, run_study, runs


def test_classification_study_and_its_rerun(tmp_path):
    work = str(tmp_path)
    first, _ = quick_run("classification", work)
    assert runs(first) == {"transformer", "local_16", "sinkhorn_16", "sortcut_2x16"}
    hp = common.configure(classification.classification_hparams("sinkhorn"), 10, quick=True)
    lost = common.run_dir(work, registry.problem("experiment_digit_match_characters"), "sinkhorn_16", hp, 1, 10)
    assert os.path.isdir(lost)
    os.remove(os.path.join(lost, "result.json"))
    again = run_study("classification", work)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("done before") == 3
    assert "resumed from" in again.stdout and "nothing to train" in again.stdout
    rerun = {r["run"]: r for r in json.load(open(os.path.join(work, "classification.json")))["runs"]}
    before = {r["run"]: r for r in first["runs"]}["sinkhorn_16"]
    assert rerun["sinkhorn_16"]["accuracy"] == before["accuracy"]
    assert rerun["sinkhorn_16"]["loss"] == pytest.approx(before["loss"], rel=1e-6)
    for kept in ("steps_per_s", "peak_mb"):  # measured in training, which the rerun did not repeat
        assert rerun["sinkhorn_16"][kept] == before[kept], kept
