# The two commands: `make demo` runs the Yizhuang comparison, `make test` runs the suite.
# Each creates the virtual environment on first use (Python 3.11 and pip are all it needs).

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-all bench lint networks clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH (or make PYTHON=/path/to/python3.11)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,ray]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/signal-opt demo --out out/demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 -m "not slow"

test-all: $(STAMP)
	$(BIN)/python -m pytest -q -n 2

bench: $(STAMP)
	$(BIN)/signal-opt bench

lint: $(STAMP)
	$(BIN)/ruff check signal_opt tests benchmarks networks
	$(BIN)/mypy signal_opt

networks: $(STAMP)
	$(BIN)/python networks/build.py

clean:
	rm -rf out .pytest_cache
