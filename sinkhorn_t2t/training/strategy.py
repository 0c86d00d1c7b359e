"""Choosing the `tf.distribute` strategy from T2T's flags."""
import json
import os

import tensorflow as tf


class StrategyError(ValueError):
    """A flag combination that cannot give a strategy here; the message names the flag."""


def pick_strategy(use_tpu=False, cloud_tpu_name=None, worker_gpu=1, tf_config=None):
    """TPUStrategy for `--use_tpu`, MultiWorkerMirroredStrategy when `TF_CONFIG` names several
    workers, MirroredStrategy for `--worker_gpu > 1`, else the default (one CPU / GPU)."""
    tf_config = json.loads(os.environ.get("TF_CONFIG", "{}")) if tf_config is None else tf_config
    if use_tpu:
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=cloud_tpu_name or "")
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except Exception as err:  # resolver failures surface as URLError, ValueError, OpError, ...
            raise StrategyError(f"--use_tpu: cannot reach TPU {cloud_tpu_name or '(local)'!r} "
                                f"({str(err).splitlines()[0] if str(err) else type(err).__name__}); set "
                                "--cloud_tpu_name to a reachable TPU or drop --use_tpu.") from None
        return tf.distribute.TPUStrategy(resolver)
    workers = tf_config.get("cluster", {}).get("worker", [])
    if len(workers) > 1:
        return tf.distribute.MultiWorkerMirroredStrategy()
    if worker_gpu < 1:
        raise StrategyError(f"--worker_gpu must be >= 1, got {worker_gpu}.")
    if worker_gpu > 1:
        gpus = tf.config.list_logical_devices("GPU")
        if len(gpus) < worker_gpu:
            raise StrategyError(f"--worker_gpu={worker_gpu} but only {len(gpus)} GPU(s) are visible.")
        return tf.distribute.MirroredStrategy([g.name for g in gpus[:worker_gpu]])
    return tf.distribute.get_strategy()
