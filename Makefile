# Every target sets itself up: the first one used creates .venv and installs the project.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# cpu (tensorflow-cpu) or gpu (tensorflow with CUDA libraries); switching reinstalls TensorFlow
TF ?= cpu
OTHER_TF := $(if $(filter gpu,$(TF)),tensorflow-cpu,tensorflow)
STAMP := $(VENV)/.installed-$(TF)
# SEEDS and EPOCHS override the preset's own n_seeds and train.epochs (conf/experiment/) only when given
SEEDS ?=
EPOCHS ?=
# the learning-rate search's seeds (make tuned); SEEDS are the final seeds there
SEARCH_SEEDS ?= 3
SWEEP_ARGS ?=
# how the targets' sweeps run their jobs: parallel (Hydra's joblib launcher, 2 worker processes side by side) or
# basic (one after the other in one process); the numbers are the same either way
LAUNCHER ?= parallel
YAML_FILES = $(shell find conf -name '*.yaml') .pre-commit-config.yaml
SIZE = $(if $(SEEDS),n_seeds=$(SEEDS)) $(if $(EPOCHS),train.epochs=$(EPOCHS))
# Runs a sweep, then reports the folder it wrote: each preset names its folder after its size
# (outputs/multirun/<preset>-<seeds>seeds-<epochs>epochs), and bench.plan prints it.
sweep_and_report = $(PY) -m bench.run -m $(1) hydra/launcher=$(LAUNCHER) && $(PY) -m bench.report "$$($(PY) -m bench.plan $(1))"

.DEFAULT_GOAL := help
.PHONY: help install test test-fast run sweep directions merges variable-length length-generalisation tuned cells report bench ui lint format clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-16s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] < (3, 14)) and "Python 3.11-3.13 is needed")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	rm -f $(VENV)/.installed-*
	$(PY) -m pip uninstall --quiet --yes $(OTHER_TF)
	$(PY) -m pip install --quiet -e ".[$(TF),dev]"
	touch $@

install: $(STAMP) ## create .venv and install the project with TensorFlow (TF=cpu|gpu)

test: install ## run the whole test suite (the Slurm and Ray cluster tests skip, saying why, unless run as root with Debian's slurm-wlm, munge, slurmdbd, mariadb-server and the ray extra: bash .ci/run installs them)
	$(PY) -m pytest

test-fast: install ## run the tests not marked slow
	$(PY) -m pytest -m "not slow"

run: install ## one run with the defaults (bidirectional concat, seed 0)
	$(PY) -m bench.run

sweep: install ## every variant (the all preset; SEEDS=, EPOCHS= to change its size), then the report
	$(call sweep_and_report,experiment=all $(SIZE) $(SWEEP_ARGS))

directions: install ## forward vs backward vs bidirectional, then the report
	$(call sweep_and_report,experiment=directions $(SIZE) $(SWEEP_ARGS))

merges: install ## the four merge modes, then the report
	$(call sweep_and_report,experiment=merge_modes $(SIZE) $(SWEEP_ARGS))

variable-length: install ## every variant on sequences of 5 to 20 steps, then the report
	$(call sweep_and_report,experiment=variable_length $(SIZE) $(SWEEP_ARGS))

length-generalisation: install ## every variant trained on 10 steps and scored on 5 to 100 steps, then the report
	$(call sweep_and_report,experiment=length_generalisation $(SIZE) $(SWEEP_ARGS))

tuned: install ## each variant at its own learning rate: search on validation data, final seeds, side-by-side report
	$(PY) -m bench.run -m experiment=tuning_search n_seeds=$(SEARCH_SEEDS) $(if $(EPOCHS),train.epochs=$(EPOCHS)) $(SWEEP_ARGS) hydra/launcher=$(LAUNCHER)
	$(PY) -m bench.tune "$$($(PY) -m bench.plan experiment=tuning_search n_seeds=$(SEARCH_SEEDS) $(if $(EPOCHS),train.epochs=$(EPOCHS)) $(SWEEP_ARGS))" --seeds $(or $(SEEDS),10) --epochs $(or $(EPOCHS),1000) --launcher $(LAUNCHER)

cells: install ## every direction and merge of the LSTM, the GRU and the SimpleRNN, then the report
	$(call sweep_and_report,experiment=cells $(SIZE) $(SWEEP_ARGS))

report: install ## report the latest sweep under outputs/multirun
	$(PY) -m bench.report

bench: install ## speed benchmark: reference loop vs compiled engine vs packed seeds
	$(PY) -m bench.perf

ui: install ## the MLflow UI on the default store (tracking=mlflow), at http://127.0.0.1:5000
	$(PY) -m mlflow ui --backend-store-uri sqlite:///outputs/mlflow.db --host 127.0.0.1 --port 5000

lint: install ## ruff lint and format check, and every YAML file parses (the checks of .pre-commit-config.yaml)
	$(PY) -m ruff check bench hydra_plugins tests
	$(PY) -m ruff format --check bench hydra_plugins tests
	$(VENV)/bin/check-yaml $(YAML_FILES)

format: install ## apply ruff fixes and formatting
	$(PY) -m ruff check --fix bench hydra_plugins tests
	$(PY) -m ruff format bench hydra_plugins tests

clean: ## remove results, caches and the virtual environment
	rm -rf outputs multirun .pytest_cache .ruff_cache $(VENV) *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
