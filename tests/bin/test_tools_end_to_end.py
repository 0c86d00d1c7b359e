"""datagen -> train -> eval -> decode through the real console scripts, on tiny settings."""
import json
import os
import re
import signal
import time

import pytest
import tensorflow as tf

from tests.bin.tools import metrics_from, run_tool, start_tool

TINY = "transformer_test"
# Dense attention and the kinds that sort blocks (which change what the tools do: long examples
# dropped, Gumbel noise off in evaluation). Local and sparse attention train, evaluate and decode
# through the same paths; the quick studies (tests/experiments) train and evaluate them and
# tests/training/test_fast_decoding.py decodes them.
KINDS = ["dot_product", "sinkhorn", "sinkhorn_mixture", "sortcut"]


def _common(data_dir, output_dir, kind="sinkhorn", hparams=""):
    extra = f",{hparams}" if hparams else ""
    return ["--problem=algorithmic_sort_problem", "--model=transformer", f"--hparams_set={TINY}",
            f"--hparams=self_attention_type={kind},max_length=24{extra}", f"--data_dir={data_dir}",
            f"--output_dir={output_dir}"]


@pytest.mark.parametrize("kind", KINDS)
def test_datagen_train_eval_decode(sort_data, tmp_path, kind):
    common = _common(sort_data, str(tmp_path / "model"), kind)
    train = run_tool("t2t-trainer", *common, "--train_steps=4", "--local_eval_frequency=2",
                     "--log_step_count_steps=2", "--eval_steps=2", "--random_seed=3")
    assert train.returncode == 0, train.stderr[-3000:]
    assert "step 4/4" in train.stdout and "steps/s" in train.stdout and "ETA" in train.stdout
    trained = metrics_from(train.stdout)
    assert {"accuracy", "accuracy_per_sequence", "edit_distance", "neg_log_perplexity"} <= set(trained)
    assert tf.train.latest_checkpoint(str(tmp_path / "model")).endswith("ckpt-4")
    assert os.path.isdir(tmp_path / "model" / "train") and os.path.isdir(tmp_path / "model" / "eval")
    _check_eval_reproduces(sort_data, tmp_path, trained)
    decode = run_tool("t2t-decoder", *common, "--decode_hparams=num_samples=3,max_decode_length=12")
    assert decode.returncode == 0, decode.stderr[-3000:]
    assert decode.stdout.count("OUTPUT:") == 3 and "decode_exact_match = " in decode.stdout


def _check_eval_reproduces(sort_data, tmp_path, trained):
    evaluation = run_tool("t2t-eval", f"--output_dir={tmp_path / 'model'}", f"--data_dir={sort_data}", "--eval_steps=2")
    assert evaluation.returncode == 0, evaluation.stderr[-3000:]
    evaluated = metrics_from(evaluation.stdout)
    # The same checkpoint on the same eval batches: t2t-eval reproduces the trainer's step-4 evaluation.
    for name in ("accuracy", "accuracy_per_sequence", "edit_distance", "neg_log_perplexity"):
        assert evaluated[name] == pytest.approx(trained[name], abs=1e-5), name
    assert 0.0 < evaluated["edit_distance"] and evaluated["accuracy_per_sequence"] < 1.0  # 4 steps: not yet sorted


def test_beam_search_and_decoding_from_a_file(sort_data, tmp_path):
    common = _common(sort_data, str(tmp_path / "model"))
    assert run_tool("t2t-trainer", *common, "--train_steps=2", "--schedule=train").returncode == 0
    source, target = tmp_path / "in.txt", tmp_path / "out.txt"
    source.write_text("3 1 2\n9 0 4 4 7\n")
    result = run_tool("t2t-decoder", *common, f"--decode_from_file={source}", f"--decode_to_file={target}",
                      "--decode_hparams=beam_size=3,alpha=0.6,max_decode_length=10")
    assert result.returncode == 0, result.stderr[-3000:]
    lines = target.read_text().splitlines()
    assert len(lines) == 2 and all(all(tok.isdigit() or tok == "<pad>" for tok in line.split()) for line in lines)
    bad = tmp_path / "bad.txt"
    bad.write_text("not numbers\n")
    result = run_tool("t2t-decoder", *common, f"--decode_from_file={bad}")
    assert result.returncode == 2 and "--decode_from_file" in result.stderr


