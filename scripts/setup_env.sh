# Sourced by run_t2t.sh and tests/run_tests.sh: makes ./.venv (Python 3.11) with this package
# installed in editable mode plus its test extras, reinstalling only when setup.py changes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
VENV="$ROOT/.venv"
if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV with $("$PYTHON" --version)"
  "$PYTHON" -m venv "$VENV"
fi
STAMP="$VENV/.installed-$(sha1sum "$ROOT/setup.py" | cut -c1-12)"
if [ ! -f "$STAMP" ]; then
  echo "[setup] installing sinkhorn-t2t and its dependencies (first run takes a few minutes)"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip "setuptools>=70,<81"
  "$VENV/bin/python" -m pip install --quiet -e "$ROOT[test]"
  rm -f "$VENV"/.installed-*
  touch "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-3}"
