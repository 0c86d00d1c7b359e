"""Finding the newest intact checkpoint, for absolute and relative output dirs."""
import os

import pytest
import tensorflow as tf

from sinkhorn_t2t.training import checkpoints


def _save(directory, steps):
    step = tf.Variable(0)
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(step=step), directory, max_to_keep=5)
    for s in steps:
        step.assign(s)
        manager.save(checkpoint_number=s)


@pytest.mark.parametrize("relative", [False, True])
def test_the_newest_intact_checkpoint_is_found_without_false_alarms(tmp_path, monkeypatch, relative):
    monkeypatch.chdir(tmp_path)
    directory = "out/model" if relative else str(tmp_path / "out" / "model")
    _save(directory, [2, 4])
    said = []
    assert checkpoints.newest_intact(directory, log=said.append) == os.path.normpath(os.path.join(directory, "ckpt-4"))
    assert said == []  # nothing damaged, nothing reported
    os.remove(os.path.join(directory, "ckpt-4.index"))
    assert checkpoints.newest_intact(directory, log=said.append) == os.path.normpath(os.path.join(directory, "ckpt-2"))
    assert len(said) == 1 and "ckpt-4" in said[0] and "index file is missing" in said[0]


def test_no_checkpoint_is_none_and_all_damaged_is_an_error(tmp_path):
    assert checkpoints.newest_intact(str(tmp_path)) is None
    _save(str(tmp_path), [1])
    with open(tmp_path / "ckpt-1.data-00000-of-00001", "r+b") as f:
        f.truncate(1)
    with pytest.raises(checkpoints.CheckpointError, match="no intact checkpoint.*ckpt-1.*nothing was deleted"):
        checkpoints.newest_intact(str(tmp_path))