def test_resume_after_sigkill_keeps_step_and_optimizer_state(sort_data, tmp_path):
    model_dir = tmp_path / "model"
    args = [*_common(sort_data, str(model_dir), "sinkhorn"), "--train_steps=100000", "--local_eval_frequency=15",
            "--log_step_count_steps=5", "--schedule=train"]
    proc = start_tool("t2t-trainer", *args, log_path=tmp_path / "first.log")
    try:
        deadline = time.time() + 300
        while time.time() < deadline:
            latest = tf.train.latest_checkpoint(str(model_dir))
            if latest and int(latest.rsplit("-", 1)[1]) >= 30:
                break
            time.sleep(0.5)
        else:
            pytest.fail("no checkpoint at step >= 30:\n" + (tmp_path / "first.log").read_text()[-3000:])
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    killed_at = tf.train.latest_checkpoint(str(model_dir))
    step = int(killed_at.rsplit("-", 1)[1])
    reader = tf.train.load_checkpoint(killed_at)
    assert reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE") == step
    assert reader.get_tensor("optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE") == step
    resumed = run_tool("t2t-trainer", *args[:-4], f"--train_steps={step + 10}", "--local_eval_frequency=5",
                       "--log_step_count_steps=5", "--schedule=train")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resumed from {killed_at} at step {step}" in resumed.stdout
    assert f"step {step + 5}/{step + 10}" in resumed.stdout
    final = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(model_dir)))
    assert final.get_tensor("optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE") == step + 10


USR_DIR_PROBLEM = '''
from sinkhorn_t2t.hparams.transformer import transformer_test
from sinkhorn_t2t.problems.algorithmic import AlgorithmicProblem
from sinkhorn_t2t.registry import register_hparams, register_problem


@register_problem
class AlgorithmicCopyTiny(AlgorithmicProblem):
    train_length = 6
    dev_length = 6
    train_size = 200
    dev_size = 20
    num_shards = 1

    def generator(self, nbr_symbols, max_length, nbr_cases, rng):
        for _ in range(nbr_cases):
            inputs = [rng.randrange(nbr_symbols) for _ in range(rng.randint(1, max_length))]
            yield {"inputs": inputs, "targets": list(inputs)}


@register_hparams
def copy_tiny_hparams():
    hp = transformer_test()
    hp.max_length = 8
    return hp
'''


def test_user_dir_registration_from_a_temp_folder(tmp_path):
    usr = tmp_path / "my_t2t_usr"
    usr.mkdir()
    (usr / "__init__.py").write_text("from . import problem_def  # noqa\n")
    (usr / "problem_def.py").write_text(USR_DIR_PROBLEM)
    listing = run_tool("t2t-trainer", f"--t2t_usr_dir={usr}", "--registry_help")
    assert listing.returncode == 0 and "algorithmic_copy_tiny" in listing.stdout and "copy_tiny_hparams" in listing.stdout
    data, model = tmp_path / "data", tmp_path / "model"
    result = run_tool("t2t-trainer", f"--t2t_usr_dir={usr}", "--problem=algorithmic_copy_tiny", "--model=transformer",
                      "--hparams_set=copy_tiny_hparams", "--generate_data", f"--data_dir={data}",
                      f"--tmp_dir={tmp_path / 'tmp'}", f"--output_dir={model}", "--train_steps=2", "--eval_steps=1")
    assert result.returncode == 0, result.stderr[-3000:]
    assert os.path.exists(data / "algorithmic_copy_tiny-train-00000-of-00001")
    assert json.load(open(model / "run.json"))["problem"] == "algorithmic_copy_tiny"


def test_the_documented_example_usr_dir_registers():
    listing = run_tool("t2t-trainer", "--t2t_usr_dir=examples/my_usr_dir", "--registry_help")
    assert listing.returncode == 0 and "algorithmic_reverse_tiny" in listing.stdout
    assert "my_sinkhorn_tiny" in run_tool("t2t-datagen", "--t2t_usr_dir=t2t_usr_dir", "--t2t_usr_dir=examples/my_usr_dir",
                                          "--registry_help").stdout


def _write_t2t_records(path, examples):
    with tf.io.TFRecordWriter(str(path)) as writer:
        for inputs, targets in examples:
            features = {"inputs": tf.train.Feature(int64_list=tf.train.Int64List(value=inputs)),
                        "targets": tf.train.Feature(int64_list=tf.train.Int64List(value=targets))}
            writer.write(tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString())


