# IMR Prescreen. `make` alone prints this help. Every target installs what it needs first.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER := 0
export RAY_USAGE_STATS_ENABLED := 0
export MLFLOW_SERVER_ENABLE_JOB_EXECUTION := false

.PHONY: help install data train serve test lint typecheck bench mlflow-ui clean

help: ## print this help
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first and exactly pinned: anything else resolving it would pull a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## build .venv with pip (a no-op when it is up to date)

data: $(STAMP) ## build data/items.parquet + manifest + rejects from the configured sources
	$(BIN)/imr data

test: $(STAMP) ## run the whole test suite (unit, data, model, api, browser)
	$(BIN)/pytest -q

lint: $(STAMP) ## ruff check + format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP) ## mypy (strict on features/ and serving/)
	$(BIN)/mypy features training serving cli.py

clean: ## remove derived data, models and tracking store (keeps .venv)
	rm -rf data mlruns mlartifacts mlflow.db .models
