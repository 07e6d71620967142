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

# Serves the promoted bundle (training the demo one first when none is promoted) with a local
# service key (made once in the git-ignored .recsys/) and prints example calls. Ctrl-C stops it.
serve: $(STAMP)
	@test -s models/PROMOTED || { echo "no bundle promoted in models/: running make demo first"; \
		$(MAKE) --no-print-directory demo; }
	$(BIN)/recsys serve --keys-file .recsys/api-keys.json --create-key --examples

lint: $(STAMP)
	$(BIN)/ruff check recsys pipelines serving tests bench

clean:
	rm -rf $(VENV) data/raw data/processed models/2* reports
