# certkeeper: `make demo` shows the whole job on a local sandbox, `make test` runs everything CI runs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: all venv prereqs prereqs-demo test quick floor lint unit e2e demo demo-stop deb bench clean \
  config-table

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

TEST_WORKERS ?= 4

# The oldest libraries the .deb runs on (Debian 12's python3-click, -cryptography, -yaml,
# -structlog, -dnspython; pyproject's floors), from PyPI at exactly those versions, in
# their own venv.
# PyYAML 6.0 predates Python 3.11's wheels: its sdist builds only with Cython < 3.
FLOOR_VENV ?= .venv-floor
FLOOR_PINS := click==8.1.3 cryptography==38.0.4 pyyaml==6.0 structlog==22.3.0 dnspython==2.3.0
FLOOR_TOOLS := pytest pytest-timeout pytest-xdist freezegun hypothesis trustme aiosmtpd prometheus_client
FLOOR_STAMP := $(FLOOR_VENV)/.installed

$(FLOOR_STAMP): pyproject.toml Makefile
	rm -rf $(FLOOR_VENV)
	$(PYTHON) -m venv $(FLOOR_VENV)
	echo 'cython<3' > $(FLOOR_VENV)/build-constraints.txt
	PIP_CONSTRAINT=$(abspath $(FLOOR_VENV))/build-constraints.txt $(FLOOR_VENV)/bin/pip install \
	  --quiet --disable-pip-version-check $(FLOOR_PINS) $(FLOOR_TOOLS)
	$(FLOOR_VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(FLOOR_STAMP)

# The pure and socket tiers (tests/conftest.py) on those versions: no pebble, nginx,
# certbot or Ansible there. The pins are checked first, so a resolver that moved
# one can never pass for the floor.
floor: $(FLOOR_STAMP)
	$(FLOOR_VENV)/bin/python -c 'import sys, importlib.metadata as m; \
	  pins = dict(p.split("==") for p in sys.argv[1:]); \
	  got = {n: m.version(n) for n in pins}; \
	  sys.exit(0 if got == pins else f"floor venv: {got} is not {pins}")' $(FLOOR_PINS)
	PATH="$(abspath $(FLOOR_VENV))/bin:$$PATH" $(FLOOR_VENV)/bin/pytest -p no:cacheprovider \
	  -n $(TEST_WORKERS) -m "pure or socket" -q $(PYTEST_ARGS)

# The whole suite, all four tiers (tests/conftest.py): pure, socket, peers (pebble + nginx +
# certbot), packaging. Nothing is skipped. The tests mostly wait on peers, so more workers
# than cores pay; each packaging module runs in one of them, in turn. Before it, the pure
# and socket tiers on the oldest supported libraries (make floor).
test: prereqs
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory floor
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/pytest -p no:cacheprovider \
	  -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# In a minute, before a commit: lint, types, and the pure and socket tiers, from a venv
# without certbot, Ansible or any Debian peer.
QUICK_VENV  := .venv-quick
QUICK_STAMP := $(QUICK_VENV)/.installed
$(QUICK_STAMP): pyproject.toml
	@rm -rf $(QUICK_VENV)
	$(PYTHON) -m venv $(QUICK_VENV)
	$(QUICK_VENV)/bin/pip install --quiet -e '.[quick]'
	touch $(QUICK_STAMP)

quick: $(QUICK_STAMP)
	$(QUICK_VENV)/bin/ruff check src tests demo benchmarks
	$(QUICK_VENV)/bin/ruff format --check src tests demo benchmarks
	$(QUICK_VENV)/bin/mypy
	PATH="$(abspath $(QUICK_VENV)/bin):$$PATH" $(QUICK_VENV)/bin/pytest -p no:cacheprovider \
	  -n $(TEST_WORKERS) -m "pure or socket" -q $(PYTEST_ARGS)

unit: $(STAMP)
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

e2e: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/pytest tests/e2e $(PYTEST_ARGS)

# The demo's own venv holds only what it runs: certkeeper, certbot, aiosmtpd and trustme.
DEMO_VENV  := .venv-demo
DEMO_STAMP := $(DEMO_VENV)/.installed
$(DEMO_STAMP): pyproject.toml
	@$(PYTHON) -c 'import ensurepip' >/dev/null 2>&1 || { \
	  echo "$(PYTHON) cannot make a venv (no ensurepip). As root, run:" >&2; \
	  echo "  apt-get install -y python3-venv" >&2; exit 1; }
	@rm -rf $(DEMO_VENV)
	$(PYTHON) -m venv $(DEMO_VENV)
	$(DEMO_VENV)/bin/pip install --quiet -e '.[demo]'
	touch $(DEMO_STAMP)

# prereqs first (it may install python3-venv), then the venv: a sub-make keeps that order.
# KEEP=1 leaves the sandbox up to explore until `make demo-stop`.
demo: prereqs-demo
	@$(MAKE) --no-print-directory -q $(DEMO_STAMP) || $(MAKE) --no-print-directory $(DEMO_STAMP)
	PATH="$(abspath $(DEMO_VENV)/bin):$$PATH" $(DEMO_VENV)/bin/python demo/run_demo.py $(if $(KEEP),--keep)

demo-stop:
	@$(PYTHON) demo/run_demo.py --stop

deb:
	packaging/deb/build.sh

bench: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python benchmarks/bench.py $(if $(BENCH_QUICK),--quick)

clean:
	rm -rf build dist *.egg-info src/*.egg-info demo-run bench-run $(FLOOR_VENV)

# The README's config key table is generated from src/certkeeper/config/keys.py.
config-table:
	$(PYTHON) scripts/config-table.py