def test_a_data_dir_in_t2t_layout_trains(tmp_path):
    """Records written here with tf.train.Example exactly as T2T's datagen names and fills them."""
    data = tmp_path / "t2t_data"
    data.mkdir()
    examples = [([5, 3, 4, 1], [3, 4, 5, 1]), ([9, 2, 1], [2, 9, 1]), ([7, 7, 6, 1], [6, 7, 7, 1])] * 30
    for shard in range(2):
        _write_t2t_records(data / f"algorithmic_sort_problem-train-{shard:05d}-of-00002", examples)
    _write_t2t_records(data / "algorithmic_sort_problem-dev-00000-of-00001", examples[:9])
    result = run_tool("t2t-trainer", *_common(str(data), str(tmp_path / "model")), "--train_steps=3", "--eval_steps=2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "accuracy" in metrics_from(result.stdout)


def test_corrupt_record_is_a_clear_error(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "algorithmic_sort_problem-train-00000-of-00001").write_bytes(b"\x00garbage" * 100)
    (data / "algorithmic_sort_problem-dev-00000-of-00001").write_bytes(b"\x00garbage" * 100)
    result = run_tool("t2t-trainer", *_common(str(data), str(tmp_path / "model")), "--train_steps=2")
    assert result.returncode == 1
    assert "corrupt record in" in result.stderr and "algorithmic_sort_problem-train-00000-of-00001" in result.stderr
    assert "t2t-datagen" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_xla_compiled_training_with_static_shapes(sort_data, tmp_path):
    result = run_tool("t2t-trainer", *_common(sort_data, str(tmp_path / "model")), "--xla_compile",
                      "--train_steps=3", "--log_step_count_steps=1", "--schedule=train")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "step 3/3" in result.stdout
    # max_length 24 with T2T's min_length_bucket 8: 8 x (1, 5/4, 3/2, 7/4), 16 x (1, 5/4) and 24.
    assert ("fixed shapes: 1 step(s) per XLA program, one compilation per bucket length [8, 10, 12, 14, 16, 20, 24]"
            in result.stdout)
    # Each bucket length the data reached is compiled once, on its first host call.
    compiled = re.findall(r"bucket length (\d+): XLA program compiled on its first host call \(steps (\d+)-", result.stdout)
    lengths = [int(length) for length, _ in compiled]
    assert compiled and len(set(lengths)) == len(lengths) and set(lengths) <= {8, 10, 12, 14, 16, 20, 24}
    assert compiled[0][1] == "1"


def test_changed_hparams_for_an_existing_output_dir_are_reported(sort_data, tmp_path):
    common = _common(sort_data, str(tmp_path / "model"))
    assert run_tool("t2t-trainer", *common, "--train_steps=1", "--schedule=train").returncode == 0
    changed = [*common[:3], "--hparams=self_attention_type=sinkhorn,max_length=24,num_heads=4", *common[4:]]
    result = run_tool("t2t-trainer", *changed, "--train_steps=2", "--schedule=train")
    assert result.returncode == 2 and "num_heads: saved 2, now 4" in result.stderr


@pytest.mark.parametrize("kind", ["sinkhorn", "dot_product"])
def test_evaluation_of_examples_longer_than_the_model(sort_data, tmp_path, kind):
    """Dev examples (up to 21 ids) longer than max_length=16: fixed-length attention (Sinkhorn,
    SortCut) drops them from evaluation and says how many; dense and local attention keep them."""
    common = ["--problem=algorithmic_sort_problem", "--model=transformer", f"--hparams_set={TINY}",
              f"--hparams=self_attention_type={kind},max_length=16", f"--data_dir={sort_data}",
              f"--output_dir={tmp_path / 'model'}"]
    train = run_tool("t2t-trainer", *common, "--train_steps=2", "--local_eval_frequency=2", "--eval_steps=0")
    assert train.returncode == 0, train.stderr[-3000:]
    dropped = "examples are longer than the model's length 16: dropped from evaluation" in train.stdout
    assert dropped == (kind == "sinkhorn"), train.stdout[-2000:]
    assert "accuracy" in metrics_from(train.stdout)
    source = tmp_path / "in.txt"
    source.write_text(" ".join(["3"] * 30) + "\n")
    decode = run_tool("t2t-decoder", *common, f"--decode_from_file={source}",
                      "--decode_hparams=max_decode_length=4")
    assert decode.returncode == 0, decode.stderr[-3000:]
    assert "line 1 has 31 ids, more than the model's length 16: cut to 16" in decode.stderr
    assert "OUTPUT:" in decode.stdout
