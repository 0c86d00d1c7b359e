"""The release archives T2T's generators would download, dropped into --tmp_dir, are enough: they
are extracted (safely) and give the same records as the extracted tree."""
import io
import os
import shutil
import tarfile
import zipfile

import pytest

from sinkhorn_t2t import registry
from tests.bin.tools import run_tool
from tests.problems import source_files as src

# problem: (writer, archive name, the release's top folder)
RELEASES = {
    "sentiment_imdb": (src.write_imdb, "aclImdb_v1.tar.gz", "aclImdb"),
    "sentiment_sst_binary": (src.write_sst2, "SST-2.zip", "SST-2"),
    "languagemodel_lm1b_characters": (src.write_lm1b, "1-billion-word-language-modeling-benchmark-r13output.tar.gz",
                                      "1-billion-word-language-modeling-benchmark-r13output"),
    "image_cifar10_plain_gen_flat_rev": (src.write_cifar10, "cifar-10-python.tar.gz", "cifar-10-batches-py"),
    "stanford_nli": (src.write_snli, "snli_1.0.zip", "snli_1.0"),
    "multi_nli": (src.write_mnli, "multinli_1.0.zip", "multinli_1.0"),
}


def _archive(tree_root, top, path):
    """Packs `tree_root/top` as the release does: a .tar.gz or a .zip holding the top folder."""
    if path.endswith(".zip"):
        with zipfile.ZipFile(path, "w") as archive:
            for folder, _, files in os.walk(os.path.join(tree_root, top)):
                for name in files:
                    full = os.path.join(folder, name)
                    archive.write(full, os.path.relpath(full, tree_root))
    else:
        with tarfile.open(path, "w:gz") as archive:
            archive.add(os.path.join(tree_root, top), arcname=top)


def _records(problem, data_dir):
    import tensorflow as tf

    records = []
    for split in ("train", "dev"):
        files = tf.io.gfile.glob(os.path.join(data_dir, f"{problem.dataset_filename()}-{split}*"))
        records += sorted(bytes(r.numpy()) for r in tf.data.TFRecordDataset(sorted(files)))
    return records


@pytest.mark.parametrize("name", sorted(RELEASES))
def test_the_release_archive_alone_gives_the_same_records(tmp_path, name):
    writer, archive_name, top = RELEASES[name]
    tree, only_archive = tmp_path / "tree", tmp_path / "archive"
    os.makedirs(tree), os.makedirs(only_archive)
    writer(str(tree))
    _archive(str(tree), top, str(only_archive / archive_name))
    for extra in os.listdir(tree):  # files released beside the archive (LM1B's original vocabulary)
        if extra != top:
            shutil.copy(tree / extra, only_archive / extra)
    problem = registry.problem(name)
    problem.generate_data(str(tmp_path / "from_tree"), str(tree))
    problem.generate_data(str(tmp_path / "from_archive"), str(only_archive))
    assert os.path.isdir(only_archive / top)  # extracted next to the archive, as T2T does
    assert not [e for e in os.listdir(only_archive) if e.startswith(".extract-")]
    from_tree, from_archive = _records(problem, tmp_path / "from_tree"), _records(problem, tmp_path / "from_archive")
    assert from_tree and from_archive == from_tree


def _tar_with(path, member, data=b"x", link=None, kind=tarfile.REGTYPE):
    with tarfile.open(path, "w:gz") as archive:
        good = tarfile.TarInfo("aclImdb/train/pos/0_7.txt")
        good.size = 4
        archive.addfile(good, io.BytesIO(b"good"))
        info = tarfile.TarInfo(member)
        info.type = kind
        if link:
            info.linkname = link
        info.size = 0 if link else len(data)
        archive.addfile(info, None if link else io.BytesIO(data))


def _zip_with(path, member):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("SST-2/train.tsv", "sentence\tlabel\ngood film\t1\n")
        archive.writestr(zipfile.ZipInfo(member), "evil")


CRAFTED = {
    "parent path": ("sentiment_imdb", lambda p: _tar_with(p, "aclImdb/../../evil.txt"), "aclImdb_v1.tar.gz"),
    "absolute path": ("sentiment_imdb", lambda p: _tar_with(p, "/tmp/evil_absolute.txt"), "aclImdb_v1.tar.gz"),
    "symlink out": ("sentiment_imdb", lambda p: _tar_with(p, "aclImdb/train/pos/1_7.txt", link="/etc/passwd",
                                                          kind=tarfile.SYMTYPE), "aclImdb_v1.tar.gz"),
    "hard link out": ("sentiment_imdb", lambda p: _tar_with(p, "aclImdb/train/pos/1_7.txt", link="../../../etc/passwd",
                                                            kind=tarfile.LNKTYPE), "aclImdb_v1.tar.gz"),
    "zip parent path": ("sentiment_sst_binary", lambda p: _zip_with(p, "SST-2/../../evil.txt"), "SST-2.zip"),
    "zip absolute path": ("sentiment_sst_binary", lambda p: _zip_with(p, "/tmp/evil_absolute.txt"), "SST-2.zip"),
}


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_a_crafted_archive_is_refused_and_writes_nothing(tmp_path, case):
    name, build, archive_name = CRAFTED[case]
    tmp_dir = tmp_path / "sandbox" / "tmp"
    os.makedirs(tmp_dir)
    build(str(tmp_dir / archive_name))
    around = set(os.listdir(tmp_path)), set(os.listdir(tmp_path / "sandbox"))
    result = run_tool("t2t-datagen", f"--problem={name}", f"--data_dir={tmp_path / 'data'}", f"--tmp_dir={tmp_dir}")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert archive_name in line and "nothing was extracted" in line, line
    assert os.listdir(tmp_dir) == [archive_name]  # nothing extracted, no scratch folder left
    assert set(os.listdir(tmp_path)) <= around[0] | {"data"}  # the data dir itself is made before reading
    assert set(os.listdir(tmp_path / "sandbox")) == around[1]
    assert not os.path.exists("/tmp/evil_absolute.txt") and not os.path.exists(tmp_path / "evil.txt")
    shutil.rmtree(tmp_path / "sandbox")
