# Two commands set everything up from nothing: `make demo` and `make test`.
# torch is installed first from its CPU build (a bare `torch` requirement would pull CUDA).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[st,dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/linker demo -o demo_linked.csv

test: install
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check linker tests benchmarks datasets
	$(VENV)/bin/ruff format --check linker tests benchmarks datasets
	$(VENV)/bin/mypy linker

bench: install
	$(PY) benchmarks/blocking.py --data-root ../shared/datasets --all

clean:
	rm -rf $(VENV) demo_linked.csv .pytest_cache .ruff_cache .mypy_cache
