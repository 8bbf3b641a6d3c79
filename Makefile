# The two commands the README names: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
# Everything `make test` needs (dpr and its test tools).
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint bench clean browser venv eopf

venv:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools

# Serving needs dpr and its dependencies only.
$(RUN_STAMP): pyproject.toml
	$(MAKE) venv
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUN_STAMP)

$(STAMP): pyproject.toml
	$(MAKE) venv
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(RUN_STAMP)
	$(BIN)/dpr serve --config config/dpr.yaml

test: $(STAMP) browser lint
	DPR_HYPOTHESIS_PROFILE=thorough $(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not integration"

# The EOPF environment of the EOPF processes (Python >= 3.13, ~1.3 GB, a few minutes once); the
# EOPF tests build and reuse the same folder. Prints the DPR_EOPF_VENV to export.
EOPF_VENV ?= $(CURDIR)/.cache/eopf-venv-3.0.0
eopf: $(STAMP)
	$(BIN)/dpr eopf install --path $(EOPF_VENV)

browser:  # headless Chromium for tests/integration/test_browser.py (installed once)
	scripts/ensure-chromium

lint: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .mypy_cache .ruff_cache
