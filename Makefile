# Every target sets itself up from a clean clone: a virtualenv from the pinned
# requirements, and the npm tools from package-lock.json.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_WORKERS ?= 2

.PHONY: setup test lint typecheck unit rehearsal bench clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

setup: $(VENV)/.installed node_modules/.installed

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	$(VENV)/bin/mypy __main__.py components controller rehearsal functions/map_proxy bench

unit: setup
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS)

# The README's first command: the local twin rehearses the example stack.
# `make rehearsal ARGS="--fail-at-stage 2"` shows the failback.
ARGS ?=
CHART ?= rehearsal.png
rehearsal: setup
	$(PY) -m rehearsal run --stack prod --chart $(CHART) $(ARGS)

# The README's test command.
test: lint typecheck unit

clean:
	rm -rf $(VENV) node_modules .mypy_cache .ruff_cache .hypothesis rehearsal.png
