# The README's two commands are `make demo` and `make test`; each sets itself up from a
# fresh clone (virtualenv, install, embedded PostgreSQL and broker) and needs no services.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install lock demo chaos test test-unit test-integration lint bench bench-e2e up down clean

install: $(STAMP)

# The exact versions CI tested, from requirements.lock; the project itself without resolving again.
$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	@touch $(STAMP)
	@echo "installed: run 'source $(VENV)/bin/activate' to put 'orders' on your PATH"

# Re-resolve requirements.lock from pyproject.toml, to the newest versions it allows.
lock: install
	$(BIN)/pip install --quiet pip-tools
	$(BIN)/pip-compile --quiet --upgrade --extra dev --strip-extras --no-emit-index-url \
		--no-emit-find-links -o requirements.lock pyproject.toml

demo: install
	$(BIN)/orders demo

# Five minutes of faults while customers order, then the invariant check (prints its seed).
chaos: install
	$(BIN)/orders chaos --duration 300

test: install
	$(BIN)/pytest

test-unit: install
	$(BIN)/pytest tests/unit

test-integration: install
	$(BIN)/pytest -m integration

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy domain services

# Each building block against its limit, in one run (`orders bench`, about 2 minutes), then a
# cold load of a SKU with 100,000 orders behind it (about a minute); bench/README.md. The whole
# system under open-loop load is `make bench-e2e` (about 9 minutes; `ARGS=--tiny`: 30 s).
bench: install
	$(BIN)/python -m bench.blocks
	$(BIN)/python -m bench.stock_history

bench-e2e: install
	$(BIN)/python -m bench.e2e $(ARGS)

# The whole system in Docker (docker-compose.yml): PostgreSQL, Kafka, every process of
# `orders run`, Prometheus and Grafana. Not needed for anything above.
up:
	docker compose up -d --build

down:
	docker compose down

clean:
	-[ -x $(BIN)/orders ] && $(BIN)/orders dev down --purge
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
