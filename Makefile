# IMR Prescreen. `make` alone prints this help. Every target installs what it needs first.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RAY_STAMP := $(VENV)/.installed-ray
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER := 0
export RAY_USAGE_STATS_ENABLED := 0
export MLFLOW_SERVER_ENABLE_JOB_EXECUTION := false

.PHONY: help install install-ray data train serve test lint typecheck bench soak tune score mlflow-ui clean

help: ## print this help
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first and exactly pinned: anything else resolving it would pull a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(RAY_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,ray]'
	touch $(RAY_STAMP)

install: $(STAMP) ## build .venv with pip (a no-op when it is up to date)

install-ray: $(RAY_STAMP) ## add the optional Ray extra (parallel data, batch scoring and tuning on Ray)

data: $(STAMP) ## build data/items.parquet + manifest + rejects (ENGINE=ray to parse on Ray; IMR_SOURCES=... own data)
	$(BIN)/imr data $(if $(ENGINE),--engine $(ENGINE))

train: $(STAMP) ## train, log to MLflow, register and gate champions (CONFIG=experiments/x.yaml for one file)
	test -f data/items.parquet || $(BIN)/imr data
	$(BIN)/imr train $(if $(CONFIG),--config $(CONFIG))

# Worker processes of `make serve` unless IMR_WORKERS says otherwise: one per core, at most 4 (each worker holds its
# own copy of the models, about 0.5 GB); `imr serve` alone runs one.
SERVE_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); if [ $$n -gt 4 ]; then n=4; fi; echo $$n)

serve: $(STAMP) ## build the data and a champion if missing, then serve API + page on http://127.0.0.1:8000
	test -f data/items.parquet || $(BIN)/imr data
	$(BIN)/imr train --if-missing
	IMR_WORKERS=$${IMR_WORKERS:-$(SERVE_WORKERS)} $(BIN)/imr serve

score: $(STAMP) ## batch-score a file of requests: make score INPUT=requests.csv OUTPUT=results.parquet [ENGINE=ray]
	$(BIN)/imr score --input $(INPUT) --output $(OUTPUT) $(if $(ENGINE),--engine $(ENGINE))

tune: $(RAY_STAMP) ## tune a candidate with Ray Tune (CONFIG=experiments/dwc-first-version.yaml CANDIDATE=tfidf-checklist SAMPLES=16)
	test -f data/items.parquet || $(BIN)/imr data
	$(BIN)/imr tune --config $(or $(CONFIG),experiments/dwc-first-version.yaml) --candidate $(or $(CANDIDATE),tfidf-checklist) --samples $(or $(SAMPLES),16)

test: $(RAY_STAMP) lint typecheck ## ruff, mypy, then the whole test suite (unit, data, model, api, browser, hardening, Ray)
	$(BIN)/pytest -q

lint: $(STAMP) ## ruff check + format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP) ## mypy (strict on features/ and serving/)
	$(BIN)/mypy features training serving cli.py

bench: $(RAY_STAMP) ## side-by-side benchmarks: parsing, training wall time, serving vs mlflow, Ray, explanations
	test -f data/items.parquet || $(BIN)/imr data
	$(BIN)/python benchmarks/bench_parse.py
	$(BIN)/python benchmarks/bench_train.py
	$(BIN)/python benchmarks/bench_serve.py
	$(BIN)/python benchmarks/bench_batch.py
	$(BIN)/python benchmarks/bench_ray.py
	$(BIN)/python benchmarks/checklist_quality.py
	$(BIN)/python benchmarks/similar_quality.py

soak: $(STAMP) ## 10-minute soak: 50 clients against a production-configured server (loopback only)
	$(BIN)/python benchmarks/soak.py

mlflow-ui: $(STAMP) ## open the MLflow UI on http://127.0.0.1:5000 (one worker, job execution off)
	$(BIN)/mlflow ui --backend-store-uri $${MLFLOW_TRACKING_URI:-sqlite:///$(CURDIR)/mlflow.db} --host 127.0.0.1 --port 5000 --workers 1

clean: ## remove derived data, models and the local tracking store (keeps .venv)
	rm -rf data mlruns mlartifacts mlflow.db .models bench-results
