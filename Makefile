# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR := demo-data
DEMO_DB := sqlite:///demo.db

.PHONY: demo test test-fast install bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	rm -f demo.db
	$(BIN)/saas-tracker demo-data --out $(DEMO_DIR)
	DATABASE_URL=$(DEMO_DB) $(BIN)/saas-tracker db upgrade
	DATABASE_URL=$(DEMO_DB) $(BIN)/saas-tracker import $(DEMO_DIR)
	DATABASE_URL=$(DEMO_DB) $(BIN)/saas-tracker scan
	DATABASE_URL=$(DEMO_DB) $(BIN)/saas-tracker signals --top 15
	DATABASE_URL=$(DEMO_DB) $(BIN)/saas-tracker digest --dry-run --text

test: $(STAMP)
	$(BIN)/python -m pytest

# Pure scoring, builders, parsing and configuration: no database, no Slack, no demo build.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not db and not slack and not slow"

bench: $(STAMP)
	$(BIN)/python bench/scan_bench.py

clean:
	rm -rf $(VENV) demo.db $(DEMO_DIR) .pytest_cache
