"""t2t-trainer: train (and evaluate) a registered model on a registered problem."""
import json
import os

from sinkhorn_t2t import registry
from sinkhorn_t2t.bin import common
from sinkhorn_t2t.bin.common import FLAGS, UsageError
from sinkhorn_t2t.data.sources import UnsafeArchiveError
from sinkhorn_t2t.models.transformer import HParamsError
from sinkhorn_t2t.training.strategy import StrategyError, pick_strategy
from sinkhorn_t2t.training.trainer import Trainer


def build_trainer(for_training, train_steps=0):
    """Problem, hparams and Trainer from the flags (shared with t2t-eval and t2t-decoder)."""
    registry.load_builtins()
    common.require("output_dir")
    problem = common.lookup("problem", common.resolve("problem"), "problem")
    model_name = common.resolve("model")
    common.lookup("model", model_name, "model")
    output_dir = os.path.expanduser(FLAGS.output_dir)
    if for_training:
        common.ensure_dir(output_dir, "output_dir")
        if common.is_chief():
            common.lock_output_dir(output_dir)
    elif not os.path.isdir(output_dir):
        raise UsageError(f"--output_dir {output_dir} does not exist: train a model there first (t2t-trainer).")
    hparams = common.create_hparams(output_dir, for_training)
    if for_training and FLAGS.generate_data:
        common.require("data_dir")
        try:
            problem.generate_data(common.ensure_dir(FLAGS.data_dir, "data_dir"),
                                  common.ensure_dir(FLAGS.tmp_dir, "tmp_dir"))
        except (FileNotFoundError, UnsafeArchiveError) as err:
            raise UsageError(f"--generate_data for --problem={problem.name}: {err}") from None
    common.check_data_dir(problem)
    common.set_seed()
    _check_cluster_flags()
    try:
        strategy = pick_strategy(FLAGS.use_tpu, FLAGS.cloud_tpu_name, FLAGS.worker_gpu, tpu_zone=FLAGS.tpu_zone,
                                 gcp_project=FLAGS.gcp_project, collective_timeout=FLAGS.collective_timeout)
    except StrategyError as err:
        raise UsageError(str(err)) from None
    try:
        trainer = Trainer(problem, model_name, hparams, FLAGS.data_dir, output_dir, strategy,
                          fixed_shapes=FLAGS.use_tpu or FLAGS.xla_compile,
                          xla_compile=FLAGS.use_tpu or FLAGS.xla_compile,
                          keep_checkpoint_max=FLAGS.keep_checkpoint_max, seed=FLAGS.random_seed,
                          train_steps=train_steps, log=lambda s: print(s, flush=True),
                          iterations_per_loop=FLAGS.iterations_per_loop)
    except HParamsError as err:
        raise UsageError(f"--hparams_set/--hparams: {err}") from None
    if for_training and common.is_chief():
        common.save_run(output_dir, hparams)
    return trainer


def _check_cluster_flags():
    """T2T's cluster flags against `TF_CONFIG`, which is what sets up several workers here."""
    config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    cluster, task = config.get("cluster", {}), config.get("task", {})
    workers = len(cluster.get("worker", [])) + len(cluster.get("chief", []))
    see = "see docs/distributed.md"
    if FLAGS.ps_replicas:
        raise UsageError(f"--ps_replicas={FLAGS.ps_replicas}: parameter servers are not supported; workers all-reduce "
                         f"synchronously (MultiWorkerMirroredStrategy from TF_CONFIG); {see}.")
    if FLAGS.worker_replicas > 1 and FLAGS.worker_replicas != workers:
        raise UsageError(f"--worker_replicas={FLAGS.worker_replicas} but TF_CONFIG names {workers} worker(s): set "
                         f"TF_CONFIG's cluster on every worker; {see}.")
    if FLAGS["worker_id"].present and task and int(task.get("index", 0)) != FLAGS.worker_id:
        raise UsageError(f"--worker_id={FLAGS.worker_id} but TF_CONFIG's task index is {task.get('index')}; "
                         "drop --worker_id (TF_CONFIG decides).")
    if FLAGS["worker_job"].present and task and FLAGS.worker_job.rsplit(":", 1)[-1] != task.get("type"):
        raise UsageError(f"--worker_job={FLAGS.worker_job} but TF_CONFIG's task type is {task.get('type')!r}; "
                         "drop --worker_job (TF_CONFIG decides).")
    if FLAGS.iterations_per_loop < 1:
        raise UsageError(f"--iterations_per_loop must be >= 1, got {FLAGS.iterations_per_loop}.")
    if FLAGS.collective_timeout < 1:
        raise UsageError(f"--collective_timeout must be >= 1 second, got {FLAGS.collective_timeout}.")


def main():
    if FLAGS.train_steps <= 0:
        raise UsageError(f"--train_steps must be > 0, got {FLAGS.train_steps}.")
    if FLAGS.local_eval_frequency <= 0:
        raise UsageError(f"--local_eval_frequency must be > 0, got {FLAGS.local_eval_frequency}.")
    if FLAGS.keep_checkpoint_max < 2:
        raise UsageError(f"--keep_checkpoint_max must be >= 2 (an intact checkpoint to fall back to when the newest "
                         f"is damaged), got {FLAGS.keep_checkpoint_max}.")
    trainer = build_trainer(for_training=True, train_steps=FLAGS.train_steps)
    try:
        if FLAGS.schedule == "evaluate":
            if not trainer.restore(FLAGS.checkpoint_path):
                raise UsageError(f"--schedule=evaluate: no checkpoint in --output_dir {FLAGS.output_dir}.")
            trainer.evaluate(FLAGS.eval_steps, _eval_mode())
            return
        eval_every = FLAGS.local_eval_frequency if FLAGS.schedule == "continuous_train_and_eval" else None
        trainer.train(FLAGS.train_steps, save_every=FLAGS.local_eval_frequency,
                      log_every=FLAGS.log_step_count_steps, eval_every=eval_every, eval_steps=FLAGS.eval_steps)
        if FLAGS.schedule != "train":
            trainer.evaluate(FLAGS.eval_steps, _eval_mode())
    except FileNotFoundError as err:  # no data where --data_dir points (a corrupt record is a DataError: exit 1)
        raise UsageError(str(err)) from None


def _eval_mode():
    return "test" if FLAGS.eval_use_test_set else "eval"


def console_main():
    common.console_entry(main)


if __name__ == "__main__":
    console_main()
