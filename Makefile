# Two entry points: `make run` (set up and open the app) and `make test` (set up and run the tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench fetch clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/mnist-tui $(ARGS)

test: $(STAMP)
	$(BIN)/mnist-tui fetch
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/mnist-tui bench $(ARGS)

fetch: $(STAMP)
	$(BIN)/mnist-tui fetch

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
