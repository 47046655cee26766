# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR := demo-data
# The demo database is the default one (sqlite:///saas-tracker.db, see DATABASE_URL in the
# README), so every `saas-tracker` command run here afterwards finds it with no export.
DEMO_DB_FILE := saas-tracker.db

.PHONY: demo test test-fast lint install bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	rm -f $(DEMO_DB_FILE) $(DEMO_DB_FILE)-wal $(DEMO_DB_FILE)-shm
	$(BIN)/saas-tracker demo-data --out $(DEMO_DIR)
	env -u DATABASE_URL $(BIN)/saas-tracker db upgrade
	env -u DATABASE_URL $(BIN)/saas-tracker import $(DEMO_DIR)
	env -u DATABASE_URL $(BIN)/saas-tracker scan
	env -u DATABASE_URL $(BIN)/saas-tracker signals --top 15
	env -u DATABASE_URL $(BIN)/saas-tracker digest --dry-run --text

# The linter and the type checker first (their settings: [tool.ruff] and [tool.mypy] in
# pyproject.toml), then every test; the first failure stops the run.
test: lint
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

# Pure scoring, builders, parsing and configuration: no database, no Slack, no demo build.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not db and not slack and not slow"

# Not part of `make test`: timings, on cached datasets. SIZES=10000,30000,100000 for more;
# BENCH_DATABASE_URL=postgresql+psycopg://... adds PostgreSQL.
SIZES ?= 10000,30000
bench: $(STAMP)
	$(BIN)/python bench/run_bench.py --sizes $(SIZES)

clean:
	rm -rf $(VENV) $(DEMO_DB_FILE) $(DEMO_DB_FILE)-wal $(DEMO_DB_FILE)-shm $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache
