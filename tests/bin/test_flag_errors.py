"""A wrong or missing flag value: one line naming the flag, exit code 2, no traceback."""
import pytest

from tests.bin.tools import run_tool

GOOD = ["--problem=algorithmic_sort_problem", "--model=transformer", "--hparams_set=transformer_test",
        "--data_dir=/nonexistent_data_dir", "--output_dir=/tmp/t2t_flag_errors_model"]


def _replace(flag, value):
    return [a for a in GOOD if not a.startswith(f"--{flag}=")] + ([f"--{flag}={value}"] if value is not None else [])


@pytest.mark.parametrize("tool,args,needle", [
    ("t2t-trainer", _replace("problem", "algorithmic_sort_problm"), "--problem"),
    ("t2t-trainer", _replace("model", "transformr"), "--model"),
    ("t2t-trainer", _replace("hparams_set", "transformer_tset"), "--hparams_set"),
    ("t2t-trainer", _replace("hparams", "hiden_size=3"), "--hparams"),
    ("t2t-trainer", _replace("hparams", "hidden_size=abc"), "--hparams"),
    ("t2t-trainer", GOOD, "--data_dir"),
    ("t2t-trainer", _replace("output_dir", None), "--output_dir"),
    ("t2t-trainer", GOOD + ["--train_steps=abc"], "--train_steps"),
    ("t2t-trainer", GOOD + ["--train_steps=0"], "--train_steps"),
    ("t2t-trainer", GOOD + ["--schedule=forever"], "--schedule"),
    ("t2t-trainer", GOOD + ["--no_such_flag=1"], "no_such_flag"),
    ("t2t-trainer", GOOD + ["--t2t_usr_dir=/nonexistent/usr"], "--t2t_usr_dir"),
    ("t2t-trainer", _replace("data_dir", "/tmp") + ["--worker_gpu=2"], "--worker_gpu"),
    ("t2t-trainer", _replace("data_dir", "/tmp") + ["--use_tpu", "--cloud_tpu_name=no-such-tpu"], "--use_tpu"),
    ("t2t-datagen", ["--problem=nope*", "--data_dir=/tmp/x"], "--problem"),
    ("t2t-datagen", ["--data_dir=/tmp/x"], "--problem"),
    ("t2t-decoder", GOOD, "--data_dir"),
    ("t2t-eval", _replace("output_dir", None), "--output_dir"),
])
def test_bad_flags(tool, args, needle):
    result = run_tool(tool, *args, timeout=120)
    assert result.returncode == 2, (result.stdout[-2000:], result.stderr[-2000:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], result.stderr[-2000:]
    assert lines[0].startswith(f"{tool}: error:")
