# The two commands the README names: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint bench clean browser eopf

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/dpr serve --config config/dpr.yaml

test: $(STAMP) browser
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

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

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
