"""Finding an intact checkpoint to restore: a damaged newest one falls back to an older one.

A checkpoint `<prefix>` is its index file `<prefix>.index` and data shards
`<prefix>.data-NNNNN-of-MMMMM`. A disk that filled up or a copy cut short leaves the newest one
truncated or missing a file; `tf.train.Checkpoint.restore` then fails with an `IndexError` or a
`DataLossError` deep inside TensorFlow. `newest_intact` checks each candidate, newest first, by
reading every tensor back (what a restore reads; the input pipeline's variant-typed state through
`RestoreV2`), and says what was
wrong with the ones it skipped.
"""
import glob
import os
import re

import tensorflow as tf


class CheckpointError(RuntimeError):
    """No usable checkpoint; the message names each damaged one and why."""


def _step(prefix):
    match = re.search(r"-(\d+)$", prefix)
    return int(match.group(1)) if match else -1


def candidates(directory):
    """Checkpoint prefixes in `directory`, newest first: those the `checkpoint` pointer file lists
    and every `*.index` present (a pointer may name a file that is gone)."""
    prefixes = set()
    state = tf.train.get_checkpoint_state(directory)  # its paths already include `directory`
    if state is not None:
        prefixes.update(os.path.normpath(p) for p in [state.model_checkpoint_path, *state.all_model_checkpoint_paths]
                        if p)
    prefixes.update(os.path.normpath(p[:-len(".index")])
                    for p in glob.glob(os.path.join(glob.escape(directory), "*.index")))
    return sorted(prefixes, key=lambda p: (_step(p), p), reverse=True)


def problem_with(prefix):
    """Why `prefix` cannot be restored (a short phrase), or None when every tensor reads back."""
    if not os.path.exists(prefix + ".index"):
        return "its index file is missing"
    shards = glob.glob(glob.escape(prefix) + ".data-*-of-*")
    if not shards:
        return "its data file is missing"
    expected = int(shards[0].rsplit("-of-", 1)[1])
    if len(shards) != expected:
        return f"{expected - len(shards)} of its {expected} data files are missing"
    try:
        reader = tf.train.load_checkpoint(prefix)
        for name, dtype in reader.get_variable_to_dtype_map().items():
            if dtype == tf.variant:  # the input pipeline's state: read in TensorFlow (NumPy has no variant)
                tf.raw_ops.RestoreV2(prefix=prefix, tensor_names=[name], shape_and_slices=[""], dtypes=[dtype])
            else:
                reader.get_tensor(name)
    except (tf.errors.OpError, IndexError, ValueError, OSError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return f"it cannot be read ({first[:160]})"
    return None


def newest_intact(directory, log=print):
    """The newest checkpoint prefix in `directory` that reads back completely, or None when there
    is none at all. Damaged ones are reported through `log` and skipped, never deleted.

    Raises:
      CheckpointError: checkpoints exist but none is intact.
    """
    found = candidates(directory)
    damaged = []
    for prefix in found:
        problem = problem_with(prefix)
        if problem is None:
            if damaged:
                log(f"checkpoint {damaged[0][0]} is damaged ({damaged[0][1]}); falling back to the newest intact "
                    f"one, {prefix}")
            return prefix
        damaged.append((prefix, problem))
    if damaged:
        listed = "; ".join(f"{os.path.basename(p)}: {why}" for p, why in damaged)
        raise CheckpointError(f"no intact checkpoint in {directory} ({listed}); nothing was deleted")
    return None


def check(prefix):
    """Raises `CheckpointError` naming `prefix` when it cannot be restored."""
    problem = problem_with(prefix)
    if problem is not None:
        raise CheckpointError(f"checkpoint {prefix} cannot be restored: {problem}")
