# Tanhui: the two commands a newcomer needs are `make demo` and `make test`.
PY      ?= python3.11
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: install demo demo-pg test test-unit check bench services clean

install: $(STAMP)

$(STAMP): pyproject.toml setup.py src/tanhui/meters/_columns.c
	@command -v $(PY) >/dev/null 2>&1 || { echo "needs $(PY)"; exit 1; }
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	bash scripts/build_contracts.sh
	touch $(STAMP)

demo: install
	$(BIN)/tanhui demo

demo-pg: install services
	TANHUI_DATABASE_URL=postgresql+psycopg://root@127.0.0.1:5432/test $(BIN)/tanhui demo

services:
	bash scripts/services.sh

check: install
	bash scripts/check

test: install services check
	$(BIN)/pytest -n 2 -q

test-unit: install
	$(BIN)/pytest -q tests/unit

bench: install services $(VENV)/.bench
	$(BIN)/python -m benchmarks.run

# The benchmark environment adds the peers measured beside us (OpenEEmeter) to the dev install.
$(VENV)/.bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $@

clean:
	rm -rf $(VENV) var artifacts .pytest_cache .mypy_cache .ruff_cache
