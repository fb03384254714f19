# takedown — the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
# make test runs the suite on this many processes (pytest-xdist), a test file to each.
TEST_WORKERS ?= 2

.PHONY: demo serve cluster cluster-stop test test-unit test-integration test-e2e fuzz bench lint browser video-reference install dev clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || \
		{ echo "takedown needs Python 3.11 or newer: run 'make PYTHON=python3.11 ...'"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed

$(VENV)/.installed-bench: pyproject.toml | $(VENV)/.installed-dev
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	@touch $@

install: $(VENV)/.installed
dev: $(VENV)/.installed-dev

## Start takedown on SQLite under ./data with sample accounts; prints what to open.
demo: install
	$(BIN)/takedown demo --host $(HOST) --port $(PORT)

serve: install
	$(BIN)/takedown serve --host $(HOST) --port $(PORT)

## The distributed deployment on this machine's PostgreSQL and RabbitMQ: two web processes on
## one port (CLUSTER_PORT, 8100), a relay, two workers, the demo data and platform.
CLUSTER_PORT ?= 8100
cluster: install
	$(BIN)/python scripts/cluster.py start --port $(CLUSTER_PORT)

cluster-stop:
	$(BIN)/python scripts/cluster.py stop

## Chromium for the browser tests (Debian's package; skipped with a reason where it can't be).
browser:
	@sh scripts/ensure-chromium.sh

## Meta's vpdq, the reference for video hashes (built against Debian's FFmpeg -dev packages;
## its tests skip with the reason where it can't be installed).
video-reference: dev
	@sh scripts/ensure-vpdq.sh $(BIN)/python

## The whole suite: unit, integration (SQLite and PostgreSQL) and end-to-end.
test: dev browser video-reference
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

test-unit: dev
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

test-integration: dev
	$(BIN)/python -m pytest tests/integration $(PYTEST_ARGS)

test-e2e: dev browser
	$(BIN)/python -m pytest tests/e2e $(PYTEST_ARGS)

## Schema fuzzing over the whole API and the media fuzz corpus, with many examples each
## (make test runs the same with a few). FUZZ_EXAMPLES=N to choose.
FUZZ_EXAMPLES ?= 100
fuzz: dev
	TAKEDOWN_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest tests/e2e/test_schema_fuzz.py tests/e2e/test_media_fuzz.py $(PYTEST_ARGS)

## Benchmarks against the reference libraries, in the same run (BENCH=hashing|index|foundation).
bench: $(VENV)/.installed-bench
	$(BIN)/python -m bench $(BENCH)

lint: dev
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/mypy src

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
