# Every target sets itself up from a clean clone: a virtualenv from the pinned
# requirements, and the npm tools from package-lock.json.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_WORKERS ?= 2

# pytest caches bytecode whatever the environment asks: it then keeps its
# rewritten test modules between runs, which saves seconds per worker.
PYTEST := env -u PYTHONDONTWRITEBYTECODE $(VENV)/bin/pytest

.PHONY: setup test lint typecheck unit aws twin pytest rehearsal bench clean

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
	$(VENV)/bin/lint-imports

typecheck: setup
	$(VENV)/bin/mypy __main__.py components controller rehearsal functions/map_proxy functions/traffic_check bench

# The test tiers (see the README's Contributing section): pure logic and fakes,
# then AWS adapters on moto, then the whole system on the twin.
unit: setup
	$(PYTEST) -n $(PYTEST_WORKERS) tests/unit

aws: setup
	$(PYTEST) -n $(PYTEST_WORKERS) tests/aws

twin: setup
	$(PYTEST) -n $(PYTEST_WORKERS) tests/twin

# Every tier in one pytest run. The twin tests spend much of their time waiting
# (bakes, polls), so one worker more than the 2 cores keeps both busy. Each test
# module (or class) stays on one worker, so its module fixtures (an applied
# stack, a served twin) are built once, not once per worker. The modules go out
# in the order tests/conftest.py sorts them (slowest first), not xdist's.
PYTEST_ALL_WORKERS ?= 3
pytest: setup
	$(PYTEST) -n $(PYTEST_ALL_WORKERS) --dist loadscope --no-loadscope-reorder tests

# The README's first command: the local twin rehearses the example stack.
# `make rehearsal ARGS="--fail-at-stage 2"` shows the failback.
ARGS ?=
CHART ?= rehearsal.png
rehearsal: $(VENV)/.installed
	$(PY) -m rehearsal run --stack prod --chart $(CHART) $(ARGS)

# The README's test command.
test: lint typecheck pytest

clean:
	rm -rf $(VENV) node_modules .mypy_cache .ruff_cache .hypothesis rehearsal.png
