"""Flags and set-up shared by t2t-datagen, t2t-trainer, t2t-decoder and t2t-eval.

The flag names and defaults are T2T's (`tensor2tensor/utils/flags.py`, `bin/t2t_trainer.py`).
Every failure is one line on stderr: a wrong or missing flag value names the flag (exit code 2);
damaged data, damaged checkpoints, a busy output dir or memory that ran out say what and where
(exit code 1); anything unexpected prints a short message and the path of a log file holding the
full traceback (exit code 1).
"""
import atexit
import datetime
import fcntl
import importlib
import json
import os
import socket
import sys
import tempfile
import traceback
import warnings

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
flags.DEFINE_string("tpu_zone", None, "GCE zone of the Cloud TPU (TPUClusterResolver).")
flags.DEFINE_string("gcp_project", None, "GCP project of the Cloud TPU (TPUClusterResolver).")
flags.DEFINE_integer("iterations_per_loop", 100, "Training steps per host call (one tf.function call runs this many; "
                                                 "progress lines and checkpoints fall between calls).")
flags.DEFINE_integer("worker_replicas", 1, "T2T's number of workers: must match the workers TF_CONFIG names.")
flags.DEFINE_integer("worker_id", 0, "T2T's worker index: must match TF_CONFIG's task index.")
flags.DEFINE_string("worker_job", "/job:localhost", "T2T's worker job name: TF_CONFIG's task type here.")
flags.DEFINE_integer("ps_replicas", 0, "T2T's parameter servers: not supported (synchronous all-reduce instead).")
flags.DEFINE_integer("collective_timeout", 300, "Multi-worker: seconds a collective op waits for the other workers "
                                                "before the run stops with an error (a lost worker never hangs it).")
flags.DEFINE_string("decode_hparams", "", "Decoding overrides: beam_size, alpha, extra_length, batch_size, "
                    "num_samples, max_decode_length, sampling_temp, top_k, top_p, return_beams, "
                    "use_cache (False: re-run the whole decoder at every step), seed.")
flags.DEFINE_string("decode_from_file", None, "Decode the lines of this file.")
flags.DEFINE_string("decode_to_file", None, "Write decodes here.")
flags.DEFINE_string("checkpoint_path", None, "A specific checkpoint to evaluate / decode.")
flags.DEFINE_bool("eval_use_test_set", False, "Evaluate on the test split instead of dev.")
flags.DEFINE_bool("overwrite_hparams", False, "Replace a different hparams.json in --output_dir (the old "
                  "checkpoints must still match the model).")


class UsageError(Exception):
    """A bad flag value: printed as one line, exit code 2."""


class ToolError(Exception):
    """A run that cannot go on (damaged state, busy output dir): printed as one line, exit code 1."""


def tool_name():
    return os.path.basename(sys.argv[0]) or "t2t"


def _runtime_errors():
    from sinkhorn_t2t.training.checkpoints import CheckpointError
    from sinkhorn_t2t.training.trainer import DataError, WorkerLostError

    return ToolError, CheckpointError, DataError, WorkerLostError


def _first_line(err):
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _out_of_memory(err):
    shape = ""
    text = str(err)
    if "shape[" in text:
        shape = " (a tensor of shape[" + text.split("shape[", 1)[1].split("]", 1)[0] + "] did not fit)"
    return (f"out of memory{shape}: lower --hparams batch_size (tokens per batch; examples for image problems), "
            "max_length or the model's size; checkpoints already written are intact")


def _log_internal_error():
    """Writes the current traceback to a log file and returns its path."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    for folder in (FLAGS.output_dir, FLAGS.data_dir, tempfile.gettempdir()):
        if folder and os.path.isdir(os.path.expanduser(folder)):
            path = os.path.join(os.path.expanduser(folder), f"{tool_name()}-error-{stamp}.log")
            try:
                with open(path, "w") as f:
                    f.write(f"{' '.join(sys.argv)}\n\n{traceback.format_exc()}")
                return path
            except OSError:
                continue
    return None


def run(main, argv=None):
    """Parses flags and runs `main()`: one line and exit code 2 for usage errors, 1 for runtime
    errors and out of memory; an unexpected error prints one line and where its traceback went."""
    import tensorflow as tf

    # Keras's note on a model whose build failed repeats the failure we report in one line.
    warnings.filterwarnings("ignore", message=".*looks like it has unbuilt state")
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
    except _runtime_errors() as err:
        print(f"{tool_name()}: error: {err}", file=sys.stderr)
        return 1
    except tf.errors.ResourceExhaustedError as err:
        print(f"{tool_name()}: error: {_out_of_memory(err)}", file=sys.stderr)
        return 1
    except Exception as err:  # noqa: BLE001  (anything else: short message, traceback to a file)
        path = _log_internal_error()
        where = f"full traceback in {path}" if path else "no folder was writable for the traceback"
        print(f"{tool_name()}: internal error: {type(err).__name__}: {_first_line(err)[:300]} ({where})",
              file=sys.stderr)
        return 1


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


def ensure_dir(path, flag):
    """Creates `path` if needed and checks it can be written; a flag error naming it otherwise."""
    path = os.path.expanduser(path)
    if "://" in path:  # gs://, ...: TensorFlow's file system
        import tensorflow as tf

        tf.io.gfile.makedirs(path)
        return path
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as err:
        verb = "written" if os.path.isdir(path) else "created"
        reason = err.strerror or str(err)
        if isinstance(err, (NotADirectoryError, FileExistsError)) or not os.path.isdir(os.path.dirname(path) or "."):
            reason = f"{reason}: a part of the path is a file, not a folder"
        raise UsageError(f"--{flag} {path} cannot be {verb} ({reason}).") from None
    return path


def lock_output_dir(output_dir):
    """Makes this process the only trainer of `output_dir` until it exits.

    The lock is an `flock` on `output_dir/.t2t-trainer.lock`, which the kernel drops when the
    process ends, however it ends: a lock left by a killed run is simply taken over. The file
    names the holder (pid, host, start time) for the message a second trainer prints.
    """
    path = os.path.join(output_dir, ".t2t-trainer.lock")
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown process"
        handle.close()
        raise ToolError(f"--output_dir {output_dir} is in use by another t2t-trainer ({holder}); wait for it to "
                        "finish, stop it, or use another --output_dir.") from None
    handle.seek(0)
    previous = handle.read().strip()
    if previous:
        print(f"taking over --output_dir from a run that ended without releasing it ({previous})", flush=True)
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()} on {socket.gethostname()}, started {datetime.datetime.now():%Y-%m-%d %H:%M:%S}")
    handle.flush()

    def release():  # also keeps the handle (and so the lock) alive until exit
        handle.seek(0)
        handle.truncate()
        handle.close()

    atexit.register(release)


def is_chief():
    """True unless `TF_CONFIG` makes this process a non-chief worker (which writes no checkpoints)."""
    config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    task, cluster = config.get("task", {}), config.get("cluster", {})
    if not task:
        return True
    if "chief" in cluster:
        return task.get("type") == "chief"
    return task.get("type", "worker") == "worker" and int(task.get("index", 0)) == 0


def set_seed():
    """`--random_seed`: seeds Python, NumPy, TensorFlow and Keras and turns on op determinism, so
    the same command gives the same weights on CPU."""
    if FLAGS.random_seed is not None:
        import keras
        import tensorflow as tf

        keras.utils.set_random_seed(FLAGS.random_seed)
        tf.config.experimental.enable_op_determinism()
