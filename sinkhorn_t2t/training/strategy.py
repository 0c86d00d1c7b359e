"""Choosing the `tf.distribute` strategy from T2T's flags."""
import json
import os

import tensorflow as tf


class StrategyError(ValueError):
    """A flag combination that cannot give a strategy here; the message names the flag."""


def pick_strategy(use_tpu=False, cloud_tpu_name=None, worker_gpu=1, tf_config=None, tpu_zone=None, gcp_project=None,
                  collective_timeout=None):
    """TPUStrategy for `--use_tpu`, MultiWorkerMirroredStrategy when `TF_CONFIG` names several
    workers (collectives give up after `collective_timeout` seconds, so a lost worker is an
    error, not a hang), MirroredStrategy for `--worker_gpu > 1`, else the default (one CPU / GPU)."""
    tf_config = json.loads(os.environ.get("TF_CONFIG", "{}")) if tf_config is None else tf_config
    if use_tpu:
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=cloud_tpu_name or "", zone=tpu_zone,
                                                                         project=gcp_project)
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except Exception as err:  # resolver failures surface as URLError, ValueError, OpError, ...
            raise StrategyError(f"--use_tpu: cannot reach TPU {cloud_tpu_name or '(local)'!r} "
                                f"({str(err).splitlines()[0] if str(err) else type(err).__name__}); set "
                                "--cloud_tpu_name to a reachable TPU or drop --use_tpu.") from None
        return tf.distribute.TPUStrategy(resolver)
    cluster = tf_config.get("cluster", {})
    if len(cluster.get("worker", [])) + len(cluster.get("chief", [])) > 1:
        options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=collective_timeout)
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    if worker_gpu < 1:
        raise StrategyError(f"--worker_gpu must be >= 1, got {worker_gpu}.")
    if worker_gpu > 1:
        gpus = tf.config.list_logical_devices("GPU")
        if len(gpus) < worker_gpu:
            raise StrategyError(f"--worker_gpu={worker_gpu} but only {len(gpus)} GPU(s) are visible.")
        return tf.distribute.MirroredStrategy([g.name for g in gpus[:worker_gpu]])
    return tf.distribute.get_strategy()


def worker_role(strategy):
    """`(is_chief, workers, task)` of this process: only the chief writes the run's checkpoints
    and summaries; `task` names it in messages ("worker 1")."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True, 1, "chief"
    resolver = strategy.cluster_resolver
    spec = resolver.cluster_spec().as_dict()
    workers = len(spec.get("worker", [])) + len(spec.get("chief", []))
    chief = resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0
                                              and "chief" not in spec)
    return chief, workers, f"{resolver.task_type} {resolver.task_id}"


def strategy_name(strategy):
    """The public name of `strategy`'s class (TensorFlow's classes carry internal names)."""
    for cls, name in ((tf.distribute.TPUStrategy, "TPUStrategy"),
                      (tf.distribute.MultiWorkerMirroredStrategy, "MultiWorkerMirroredStrategy"),
                      (tf.distribute.MirroredStrategy, "MirroredStrategy")):
        if isinstance(strategy, cls):
            return name
    return "default strategy (one device)"
