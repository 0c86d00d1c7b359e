#!/usr/bin/env bash
# The project's test command: sets up ./.venv on first use, then runs the whole suite on
# PYTEST_WORKERS processes (default 2, one per core of the CI machine; each test file stays in one,
# in the order tests/conftest.py gives: the longest files first).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup_env.sh
exec python -m pytest -q -n "${PYTEST_WORKERS:-2}" --dist loadfile --no-loadscope-reorder "$@"
