# Two commands: `make serve` runs the server, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test

.PHONY: serve test lint typecheck bench clean

# A fresh machine needs Python >= 3.11 with venv (Debian and Ubuntu ship it apart, as
# python3-venv) and make: each missing piece is one line saying how to get it.
$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: no $(PYTHON) on PATH: install Python 3.11 or newer (or run make PYTHON=/path/to/python3.11 ...)" >&2; exit 2; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "error: inbetween needs Python 3.11 or newer, $(PYTHON) is $$($(PYTHON) --version 2>&1): install one and run make PYTHON=python3.11 ..." >&2; exit 2; }
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { echo "error: $(PYTHON) cannot create a virtual environment (no venv/ensurepip module); on Debian or Ubuntu: sudo apt-get install python3-venv" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $(RUN_STAMP)

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,diffusion]'
	touch $(TEST_STAMP) $(RUN_STAMP)

serve: $(RUN_STAMP)
	$(BIN)/inbetween serve

test: $(TEST_STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests benchmarks

typecheck: $(TEST_STAMP)
	$(BIN)/mypy

bench: $(TEST_STAMP)
	$(BIN)/pip install --quiet -e '.[test,bench]'
	$(BIN)/python benchmarks/bench_generate.py
	$(BIN)/python benchmarks/bench_engine.py
	$(BIN)/python benchmarks/bench_synthesis.py
	$(BIN)/python benchmarks/bench_x264_presets.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
