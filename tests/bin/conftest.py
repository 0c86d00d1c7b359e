"""The sort problem's data written once per test session (per pytest-xdist worker) by the real `t2t-datagen`."""
import pytest

from tests.bin.tools import run_tool


@pytest.fixture(scope="session")
def sort_data(tmp_path_factory):
    data_dir = str(tmp_path_factory.mktemp("t2t_data"))
    result = run_tool("t2t-datagen", "--problem=algorithmic_sort_problem", f"--data_dir={data_dir}",
                      f"--tmp_dir={data_dir}/tmp")
    assert result.returncode == 0, result.stderr
    return data_dir
