"""Where raw data comes from: a prepared TFDS dataset, else the original release files.

Nothing is downloaded here. A TFDS dataset counts when it is prepared under
`<tmp_dir>/tensorflow_datasets` or the TFDS data dir (`$TFDS_DATA_DIR`, default
`~/tensorflow_datasets`); the original files are looked for under `--tmp_dir`, extracted from
the release archive T2T would have downloaded there (`aclImdb_v1.tar.gz`, ...) when only the
archive is present.
"""
import os
import shutil
import stat
import tarfile
import tempfile
import zipfile


class MissingDataError(FileNotFoundError):
    """Neither source is there; the message says exactly what to provide, and where."""


class UnsafeArchiveError(ValueError):
    """A release archive with a member that would land outside `--tmp_dir` (absolute path, `..`,
    a link pointing out, a device file); nothing was extracted."""


def _check_tar(archive, root):
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if os.path.isabs(member.name) or member.name.startswith(("/", "\\")):
                raise UnsafeArchiveError(f"{archive}: member {member.name!r} has an absolute path; nothing was "
                                         "extracted.")
            try:
                tarfile.data_filter(member, root)  # Python's rules for untrusted archives: .., links out, devices
            except tarfile.FilterError as err:
                raise UnsafeArchiveError(f"{archive}: member {member.name!r} is refused ({err}); nothing was "
                                         "extracted.") from None


def _check_zip(archive, root):
    with zipfile.ZipFile(archive) as archive_file:
        for info in archive_file.infolist():
            name = info.filename
            target = os.path.realpath(os.path.join(root, name))
            if (os.path.isabs(name) or ".." in name.replace("\\", "/").split("/")
                    or os.path.commonpath([target, os.path.realpath(root)]) != os.path.realpath(root)):
                raise UnsafeArchiveError(f"{archive}: member {name!r} would be written outside --tmp_dir; nothing was "
                                         "extracted.")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise UnsafeArchiveError(f"{archive}: member {name!r} is a symbolic link; nothing was extracted.")


def extract_release(tmp_dir, archive_name, tree):
    """Extracts `<tmp_dir>/<archive_name>` when `<tmp_dir>/<tree>` is missing, as T2T's generators
    use the file they would have downloaded. Every member is checked before anything is written;
    the archive is unpacked into a scratch folder inside `tmp_dir` and moved into place, so an
    interrupted extraction never leaves a partial tree behind.

    Raises:
      UnsafeArchiveError: a member would land outside `tmp_dir`.
    """
    archive = os.path.join(tmp_dir, archive_name)
    if not tmp_dir or os.path.exists(os.path.join(tmp_dir, tree)) or not os.path.isfile(archive):
        return
    zipped = archive_name.endswith(".zip")
    (_check_zip if zipped else _check_tar)(archive, tmp_dir)
    print(f"extracting {archive}", flush=True)
    scratch = tempfile.mkdtemp(prefix=".extract-", dir=tmp_dir)
    try:
        if zipped:
            with zipfile.ZipFile(archive) as archive_file:
                archive_file.extractall(scratch)
        else:
            with tarfile.open(archive) as tar:
                tar.extractall(scratch, filter="data")
        for entry in os.listdir(scratch):
            if not os.path.exists(os.path.join(tmp_dir, entry)):
                os.rename(os.path.join(scratch, entry), os.path.join(tmp_dir, entry))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


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


def missing(problem_name, tfds_name, tmp_dir, files, archive=None):
    """The error for a problem whose data is in neither place."""
    where = " or ".join(tfds_data_dirs(tmp_dir))
    release = f"the original files {files}" + (f" or the release archive {archive}" if archive else "")
    return MissingDataError(
        f"{problem_name} has no data: provide the TFDS dataset '{tfds_name}' prepared under {where} "
        f"(`tfds build {tfds_name}` where downloads work), or {release} under --tmp_dir {tmp_dir}.")


def text(value):
    """TFDS strings arrive as bytes."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
