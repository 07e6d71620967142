# Two commands matter: `make demo` and `make test` (see README.md). Both build .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast serve lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,spark]'
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

# Removes exactly what `make demo` recorded creating (models/.demo-created.json: sample data,
# report, bundles), repairs models/PROMOTED, drops stale temp bundle folders, then the venv.
# Your own data, reports and bundles stay.
clean:
	if test -x $(BIN)/recsys; then $(BIN)/recsys models remove-created --models-dir models; \
	else echo "no $(VENV): demo outputs (models/.demo-created.json) left in place"; fi
	rm -rf $(VENV)
