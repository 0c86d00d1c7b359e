"""A run killed with SIGKILL between two checkpoints and rerun with the same command ends with the
weights of a run that was never interrupted (the input pipeline's position is checkpointed and
`--random_seed` makes training deterministic), on one device and under MirroredStrategy over two
logical CPUs."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import tensorflow as tf

from tests.bin.tools import ROOT, run_tool, start_tool

STEPS, SAVE_EVERY, KILL_AFTER = 30, 10, 15


def _weights(output_dir):
    """Every saved variable but the input pipeline's state and the save counter, by name."""
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(output_dir))
    return {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(tf.train.latest_checkpoint(output_dir))
            if not name.startswith(("iterator/", "save_counter", "_CHECKPOINTABLE_OBJECT_GRAPH"))}


def _kill_after(start, log_path, needle, timeout=300):
    """Starts a run and SIGKILLs it as soon as `needle` appears in its log (a step past a
    checkpoint, before the next one)."""
    proc = start()
    try:
        deadline = time.time() + timeout
        while time.time() < deadline and proc.poll() is None:
            if needle in log_path.read_text():
                break
            time.sleep(0.02)
        else:
            pytest.fail(f"never saw {needle!r}:\n" + log_path.read_text()[-3000:])
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def _assert_same_weights(a_dir, b_dir):
    a, b = _weights(a_dir), _weights(b_dir)
    assert a.keys() == b.keys()
    assert sum("_trainable_variables" in name for name in a) > 30  # every weight (saved through the optimizer)
    for name in a:
        np.testing.assert_allclose(b[name], a[name], atol=1e-6, rtol=0, err_msg=name)


def _resumed_from(log):
    line = next(line for line in log.splitlines() if line.startswith("resumed from "))
    return int(line.rsplit("at step ", 1)[1])


def test_killed_and_resumed_run_equals_the_uninterrupted_run(sort_data, tmp_path):
    def flags(out):
        return ["--problem=algorithmic_sort_problem", "--model=transformer", "--hparams_set=transformer_test",
                "--hparams=self_attention_type=sinkhorn,max_length=24", f"--data_dir={sort_data}",
                f"--output_dir={out}", f"--train_steps={STEPS}", f"--local_eval_frequency={SAVE_EVERY}",
                "--log_step_count_steps=5", "--schedule=train", "--random_seed=7"]

    a_dir, b_dir = str(tmp_path / "a"), str(tmp_path / "b")
    first = run_tool("t2t-trainer", *flags(a_dir))
    assert first.returncode == 0, first.stderr[-3000:]
    log = tmp_path / "b.log"
    _kill_after(lambda: start_tool("t2t-trainer", *flags(b_dir), log_path=log), log, f"step {KILL_AFTER}/{STEPS}")
    resumed = run_tool("t2t-trainer", *flags(b_dir))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert _resumed_from(resumed.stdout) in (10, 20), resumed.stdout  # the work after it was lost and redone
    _assert_same_weights(a_dir, b_dir)
    again = run_tool("t2t-trainer", *flags(str(tmp_path / "c")))  # determinism: the same command twice
    assert again.returncode == 0, again.stderr[-3000:]
    _assert_same_weights(a_dir, str(tmp_path / "c"))


MIRRORED = textwrap.dedent("""
    import sys
    import sinkhorn_t2t
    import keras
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    keras.utils.set_random_seed(11)
    tf.config.experimental.enable_op_determinism()
    from sinkhorn_t2t import registry
    from sinkhorn_t2t.problems.algorithmic import AlgorithmicSortProblem
    from sinkhorn_t2t.training.trainer import Trainer

    data_dir, output_dir, steps, save_every = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    hp = registry.hparams("transformer_test")
    hp.override_from_dict(dict(self_attention_type="sinkhorn", max_length=24, batch_size=128))
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    trainer = Trainer(AlgorithmicSortProblem(), "transformer", hp, data_dir, output_dir, strategy, seed=11,
                      log=lambda s: print(s, flush=True))
    trainer.train(steps, save_every=save_every, log_every=5)
""")


def test_killed_and_resumed_run_equals_the_uninterrupted_run_under_mirrored_strategy(sort_data, tmp_path):
    def command(out):
        return [sys.executable, "-c", MIRRORED, sort_data, out, str(STEPS), str(SAVE_EVERY)]

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")
    a_dir, b_dir = str(tmp_path / "a"), str(tmp_path / "b")
    first = subprocess.run(command(a_dir), capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    log = tmp_path / "b.log"

    def start():
        return subprocess.Popen(command(b_dir), stdout=open(log, "w"), stderr=subprocess.STDOUT, cwd=ROOT, env=env)

    _kill_after(start, log, f"step {KILL_AFTER}/{STEPS}")
    resumed = subprocess.run(command(b_dir), capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert _resumed_from(resumed.stdout) in (10, 20), resumed.stdout
    _assert_same_weights(a_dir, b_dir)
