"""Flags and set-up shared by t2t-datagen, t2t-trainer, t2t-decoder and t2t-eval.

The flag names and defaults are T2T's (`tensor2tensor/utils/flags.py`, `bin/t2t_trainer.py`).
A wrong or missing flag value ends the tool with one line naming the flag, exit code 2.
"""
import importlib
import json
import os
import sys
import tempfile

from absl import flags

import sinkhorn_t2t  # noqa: F401  (quiet TensorFlow import)
from sinkhorn_t2t import registry

FLAGS = flags.FLAGS

flags.DEFINE_string("t2t_usr_dir", None, "Folder (a Python package) whose __init__.py registers problems, models "
                    "and hparams sets.")
flags.DEFINE_string("problem", None, "Registered problem name.")
flags.DEFINE_string("model", None, "Registered model name (transformer, transformer_encoder).")
flags.DEFINE_string("hparams_set", None, "Registered hparams set.")
flags.DEFINE_string("hparams", "", "Comma-separated name=value overrides of the hparams set.")
flags.DEFINE_string("data_dir", None, "Directory of the generated TFRecords and vocabularies.")
flags.DEFINE_string("tmp_dir", os.path.join(tempfile.gettempdir(), "t2t_datagen"),
                    "Scratch directory for raw downloads / original files.")
flags.DEFINE_string("output_dir", None, "Model directory: checkpoints, hparams.json, summaries.")
flags.DEFINE_integer("train_steps", 250000, "Total number of training steps.")
flags.DEFINE_integer("eval_steps", 100, "Number of evaluation batches (<= 0: the whole split).")
flags.DEFINE_integer("local_eval_frequency", 1000, "Save a checkpoint (and evaluate) every this many steps.")
flags.DEFINE_integer("log_step_count_steps", 100, "Print progress every this many steps.")
flags.DEFINE_integer("keep_checkpoint_max", 20, "Checkpoints to keep.")
flags.DEFINE_enum("schedule", "continuous_train_and_eval",
                  ["train", "evaluate", "train_and_evaluate", "continuous_train_and_eval"], "What to run.")
flags.DEFINE_bool("generate_data", False, "Generate the problem's data into --data_dir before training.")
flags.DEFINE_bool("registry_help", False, "List every registered model, hparams set and problem, and exit.")
flags.DEFINE_integer("random_seed", None, "Random seed (TF, NumPy, Python).")
flags.DEFINE_bool("use_tpu", False, "Train on a TPU with TPUStrategy (static shapes, XLA).")
flags.DEFINE_bool("xla_compile", False, "Compile the training step with XLA (static shapes, as on TPU).")
flags.DEFINE_string("cloud_tpu_name", os.environ.get("USER", "") + "-tpu", "TPU name for TPUClusterResolver.")
flags.DEFINE_integer("worker_gpu", 1, "GPUs to train on (MirroredStrategy when > 1).")
flags.DEFINE_string("decode_hparams", "", "Decoding overrides: beam_size, alpha, extra_length, batch_size, "
                    "num_samples, max_decode_length, sampling_temp.")
flags.DEFINE_string("decode_from_file", None, "Decode the lines of this file.")
flags.DEFINE_string("decode_to_file", None, "Write decodes here.")
flags.DEFINE_string("checkpoint_path", None, "A specific checkpoint to evaluate / decode.")
flags.DEFINE_bool("eval_use_test_set", False, "Evaluate on the test split instead of dev.")
flags.DEFINE_bool("overwrite_hparams", False, "Replace a different hparams.json in --output_dir (the old "
                  "checkpoints must still match the model).")


class UsageError(Exception):
    """A bad flag value: printed as one line, exit code 2."""


def tool_name():
    return os.path.basename(sys.argv[0]) or "t2t"


def run(main, argv=None):
    """Parses flags and runs `main()`, turning usage errors into one line and exit code 2."""
    argv = list(sys.argv if argv is None else argv)
    try:
        FLAGS(argv)
    except flags.Error as err:
        print(f"{tool_name()}: error: {err}", file=sys.stderr)
        return 2
    try:
        if FLAGS.t2t_usr_dir:
            import_usr_dir(FLAGS.t2t_usr_dir)
        if FLAGS.registry_help:
            print(registry.help_string())
            return 0
        return main() or 0
    except UsageError as err:
        print(f"{tool_name()}: error: {err}", file=sys.stderr)
        return 2


def console_entry(main):
    """`console_scripts` entry point."""
    sys.exit(run(main))


