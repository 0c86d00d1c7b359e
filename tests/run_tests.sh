#!/usr/bin/env bash
# The project's test command: sets up ./.venv on first use, then runs the whole suite on
# PYTEST_WORKERS processes (default 2, one per core of the CI machine; each test file stays in one,
# in the order tests/conftest.py gives: the longest files first).
#
# XLA programs are cached on disk for the length of this run (TensorFlow's persistent XLA cache, in
# a temporary folder removed at the end): the console-script runs of many tests compile the same
# programs (same model, same shapes) in separate processes, and each process after the first loads
# them instead of compiling again. Nothing outlives the run, so no test ever reads another run's
# programs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup_env.sh
XLA_CACHE="$(mktemp -d "${TMPDIR:-/tmp}/sinkhorn-t2t-xla-cache.XXXXXX")"
trap 'rm -rf "$XLA_CACHE"' EXIT
export TF_XLA_FLAGS="--tf_xla_persistent_cache_directory=$XLA_CACHE ${TF_XLA_FLAGS:-}"
python -m pytest -q -n "${PYTEST_WORKERS:-2}" --dist loadfile --no-loadscope-reorder "$@"
