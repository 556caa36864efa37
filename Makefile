# STEDI balance lakehouse. `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.stedi-setup
KERNEL := $(VENV)/share/jupyter/kernels/stedi_glue_local/kernel.json
ARGS ?=

.PHONY: help setup lock upgrade run lint check test report lab lab-check bench clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml uv.lock scripts/setup.sh
	@bash scripts/setup.sh
	@touch $(STAMP)

setup: $(STAMP) ## Create .venv and install exactly uv.lock (the project editable, test and bench extras), find Java, register the local kernel
	@test -f $(KERNEL) || $(PY) -m stedi.engine.kernel

UV_VERSION = $(shell sed -n 's/^UV_VERSION=\([0-9.]*\).*/\1/p' scripts/setup.sh)
UV := $(VENV)/bin/uv

$(UV):
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q "uv==$(UV_VERSION)" 2>&1 | grep -v "is ignored: it is neither" || true

lock: $(UV) ## Re-resolve uv.lock after a change to pyproject.toml (keeps every other pin), then regenerate its exports
	$(UV) lock
	$(PY) scripts/lockfiles.py

upgrade: $(UV) ## Re-resolve uv.lock to the newest releases, regenerate its exports, install them and run the whole suite
	$(UV) lock --upgrade
	$(PY) scripts/lockfiles.py
	$(MAKE) test

run: setup ## Build the lakehouse from data/raw into data/lake; run record in runs/<run_id>/ (ARGS="--policy udacity")
	$(VENV)/bin/stedi run $(ARGS)

lint: setup ## ruff: lint and format check (pyproject.toml [tool.ruff]; `ruff format` and `ruff check --fix` repair most)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The tests write bytecode (`__pycache__/`, git-ignored) even where PYTHONDONTWRITEBYTECODE is set,
# as on this machine and CI: else every test process rewrites and compiles every test module and
# every `stedi run` compiles stedi again (notes.md).
check: setup lint ## make lint, then the fast tier, on two workers: unit tests on small frames and stand-in notebooks (no whole pipeline, real notebook or whole-data test)
	PYTHONDONTWRITEBYTECODE= $(PY) -m pytest -m "not e2e and not notebook and not slow" -n 2 $(ARGS)

test: setup ## Run the whole test suite on two workers (unit, notebooks under nbval, end to end; the builds on one worker)
	PYTHONDONTWRITEBYTECODE= $(PY) -m pytest -n 2 --dist loadgroup --durations=15 $(ARGS)

bench: setup ## Scale benchmark: N=1,10,100 x the data, the pipeline on both engines (spark, sail), the DuckDB and Spark SQL references; writes benchmarks/results.md
	$(PY) benchmarks/run_benchmark.py $(ARGS)

report: setup ## Re-export the latest run's notebook reports and index page (ARGS="--run <run_id>")
	$(VENV)/bin/stedi report $(ARGS)

lab: setup ## Open JupyterLab on the project with the local Glue kernel
	$(VENV)/bin/jupyter lab --notebook-dir=.

lab-check: setup ## Run every notebook top to bottom in JupyterLab in a real browser (installs Debian's chromium and playwright)
	@command -v chromium >/dev/null || { apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; }
	@$(PY) -c "import playwright" 2>/dev/null || $(UV) sync -q --locked --inexact --extra test --extra bench --extra lab
	$(PY) scripts/lab_check.py $(ARGS)

.PHONY: package
package: setup ## Build dist/stedi.zip, the code for Glue's %extra_py_files (upload it to s3://BUCKET/<prefix>artifacts/)
	$(VENV)/bin/stedi package

clean: ## Remove the lake and the run records (keeps .venv and data/raw)
	rm -rf data/lake runs
