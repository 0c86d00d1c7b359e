#!/usr/bin/env bash
# The main job. Sets up ./.venv on first use, then runs the attention benchmark on a small
# default (L = 1024, 4096). The T2T pipeline (datagen -> train -> eval -> decode) replaces this
# once the trainer lands (issue 3).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
source scripts/setup_env.sh
OUTPUT_DIR="${OUTPUT_DIR:-t2t_output}"
mkdir -p "$OUTPUT_DIR"
python benchmarks/attention.py --lengths ${LENGTHS:-1024 4096} --out "$OUTPUT_DIR/attention"
