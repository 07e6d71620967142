# Two commands matter: `make demo` and `make test` (see README.md). Both build .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast serve lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/recsys demo

test: $(STAMP)
	$(BIN)/python -m pytest -m "not bench" -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not bench" -q

serve: $(STAMP)
	$(BIN)/recsys serve

lint: $(STAMP)
	$(BIN)/ruff check recsys pipelines serving tests bench

clean:
	rm -rf $(VENV) data/raw data/processed models/2* reports
