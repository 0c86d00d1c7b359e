"""The built wheel holds only `sinkhorn_t2t` (problems/ and hparams/ mapped under it) and the tools."""
import glob
import os
import shutil
import subprocess
import sys
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_wheel_has_no_generic_top_level_packages(tmp_path):
    source = tmp_path / "source"  # a copy, so that the build leaves nothing in the checkout
    for name in ("setup.py", "pyproject.toml", "README.md"):
        os.makedirs(source, exist_ok=True)
        shutil.copy(os.path.join(ROOT, name), source / name)
    for name in ("sinkhorn_t2t", "problems", "hparams"):
        shutil.copytree(os.path.join(ROOT, name), source / name, ignore=shutil.ignore_patterns("__pycache__"))
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                             "-w", str(tmp_path), str(source)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    names = zipfile.ZipFile(glob.glob(str(tmp_path / "*.whl"))[0]).namelist()
    assert {n.split("/")[0] for n in names} == {"sinkhorn_t2t", "sinkhorn_t2t-0.1.0.dist-info"}
    assert "sinkhorn_t2t/problems/algorithmic.py" in names and "sinkhorn_t2t/hparams/paper.py" in names
    entry_points = [n for n in names if n.endswith("entry_points.txt")][0]
    text = zipfile.ZipFile(glob.glob(str(tmp_path / "*.whl"))[0]).read(entry_points).decode()
    for tool in ("t2t-datagen", "t2t-trainer", "t2t-decoder", "t2t-eval"):
        assert tool in text
