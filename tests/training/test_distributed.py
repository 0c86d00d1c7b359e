"""The distributed code path: MirroredStrategy over two logical CPU devices (in a subprocess,
because logical devices must be configured before TensorFlow initialises)."""
import os
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SCRIPT = textwrap.dedent("""
    import sys
    import sinkhorn_t2t
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from sinkhorn_t2t import registry
    from sinkhorn_t2t.problems.algorithmic import AlgorithmicSortProblem
    from sinkhorn_t2t.training.trainer import Trainer

    class SmallSort(AlgorithmicSortProblem):
        train_size, dev_size, num_shards = 400, 40, 2

    data_dir, output_dir = sys.argv[1], sys.argv[2]
    problem = SmallSort()
    problem.generate_data(data_dir, data_dir)
    hp = registry.hparams("transformer_test")
    hp.override_from_dict(dict(self_attention_type="sinkhorn", max_length=24, batch_size=128))
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    trainer = Trainer(problem, "transformer", hp, data_dir, output_dir, strategy, log=print)
    assert strategy.num_replicas_in_sync == 2
    trainer.train(6, save_every=3, log_every=3)
    results = trainer.evaluate(2)
    print("REPLICAS", strategy.num_replicas_in_sync, "STEP", int(trainer.step.numpy()),
          "ITERATIONS", int(trainer.optimizer.iterations.numpy()), "ACC", results["accuracy"])
""")


def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "data"), str(tmp_path / "model")],
                            capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "REPLICAS 2 STEP 6 ITERATIONS 6" in result.stdout
