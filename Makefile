# certkeeper: `make demo` shows the whole job on a local sandbox, `make test` runs everything CI runs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: all venv test lint unit e2e demo deb bench clean

all: test

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests demo benchmarks
	$(BIN)/ruff format --check src tests demo benchmarks
	$(BIN)/mypy

# The whole suite: unit, integration against real TLS/SMTP servers, e2e against
# pebble + nginx + certbot, packaging. Nothing is skipped.
test: lint
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/pytest -p no:cacheprovider $(PYTEST_ARGS)

unit: $(STAMP)
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

e2e: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/pytest tests/e2e $(PYTEST_ARGS)

demo: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python demo/run_demo.py

deb:
	packaging/deb/build.sh

bench: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python benchmarks/bench.py $(if $(BENCH_QUICK),--quick)

clean:
	rm -rf build dist *.egg-info src/*.egg-info demo-run bench-run
