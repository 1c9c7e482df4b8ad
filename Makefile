# remot: `make demo` builds a triplet dataset from the built-in demo corpus; `make test` runs the whole suite.
# Both create .venv with the pinned dependencies first (torch is installed before anything that needs it, as the
# CPU wheel 2.13.0: an unpinned torch would pull a multi-GB CUDA build).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Keep Prefect's state (ephemeral API database, results) inside the checkout and offline.
export PREFECT_HOME ?= $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export PREFECT_LOGGING_LEVEL ?= WARNING
export TOKENIZERS_PARALLELISM ?= false

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Data pipeline only (no torch): enough for the demo.
$(VENV)/.base: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

# Everything: training extra (torch first) and test tools.
$(VENV)/.full: pyproject.toml $(VENV)/.base
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[train,dev]'
	touch $@

demo: $(VENV)/.base
	$(BIN)/remot demo

test: $(VENV)/.full
	$(BIN)/python -m pytest -q tests

lint: $(VENV)/.full
	$(BIN)/ruff check .

bench: $(VENV)/.full
	$(BIN)/python benchmarks/frame_extraction.py

clean:
	rm -rf demo_data .prefect
