"""Mistakes and accidents of real runs, through the console scripts: every one ends in one clear
line (no traceback), a damaged checkpoint falls back to an intact one, two trainers never share an
output dir."""
import hashlib
import os
import shutil
import signal
import time

import pytest

from tests.bin.tools import ROOT, run_tool, start_tool

USR_DIR = os.path.join(ROOT, "examples", "my_usr_dir")
USR = "--t2t_usr_dir=" + USR_DIR
PROBLEM = [USR, "--problem=algorithmic_reverse_tiny", "--model=transformer",
           "--hparams_set=my_sinkhorn_tiny"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A data dir and a model dir holding checkpoints ckpt-2 and ckpt-4."""
    root = tmp_path_factory.mktemp("accidents")
    data, model = root / "data", root / "model"
    result = run_tool("t2t-datagen", *PROBLEM[:2], f"--data_dir={data}", f"--tmp_dir={root / 'tmp'}")
    assert result.returncode == 0, result.stderr[-2000:]
    result = run_tool("t2t-trainer", *PROBLEM, f"--data_dir={data}", f"--output_dir={model}", "--train_steps=4",
                      "--local_eval_frequency=2", "--schedule=train")
    assert result.returncode == 0, result.stderr[-2000:]
    assert os.path.exists(model / "ckpt-2.index") and os.path.exists(model / "ckpt-4.index")
    return data, model


def _copy(src, tmp_path, name):
    dst = tmp_path / name
    shutil.copytree(src, dst)
    return dst


def _truncate(path):
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(size // 2)


def _corrupt_shard(data_dir, split):
    shard = sorted(p for p in os.listdir(data_dir) if f"-{split}-" in p)[0]
    path = os.path.join(data_dir, shard)
    with open(path, "r+b") as f:
        f.seek(os.path.getsize(path) // 2)
        f.write(b"\xff" * 64)
    return shard


def _damage(model, how):
    """Damages the newest checkpoint (ckpt-4), or all of them."""
    if how == "truncated data file":
        _truncate(model / "ckpt-4.data-00000-of-00001")
    elif how == "missing index file":
        os.remove(model / "ckpt-4.index")
    elif how == "pointer to a missing checkpoint":
        (model / "checkpoint").write_text('model_checkpoint_path: "ckpt-6"\n'
                                          'all_model_checkpoint_paths: "ckpt-2"\n'
                                          'all_model_checkpoint_paths: "ckpt-4"\n'
                                          'all_model_checkpoint_paths: "ckpt-6"\n')
        _truncate(model / "ckpt-4.data-00000-of-00001")
    else:
        for step in (2, 4):
            _truncate(model / f"ckpt-{step}.data-00000-of-00001")


def _usr_dir_with_a_bug(tmp_path):
    package = tmp_path / "buggy_usr"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from sinkhorn_t2t.problems.algorithmic import AlgorithmicProblem\n"
        "from sinkhorn_t2t.registry import register_problem\n\n\n"
        "@register_problem\nclass BuggyProblem(AlgorithmicProblem):\n"
        "    def generator(self, nbr_symbols, max_length, nbr_cases, rng):\n"
        "        raise RuntimeError('bug in my generator')\n")
    return str(package)


def _below_a_file(tmp_path):
    (tmp_path / "a_file").write_text("not a folder")
    return str(tmp_path / "a_file" / "sub")


def _input_file(tmp_path, text):
    path = tmp_path / "in.txt"
    path.write_text(text)
    return f"--decode_from_file={path}"


# (tool, arguments built from (data, model, tmp_path), exit code, words the one line must hold)
CASES = {
    "datagen: --data_dir below a file": (
        "t2t-datagen", lambda d, m, t: [*PROBLEM[:2], f"--data_dir={_below_a_file(t)}"], 2,
        ["--data_dir", "cannot be created", "is a file"]),
    "datagen: --tmp_dir below a file": (
        "t2t-datagen", lambda d, m, t: [*PROBLEM[:2], f"--data_dir={t / 'd'}", f"--tmp_dir={_below_a_file(t)}"], 2,
        ["--tmp_dir", "cannot be created"]),
    "datagen: a bug in the user's generator": (
        "t2t-datagen", lambda d, m, t: [f"--t2t_usr_dir={_usr_dir_with_a_bug(t)}", "--problem=buggy_problem",
                                        f"--data_dir={t / 'd'}"], 1,
        ["internal error", "RuntimeError", "bug in my generator", "full traceback in"]),
    "trainer: --output_dir below a file": (
        "t2t-trainer", lambda d, m, t: [*PROBLEM, f"--data_dir={d}", f"--output_dir={_below_a_file(t)}"], 2,
        ["--output_dir", "cannot be created"]),
    "trainer: --keep_checkpoint_max=1": (
        "t2t-trainer", lambda d, m, t: [*PROBLEM, f"--data_dir={d}", f"--output_dir={t / 'm'}",
                                        "--keep_checkpoint_max=1"], 2, ["--keep_checkpoint_max", ">= 2"]),
    "trainer: corrupt train shard": (
        "t2t-trainer", lambda d, m, t: [*PROBLEM, f"--data_dir={_corrupt_copy(d, t, 'train')}",
                                        f"--output_dir={t / 'm'}", "--train_steps=2"], 1,
        ["corrupt record", "-train-", "t2t-datagen"]),
    "trainer: every checkpoint damaged": (
        "t2t-trainer", lambda d, m, t: [*PROBLEM, f"--data_dir={d}", f"--output_dir={_damaged(m, t, 'all')}",
                                        "--train_steps=6"], 1, ["no intact checkpoint", "ckpt-4", "ckpt-2",
                                                                "nothing was deleted"]),
    "trainer: out of memory": (  # on a dir with checkpoints: they stay as they were (checked below)
        "t2t-trainer", lambda d, m, t: [*PROBLEM, "--hparams=filter_size=1000000000", f"--data_dir={d}",
                                        f"--output_dir={_copy(m, t, 'model_copy')}", "--overwrite_hparams",
                                        "--train_steps=8"], 1, ["out of memory", "shape[", "batch_size"]),
    "eval: --output_dir never trained": (
        "t2t-eval", lambda d, m, t: [f"--data_dir={d}", f"--output_dir={t / 'never'}", *PROBLEM], 2,
        ["--output_dir", "does not exist"]),
    "eval: every checkpoint damaged": (
        "t2t-eval", lambda d, m, t: [USR, f"--data_dir={d}", f"--output_dir={_damaged(m, t, 'all')}"], 1,
        ["no intact checkpoint", "nothing was deleted"]),
    "eval: --checkpoint_path that does not exist": (
        "t2t-eval", lambda d, m, t: [USR, f"--data_dir={d}", f"--output_dir={m}", f"--checkpoint_path={m}/ckpt-9"], 1,
        ["ckpt-9", "index file is missing"]),
    "eval: corrupt dev shard": (
        "t2t-eval", lambda d, m, t: [USR, f"--data_dir={_corrupt_copy(d, t, 'dev')}", f"--output_dir={m}"], 1,
        ["corrupt record", "-dev-"]),
    "decoder: id outside the vocabulary": (
        "t2t-decoder", lambda d, m, t: [USR, f"--data_dir={d}", f"--output_dir={m}", _input_file(t, "5 3\n5 3 99 4\n")], 2,
        ["line 2", "id 99", "vocabulary of 10 ids", "0..7"]),
    "decoder: negative id": (
        "t2t-decoder", lambda d, m, t: [USR, f"--data_dir={d}", f"--output_dir={m}", _input_file(t, "5 3 -4 4\n")], 2,
        ["line 1", "id -4", "vocabulary"]),
    "decoder: text that is not ids": (
        "t2t-decoder", lambda d, m, t: [USR, f"--data_dir={d}", f"--output_dir={m}", _input_file(t, "\n\n5 x 4\n")], 2,
        ["line 3", "cannot encode"]),
    "decoder: empty input file": (
        "t2t-decoder", lambda d, m, t: [USR, f"--data_dir={d}", f"--output_dir={m}", _input_file(t, "\n  \n")], 2,
        ["--decode_from_file", "is empty"]),
    "decoder: missing input file": (
        "t2t-decoder", lambda d, m, t: [USR, f"--data_dir={d}", f"--output_dir={m}", f"--decode_from_file={t}/nope.txt"], 2,
        ["--decode_from_file", "No such file"]),
    "decoder: --decode_to_file below a file": (
        "t2t-decoder", lambda d, m, t: [USR, f"--data_dir={d}", f"--output_dir={m}", _input_file(t, "5 3\n"),
                                        f"--decode_to_file={_below_a_file(t)}/out.txt"], 2,
        ["--decode_to_file", "cannot be created"]),
    "decoder: every checkpoint damaged": (
        "t2t-decoder", lambda d, m, t: [USR, f"--data_dir={d}", f"--output_dir={_damaged(m, t, 'all')}",
                                        _input_file(t, "5 3\n")], 1, ["no intact checkpoint"]),
}


def _checkpoint_files(root):
    """{path: md5} of every checkpoint file (and `checkpoint` pointer) below `root`."""
    return {os.path.join(r, f): hashlib.md5(open(os.path.join(r, f), "rb").read()).hexdigest()
            for r, _, files in os.walk(root) for f in files if "ckpt" in f or f == "checkpoint"}


def _corrupt_copy(data, tmp_path, split):
    copy = _copy(data, tmp_path, "data_copy")
    _corrupt_shard(copy, split)
    return copy


def _damaged(model, tmp_path, how):
    copy = _copy(model, tmp_path, "model_copy")
    _damage(copy, how)
    return copy


@pytest.mark.parametrize("case", sorted(CASES))
def test_one_clear_line(trained, tmp_path, case):
    tool, make_args, code, words = CASES[case]
    data, model = trained
    args = make_args(data, model, tmp_path)
    before = _checkpoint_files(tmp_path)
    result = run_tool(tool, *args, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == code, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{tool}: "), output[-3000:]
    for word in words:
        assert word in lines[0], (word, lines[0])
    if "checkpoint damaged" in case or "out of memory" in case:  # nothing deleted or changed
        assert before and _checkpoint_files(tmp_path) == before
    if "full traceback in" in words:
        log = lines[0].split("full traceback in ", 1)[1].rstrip(")")
        assert "Traceback" in open(log).read() and "bug in my generator" in open(log).read()


@pytest.mark.parametrize("how", ["truncated data file", "missing index file", "pointer to a missing checkpoint"])
def test_damaged_newest_checkpoint_falls_back(trained, tmp_path, how):
    """Every kind of damage through the trainer, which resumes from the checkpoint before; one of
    them through t2t-eval and t2t-decoder too (the tools share the trainer's restore)."""
    data, model = trained
    model = _copy(model, tmp_path, "model")
    _damage(model, how)
    if how == "missing index file":
        _check_eval_and_decode_fall_back(data, model, tmp_path)
    train = run_tool("t2t-trainer", *PROBLEM, f"--data_dir={data}", f"--output_dir={model}", "--train_steps=6",
                     "--local_eval_frequency=2", "--schedule=train")
    assert train.returncode == 0, train.stderr[-3000:]
    assert "falling back" in train.stdout and "at step 2" in train.stdout and "step 6/6" in train.stdout
    assert os.path.getsize(model / "ckpt-6.index") > 0


def _check_eval_and_decode_fall_back(data, model, tmp_path):
    evaluation = run_tool("t2t-eval", USR, f"--data_dir={data}", f"--output_dir={model}", "--eval_steps=1")
    assert evaluation.returncode == 0, evaluation.stderr[-3000:]
    assert "falling back" in evaluation.stdout and "ckpt-2" in evaluation.stdout
    assert "eval at step 2 " in evaluation.stdout
    decode = run_tool("t2t-decoder", USR, f"--data_dir={data}", f"--output_dir={model}", _input_file(tmp_path, "5 3 4\n"))
    assert decode.returncode == 0 and "falling back" in decode.stdout and "OUTPUT:" in decode.stdout, decode.stderr


def test_two_trainers_never_share_an_output_dir(trained, tmp_path):
    data, _ = trained
    model = tmp_path / "model"
    flags = [*PROBLEM, f"--data_dir={data}", f"--output_dir={model}", "--local_eval_frequency=2",
             "--log_step_count_steps=1", "--schedule=train"]
    first = start_tool("t2t-trainer", *flags, "--train_steps=100000", log_path=tmp_path / "first.log")
    try:
        deadline = time.time() + 240
        while "step 2/" not in (tmp_path / "first.log").read_text() and time.time() < deadline:
            assert first.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
            time.sleep(0.5)
        second = run_tool("t2t-trainer", *flags, "--train_steps=100000", timeout=120)
        assert second.returncode == 1, second.stderr[-3000:]
        line = second.stderr.strip().splitlines()
        assert len(line) == 1 and "in use by another t2t-trainer" in line[0] and f"pid {first.pid}" in line[0]
        assert first.poll() is None  # the first run goes on
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    resumed = run_tool("t2t-trainer", *flags, "--train_steps=4")  # the killed run's lock is taken over
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "taking over --output_dir" in resumed.stdout and f"pid {first.pid}" in resumed.stdout
