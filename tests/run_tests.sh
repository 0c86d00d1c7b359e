#!/usr/bin/env bash
# The project's test command: sets up ./.venv on first use, then runs the whole suite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup_env.sh
exec python -m pytest -q "$@"
