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
	@# the browser tests drive Debian's chromium (Playwright's own browser download is not used)
	@command -v chromium >/dev/null || command -v chromium-headless-shell >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null 2>&1 && \
	    echo "installed chromium for the browser tests"; } || \
	  echo "no chromium: the browser tests will be skipped (apt-get install chromium)"
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
