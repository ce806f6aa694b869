# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: test demo lint type bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,bot]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/python docs/examples/demo.py

lint: $(STAMP)
	$(BIN)/ruff check pytest_streamreplay tradingbot tests bench
	$(BIN)/ruff format --check pytest_streamreplay tradingbot tests bench

type: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	for f in bench/bench_*.py; do $(BIN)/python $$f; done

clean:
	rm -rf $(VENV) .tox .mypy_cache .ruff_cache .pytest_cache
