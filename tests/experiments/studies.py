"""Running a study's `--quick` smoke run as a user does, and reading what it wrote."""
import json
import math
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_study(name, work_dir, *flags):
    return subprocess.run([sys.executable, os.path.join(ROOT, "experiments", f"{name}.py"), "--quick",
                           f"--work_dir={work_dir}", *flags], capture_output=True, text=True, timeout=600)


def quick_run(name, work_dir):
    """Runs study `name` with `--quick` in `work_dir`, checks its progress lines and outputs
    (results JSON, Markdown table with its header line, PNG) and the cost columns of its training
    runs; returns (the results JSON, what it printed)."""
    done = run_study(name, work_dir)
    assert done.returncode == 0, f"{name}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    with open(os.path.join(work_dir, f"{name}.json")) as f:
        output = json.load(f)
    assert os.path.getsize(os.path.join(work_dir, f"{name}.png")) > 10_000
    assert "10 steps per run, seeds [1] (--quick)" in open(os.path.join(work_dir, f"{name}.md")).read()
    if name != "sorting":  # study 5 trains nothing
        assert f"[{name}]" in done.stdout and "steps/s" in done.stdout and "ETA" in done.stdout
        for r in output["runs"]:
            assert r["steps"] == 10 and r["steps_per_s"] > 0 and r["peak_mb"] > 0 and math.isfinite(r["loss"])
    return output, done.stdout


def runs(output):
    return {r["run"] for r in output["runs"]}
