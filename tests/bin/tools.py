"""Runs the installed console scripts (t2t-datagen, t2t-trainer, ...) as a user would."""
import os
import subprocess
import sys

BIN = os.path.dirname(sys.executable)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_tool(tool, *args, timeout=600, **kwargs):
    """Runs `tool` with flags; returns the CompletedProcess (text output)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")
    return subprocess.run([os.path.join(BIN, tool), *args], capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=ROOT, **kwargs)


def start_tool(tool, *args, log_path):
    """Starts `tool` in the background, its output going to `log_path`."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")
    log = open(log_path, "w")
    return subprocess.Popen([os.path.join(BIN, tool), *args], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)


def metrics_from(output):
    """`metrics-<problem>/targets/<name> = value` lines -> {name: value} (the last of each)."""
    found = {}
    for line in output.splitlines():
        if "/targets/" in line and " = " in line:
            name, value = line.strip().split(" = ")
            found[name.rsplit("/", 1)[1]] = float(value)
    return found
