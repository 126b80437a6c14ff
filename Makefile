# Everyday commands. `make help` lists them.
PYTHON := .venv/bin/python
STACK ?= dev

.PHONY: help setup quickstart test lint render policy benchmark integration clean

help:
	@echo "setup       venv, Python dependencies and OPM Flow (apt) when missing"
	@echo "quickstart  setup, then run SPE1 locally and summarise its results"
	@echo "test        the test suite (mocks, the real simulator, S3 on loopback)"
	@echo "lint        ruff format --check, ruff check, mypy"
	@echo "render      print the STACK's Kubernetes objects (STACK=dev)"
	@echo "policy      check the STACK's resources against the policy rules"
	@echo "benchmark   render 10, 100 and 1000 cases against the bare SDK"
	@echo "integration the real engine against a local control plane"

setup:
	bash tools/quickstart.sh --setup-only

quickstart:
	bash tools/quickstart.sh

test:
	$(PYTHON) -m pytest

lint:
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -m ruff check .
	$(PYTHON) -m mypy components tools policy

render:
	$(PYTHON) -m tools.render --stack $(STACK)

policy:
	$(PYTHON) -m tools.render --stack $(STACK) --check-policies

benchmark:
	$(PYTHON) -m tools.benchmark

integration:
	bash tools/integration/run.sh

clean:
	rm -rf runs results .pytest_cache .mypy_cache .ruff_cache .hypothesis