def import_usr_dir(usr_dir):
    """T2T's `import_usr_dir`: imports the folder as a package named after its basename."""
    registry.load_builtins()
    path = os.path.abspath(os.path.expanduser(usr_dir.rstrip("/")))
    if not os.path.isfile(os.path.join(path, "__init__.py")):
        raise UsageError(f"--t2t_usr_dir {usr_dir!r} is not a Python package folder (it needs an __init__.py that "
                         "imports the modules registering your problems and hparams).")
    parent, name = os.path.split(path)
    if not name.isidentifier():
        raise UsageError(f"--t2t_usr_dir: the folder name {name!r} must be a valid Python package name.")
    sys.path.insert(0, parent)
    try:
        importlib.import_module(name)
    finally:
        sys.path.remove(parent)


def require(*names):
    for name in names:
        if not getattr(FLAGS, name):
            raise UsageError(f"--{name} is required.")


def lookup(kind, name, flag):
    """A registry lookup whose error names the flag."""
    try:
        return {"problem": registry.problem, "model": registry.model, "hparams": registry.hparams}[kind](name)
    except LookupError as err:
        raise UsageError(f"--{flag}: {err}") from None


def _differences(saved, current):
    keys = sorted(set(saved) | set(current))
    return [f"{k}: saved {saved.get(k)!r}, now {current.get(k)!r}" for k in keys if saved.get(k) != current.get(k)]


def create_hparams(output_dir, for_training):
    """The run's hparams: `--hparams_set` + `--hparams`, checked against (or loaded from)
    `output_dir/hparams.json`.

    Training saves them with `save_run` (hparams.json and run.json with problem / model); a later
    training run whose flags resolve to different values is an error instead of silently using
    the stale file.
    Evaluation and decoding use the saved file when there is one.
    """
    saved_path = os.path.join(output_dir, "hparams.json") if output_dir else None
    saved = None
    if saved_path and os.path.exists(saved_path):
        with open(saved_path) as f:
            saved = json.load(f)
    if FLAGS.hparams_set:
        hparams = lookup("hparams", FLAGS.hparams_set, "hparams_set")
    elif saved is not None and not for_training:
        from sinkhorn_t2t.hparam import HParams

        hparams = HParams(**saved)
    else:
        raise UsageError("--hparams_set is required.")
    try:
        hparams.parse(FLAGS.hparams)
    except ValueError as err:
        raise UsageError(f"--hparams: {err}") from None
    if saved is not None:
        diffs = _differences(saved, hparams.values())
        if diffs and not FLAGS.overwrite_hparams:
            raise UsageError(
                f"--output_dir {output_dir} was trained with other hparams ({'; '.join(diffs[:4])}"
                f"{'; ...' if len(diffs) > 4 else ''}): use a new --output_dir, or --overwrite_hparams.")
    if for_training:
        run_path = os.path.join(output_dir, "run.json")
        if os.path.exists(run_path) and not FLAGS.overwrite_hparams:
            with open(run_path) as f:
                diffs = _differences(json.load(f), _run_info())
            if diffs:
                raise UsageError(f"--output_dir {output_dir} belongs to another run ({'; '.join(diffs)}): use a new "
                                 "--output_dir.")
    return hparams


def _run_info():
    return {"problem": FLAGS.problem, "model": FLAGS.model, "hparams_set": FLAGS.hparams_set}


def save_run(output_dir, hparams):
    """Writes hparams.json and run.json (problem, model, hparams_set) into output_dir."""
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, "hparams.json"), "w") as f:
        f.write(hparams.to_json(indent=1))
    with open(os.path.join(output_dir, "run.json"), "w") as f:
        json.dump(_run_info(), f, indent=1)


def saved_run_value(output_dir, name):
    """`problem` / `model` from `output_dir/run.json`, for tools run without those flags."""
    path = os.path.join(output_dir or "", "run.json")
    if output_dir and os.path.exists(path):
        with open(path) as f:
            return json.load(f).get(name)
    return None


def resolve(name):
    """The flag's value, else the value saved by training in --output_dir; required either way."""
    value = getattr(FLAGS, name) or saved_run_value(FLAGS.output_dir, name)
    if not value:
        raise UsageError(f"--{name} is required.")
    return value


def check_data_dir(problem):
    if not FLAGS.data_dir:
        raise UsageError("--data_dir is required.")
    if not os.path.isdir(os.path.expanduser(FLAGS.data_dir)):
        raise UsageError(f"--data_dir {FLAGS.data_dir} does not exist: run t2t-datagen --problem={problem.name} "
                         f"--data_dir={FLAGS.data_dir} first, or pass --generate_data.")


def set_seed():
    if FLAGS.random_seed is not None:
        import keras

        keras.utils.set_random_seed(FLAGS.random_seed)
