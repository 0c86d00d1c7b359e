"""The benchmark script runs end to end and reports every kind (a smoke test, not a timing test)."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_benchmark_script_writes_table_json_and_plot(tmp_path):
    out = str(tmp_path / "bench")
    result = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "attention.py"), "--lengths", "128",
                             "--out", out], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = json.load(open(out + ".json"))["rows"]
    kinds = {(r["mode"], r["kind"]) for r in rows}
    for kind in ("dense", "local", "sparse_fixed", "sinkhorn", "sinkhorn_causal", "sortcut"):
        assert ("ops", kind) in kinds and ("layer", kind) in kinds
    assert ("layer", "projections") in kinds and ("ops", "block_matmul") in kinds
    assert all(r["seconds"] > 0 and r["xla_seconds"] > 0 and r["peak_bytes"] > 0 for r in rows)
    # FLOPs from the shapes: 4 projections of 128 x 512 x 512 multiply-adds; dense scores and values.
    flops = {(r["mode"], r["kind"]): r["flops"] for r in rows}
    assert flops["layer", "projections"] == 4 * 2 * 128 * 512 * 512
    assert flops["ops", "dense"] == 4 * 8 * 128 * 128 * 64
    assert "| ops | sinkhorn | 128 |" in result.stdout and "| layer | sinkhorn XLA / graph at L=128 |" in result.stdout
    assert os.path.getsize(out + ".png") > 10_000


def test_benchmark_rejects_a_bad_length():
    result = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "attention.py"), "--lengths", "100"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "--lengths" in result.stderr


def test_projections_row_does_every_projection_matmul():
    """The floor row's three input-projection weight gradients differ (as in attention), so no
    graph optimisation can share one `x^T dS` between them and skip two of the step's matmuls."""
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import attention

    grads = attention.layer_step("projections", 64, jit_compile=False)()
    kernels = [g.numpy() for g in grads if g.shape.rank == 3 and g.shape[0] == attention.MODEL_DIM]
    assert len(kernels) == 3
    for i in range(3):
        for j in range(i):
            assert abs(kernels[i] - kernels[j]).max() > 1e-3 * abs(kernels[i]).max()
