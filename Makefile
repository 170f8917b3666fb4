# Every target installs what it needs: Debian packages, uv (in a tools venv outside the clone),
# the project's venv from uv.lock, Maven jars (~/.m2) and the registry binary (~/.cache).
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.8
TOOLS := $(HOME)/.cache/fraud-scorer/tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
FRAUD := $(VENV)/bin/fraud
export PATH := /usr/local/go/bin:$(PATH)
PYTEST_ARGS ?=

.PHONY: help demo test system-deps install stack-up stack-down stack-status lint format

help: ## Show this help.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[36mmake %-13s\033[0m %s\n", $$1, $$2}'

demo: install ## Run the main job end to end on local services, then stop them.
	@$(FRAUD) stack up || { $(FRAUD) stack down; exit 1; }
	@$(FRAUD) demo; rc=$$?; $(FRAUD) stack down; exit $$rc

test: install ## Install everything, start the stack, run every test, stop the stack.
	@$(FRAUD) stack up || { $(FRAUD) stack down; exit 1; }
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; $(FRAUD) stack down; exit $$rc

system-deps: ## Install the Debian packages the stack runs (Kafka's JVM, Redis, PostgreSQL, Prometheus).
	@deploy/local/install-system-deps.sh

$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --python 3.11
	@touch $@

install: system-deps $(VENV)/.synced ## Create .venv from uv.lock (downloads cached in ~/.cache/uv).

stack-up: install ## Start Kafka, Redis, PostgreSQL, the model registry and Prometheus.
	$(FRAUD) stack up

stack-down: ## Stop what stack-up started.
	$(FRAUD) stack down

stack-status: ## One line per service.
	$(FRAUD) stack status

lint: install ## ruff and mypy.
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install ## Apply ruff's fixes and formatting.
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .
