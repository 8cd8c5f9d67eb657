# certkeeper: `make demo` shows the whole job on a local sandbox, `make test` runs everything CI runs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: all venv prereqs prereqs-demo test lint floor unit e2e demo deb bench clean config-table

all: test

# A .venv left half-built (python3-venv was missing at the first try, an interrupted
# `python -m venv`, a removed system python) has a python but no working pip: rebuild it
# instead of failing on `.venv/bin/pip: No such file`.
$(STAMP): pyproject.toml
	@if ! $(BIN)/python -c '' >/dev/null 2>&1 || ! $(BIN)/python -m pip --version >/dev/null 2>&1; then \
	  if ! $(PYTHON) -c 'import ensurepip' >/dev/null 2>&1; then \
	    echo "$(PYTHON) cannot make a venv (no ensurepip). As root, run:" >&2; \
	    echo "  apt-get install -y python3-venv" >&2; \
	    exit 1; \
	  fi; \
	  if [ -e $(VENV) ]; then echo "$(VENV) is incomplete: rebuilding it"; rm -rf $(VENV); fi; \
	  echo "$(PYTHON) -m venv $(VENV)"; \
	  $(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); exit 1; }; \
	fi
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

# Debian packages (pebble, nginx, debootstrap, ...): installed when root, else the apt line.
prereqs:
	@scripts/prereqs.sh test

prereqs-demo:
	@scripts/prereqs.sh demo

lint: $(STAMP)
	$(BIN)/ruff check src tests demo benchmarks
	$(BIN)/ruff format --check src tests demo benchmarks
	$(BIN)/mypy

# The oldest libraries the .deb runs on (Debian 12's python3-click, -cryptography, -yaml,
# -structlog; pyproject's floors), from PyPI at exactly those versions, in their own venv.
# PyYAML 6.0 predates Python 3.11's wheels: its sdist builds only with Cython < 3.
FLOOR_VENV ?= .venv-floor
FLOOR_PINS := click==8.1.3 cryptography==38.0.4 pyyaml==6.0 structlog==22.3.0
FLOOR_TOOLS := pytest pytest-timeout freezegun hypothesis trustme aiosmtpd prometheus_client
FLOOR_STAMP := $(FLOOR_VENV)/.installed

$(FLOOR_STAMP): pyproject.toml Makefile
	rm -rf $(FLOOR_VENV)
	$(PYTHON) -m venv $(FLOOR_VENV)
	echo 'cython<3' > $(FLOOR_VENV)/build-constraints.txt
	PIP_CONSTRAINT=$(abspath $(FLOOR_VENV))/build-constraints.txt $(FLOOR_VENV)/bin/pip install \
	  --quiet --disable-pip-version-check $(FLOOR_PINS) $(FLOOR_TOOLS)
	$(FLOOR_VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(FLOOR_STAMP)

# The pure and socket tiers (tests/unit, tests/integration) on those versions: no pebble,
# nginx, certbot or Ansible there. The pins are checked first, so a resolver that moved
# one can never pass for the floor.
floor: $(FLOOR_STAMP)
	$(FLOOR_VENV)/bin/python -c 'import sys, importlib.metadata as m; \
	  pins = dict(p.split("==") for p in sys.argv[1:]); \
	  got = {n: m.version(n) for n in pins}; \
	  sys.exit(0 if got == pins else f"floor venv: {got} is not {pins}")' $(FLOOR_PINS)
	PATH="$(abspath $(FLOOR_VENV))/bin:$$PATH" $(FLOOR_VENV)/bin/pytest -p no:cacheprovider \
	  tests/unit tests/integration $(PYTEST_ARGS)

# The whole suite: unit, integration against real TLS/SMTP servers, e2e against
# pebble + nginx + certbot, packaging; then the pure and socket tiers again on the oldest
# supported libraries. Nothing is skipped.
test: prereqs
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory floor
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/pytest -p no:cacheprovider $(PYTEST_ARGS)

unit: $(STAMP)
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

e2e: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/pytest tests/e2e $(PYTEST_ARGS)

# prereqs first (it may install python3-venv), then the venv: a sub-make keeps that order.
demo: prereqs-demo
	@$(MAKE) --no-print-directory -q $(STAMP) || $(MAKE) --no-print-directory $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python demo/run_demo.py

deb:
	packaging/deb/build.sh

bench: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python benchmarks/bench.py $(if $(BENCH_QUICK),--quick)

clean:
	rm -rf build dist *.egg-info src/*.egg-info demo-run bench-run $(FLOOR_VENV)

# The README's config key table is generated from src/certkeeper/config/keys.py.
config-table:
	$(PYTHON) scripts/config-table.py
