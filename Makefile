# `make run` (set up and open the app), `make test` (the whole suite), `make test-fast` (the fast
# tier, while working), `make lint`, `make browser` (Debian's chromium for the browser tests),
# `make docs` (serve the documentation site), `make docs-build` (build it strictly, as CI does) and
# `make pictures` (render the screenshots in docs/pictures from the app).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# ruff alone, at the version pinned in pyproject.toml: CI lints in seconds, before the full install
RUFF_PIN := $(shell grep -o '"ruff==[^"]*"' pyproject.toml | tr -d '"')

.PHONY: run test test-fast test-load lint style browser docs docs-build pictures bench fetch clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(BIN)/ruff:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet '$(RUFF_PIN)'

run: $(STAMP)
	$(BIN)/mnist-tui $(ARGS)

# The whole suite on both cores (the real MNIST is fetched first for the integration tests).
# Browser tests skip, saying why, without chromium: `make browser` installs it.
test: $(STAMP)
	$(BIN)/mnist-tui fetch
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# The fast tier: unit, property, Pilot and snapshot tests; no process, terminal, server or browser.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" $(PYTEST_ARGS)

# The whole suite RUNS times (5) beside two CPU-bound processes, which are killed by pid at the end:
# the suite must pass every time on a machine that is busy with other work.
RUNS ?= 5
test-load: $(STAMP)
	@python3 -c 'while 1: pass' & h1=$$!; python3 -c 'while 1: pass' & h2=$$!; \
	trap 'kill $$h1 $$h2' EXIT; failed=0; \
	for i in $$(seq $(RUNS)); do \
	  echo "run $$i of $(RUNS) beside two CPU hogs"; \
	  $(BIN)/python -m pytest -q $(PYTEST_ARGS) || failed=$$((failed + 1)); \
	done; \
	echo "$$failed of $(RUNS) runs failed"; [ $$failed = 0 ]

style: $(BIN)/ruff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

lint: style $(STAMP)
	$(BIN)/mypy
	$(BIN)/lint-imports

# Debian's chromium for tests/test_browser.py (Playwright's own browser download is not used).
browser:
	@if command -v chromium >/dev/null || command -v chromium-headless-shell >/dev/null; then \
	  echo "chromium is installed"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else \
	  echo "run as root: apt-get install chromium (without it the browser tests are skipped)"; exit 1; \
	fi

# The documentation site (mkdocs.yml, docs/): `make docs` serves it with live reload on
# http://$(DOCS_ADDR); `make docs-build` writes site/ and fails on any warning (a broken link or
# anchor, a page left out of the navigation, a missing snippet or picture).
DOCS_ADDR ?= 127.0.0.1:8000
MKDOCS := NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs
docs: $(STAMP)
	$(MKDOCS) serve --dev-addr $(DOCS_ADDR)

docs-build: $(STAMP)
	$(MKDOCS) build --strict

# The screenshots in docs/pictures, rendered by the app from fixed inputs (tests/test_pictures.py
# fails when a committed one differs from what this renders now).
pictures: $(STAMP)
	PYTHONPATH=tests $(BIN)/python tests/harness/pictures.py  # it shares the tests' synthetic digits (conftest)

bench: $(STAMP)
	$(BIN)/mnist-tui bench $(ARGS)

fetch: $(STAMP)
	$(BIN)/mnist-tui fetch

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache site
