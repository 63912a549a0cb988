# The two commands of the README, and the tools around them.
#   make demo     run the embedded default on http://127.0.0.1:$(PORT)
#   make test     run every test (lint, unit, server-extension, hub and browser tests, docs)
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: demo test setup-demo setup-test lint format pytest docs bench gpu-check constraints clean

demo: setup-demo
	@MUTIRAO_PORT=$(PORT) scripts/demo.sh

test: setup-test
	$(MAKE) lint
	$(MAKE) docs
	$(MAKE) pytest

setup-demo:
	@timeout 3000 scripts/setup.sh demo

setup-test:
	@timeout 3000 scripts/setup.sh test

lint:
	timeout 300 $(BIN)/ruff check .
	timeout 300 $(BIN)/ruff format --check .
	timeout 600 $(BIN)/mypy
	cd lab_ext && timeout 300 npm run --silent lint

format:
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	cd lab_ext && npm run --silent lint:fix

pytest:
	timeout 1800 $(BIN)/python -m pytest $(PYTEST_ARGS)

docs:
	timeout 600 $(BIN)/sphinx-build -W --keep-going -n -b html docs docs/_build/html

bench: setup-test
	timeout 3000 $(BIN)/python -m tests.benchmarks

# On a machine with NVIDIA GPUs (not part of `make test`): NVML discovery and a spawned
# local server that sees exactly its assigned GPU
gpu-check: setup-test
	timeout 900 $(BIN)/python -m tests.gpu.check_gpu

# Re-pin what CI installs: run after changing a dependency in a pyproject.toml
constraints:
	scripts/constraints.sh

clean:
	rm -rf .state docs/_build test-artifacts lab_ext/lib lab_ext/mutirao_lab/labextension
