# kazllm: `make quickstart` (set up + run the whole flow on the bundled sample) and `make test`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# CPU build of torch where there is no NVIDIA GPU; on this project's CPU machines pip finds it on local disk.
TORCH_SPEC ?= $(shell command -v nvidia-smi >/dev/null 2>&1 && echo "torch" || echo "torch==2.13.0")

.PHONY: setup quickstart continue-demo test lint clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q "$(TORCH_SPEC)"
	$(PIP) install -q -e ".[dev]"
	touch $@

quickstart: setup
	$(VENV)/bin/kazllm quickstart

# Continued pretraining on CPU: a tiny Llama with Qwen2's real tokenizer as the base, extended and trained on.
continue-demo: setup
	$(PY) scripts/make_tiny_base.py --out runs/tiny_qwen_base
	$(VENV)/bin/kazllm quickstart --config configs/continue_demo.yaml

# The lint runs first: a line over 110 characters or a docstring off the convention fails the tests too.
test: setup lint
	$(VENV)/bin/python -m pytest -q -rs tests

# ruff is pinned in pyproject.toml, so the same version judges here and in CI (format output differs by version).
lint: setup
	$(VENV)/bin/ruff check kazllm data_prep eval scripts tests
	$(VENV)/bin/ruff format --check kazllm data_prep eval scripts tests

clean:
	rm -rf runs/quickstart runs/continue_demo runs/tiny_qwen_base
