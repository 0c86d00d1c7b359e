"""Two `t2t-trainer` worker processes on 127.0.0.1 under `TF_CONFIG` train one model with
MultiWorkerMirroredStrategy: both end with identical weights, only the chief writes the run's
checkpoints (the other's temporary folder is removed), and a killed worker makes the other stop
with a clear error within the collective timeout instead of hanging."""
import json
import os
import signal
import socket
import subprocess
import time

import tensorflow as tf

from tests.bin.tools import BIN, ROOT


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _start_workers(tmp_path, sort_data, steps, extra=()):
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    procs = []
    for index in range(2):
        temp = tmp_path / f"tmp{index}"
        temp.mkdir()
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1", TMPDIR=str(temp),
                   TF_CONFIG=json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}))
        flags = ["--problem=algorithmic_sort_problem", "--model=transformer", "--hparams_set=transformer_test",
                 "--hparams=self_attention_type=sinkhorn,max_length=24", f"--data_dir={sort_data}",
                 f"--output_dir={tmp_path / 'model'}", f"--train_steps={steps}", "--local_eval_frequency=4",
                 "--log_step_count_steps=2", "--schedule=train", "--random_seed=5", "--worker_replicas=2", *extra]
        log = open(tmp_path / f"worker{index}.log", "w")
        procs.append(subprocess.Popen([os.path.join(BIN, "t2t-trainer"), *flags], stdout=log,
                                      stderr=subprocess.STDOUT, env=env, cwd=ROOT))
    return procs


def _log(tmp_path, index):
    return (tmp_path / f"worker{index}.log").read_text()


def test_two_workers_train_one_model(sort_data, tmp_path):
    procs = _start_workers(tmp_path, sort_data, steps=8)
    try:
        codes = [p.wait(timeout=480) for p in procs]
    finally:
        for p in procs:
            p.kill()
    logs = [_log(tmp_path, i) for i in range(2)]
    assert codes == [0, 0], logs[0][-3000:] + logs[1][-3000:]
    for log in logs:
        assert "strategy MultiWorkerMirroredStrategy: 2 worker(s), 2 replica(s) in sync" in log
        assert "step 8/8" in log
    fingerprints = [next(line for line in log.splitlines() if "final weights fingerprint" in line) for log in logs]
    assert fingerprints[0] == fingerprints[1]  # identical weights on both workers
    assert tf.train.latest_checkpoint(str(tmp_path / "model")).endswith("ckpt-8")  # the chief's, the run's only
    assert "this process is the worker 0" in logs[0] and "this process is the worker 1" in logs[1]
    saved_to = logs[1].split("worker 1 saves its checkpoints to ", 1)[1].split()[0]
    assert saved_to.startswith(str(tmp_path / "tmp1")) and not os.path.exists(saved_to)  # removed at the end
    assert "saves its checkpoints to" not in logs[0]  # the chief writes into --output_dir


def test_a_killed_worker_stops_the_other_with_a_clear_error(sort_data, tmp_path):
    procs = _start_workers(tmp_path, sort_data, steps=100000, extra=["--collective_timeout=60"])
    try:
        deadline = time.time() + 300
        while "step 4/" not in _log(tmp_path, 0):
            assert time.time() < deadline and procs[0].poll() is None, _log(tmp_path, 0)[-3000:]
            time.sleep(0.2)
        procs[1].send_signal(signal.SIGKILL)
        killed = time.time()
        code = procs[0].wait(timeout=180)
        waited = time.time() - killed
    finally:
        for p in procs:
            p.kill()
    log = _log(tmp_path, 0)
    assert code == 1, log[-3000:]
    assert "another worker stopped answering" in log and "restart every worker" in log, log[-3000:]
    assert "Traceback" not in log
    assert waited < 150, waited  # the collective timeout (60 s) plus shutdown, never a hang
