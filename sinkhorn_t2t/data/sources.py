"""Where raw data comes from: a prepared TFDS dataset, else the original release files.

Nothing is downloaded here. A TFDS dataset counts when it is prepared under
`<tmp_dir>/tensorflow_datasets` or the TFDS data dir (`$TFDS_DATA_DIR`, default
`~/tensorflow_datasets`); the original files are looked for under `--tmp_dir`.
"""
import os


class MissingDataError(FileNotFoundError):
    """Neither source is there; the message says exactly what to provide, and where."""


def tfds_data_dirs(tmp_dir):
    dirs = [os.path.join(tmp_dir, "tensorflow_datasets")] if tmp_dir else []
    return dirs + [os.environ.get("TFDS_DATA_DIR") or os.path.expanduser("~/tensorflow_datasets")]


def tfds_examples(name, split, tmp_dir):
    """NumPy examples of split `split` of the prepared TFDS dataset `name`, or None."""
    import tensorflow_datasets as tfds

    for data_dir in tfds_data_dirs(tmp_dir):
        if not os.path.isdir(os.path.join(data_dir, name.split("/")[0])):
            continue
        builder = tfds.builder(name, data_dir=data_dir)
        if builder.is_prepared():
            return tfds.as_numpy(builder.as_dataset(split=split, shuffle_files=False))
    return None


def missing(problem_name, tfds_name, tmp_dir, files):
    """The error for a problem whose data is in neither place."""
    where = " or ".join(tfds_data_dirs(tmp_dir))
    return MissingDataError(
        f"{problem_name} has no data: provide the TFDS dataset '{tfds_name}' prepared under {where} "
        f"(`tfds build {tfds_name}` where downloads work), or the original files {files} under "
        f"--tmp_dir {tmp_dir}.")


def text(value):
    """TFDS strings arrive as bytes."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
