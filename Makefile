# make demo: set up, then SmolLM2 answers MATH-500 problems alone and as a multi-agent system
# (mas=ceo), and writes the leaderboard and the episode viewer (CPU, no hub)
# make test: set up, then lint and the default test suite (CI also runs make test-slow)
SHELL := /bin/bash
DATA ?= $(abspath ../shared/benchmarks)
export HARNESS_DATA_DIR ?= $(DATA)
export WANDB_MODE ?= offline
export HF_HUB_OFFLINE ?= 1

.PHONY: setup demo test test-slow lint bench contracts vllm docs
setup:
	@bash scripts/setup.sh
	@bash scripts/setup_browser.sh

# vLLM's CPU build in its own venv (.venv-vllm); the core .venv never needs it
vllm:
	@bash scripts/setup_vllm.sh

demo: setup
	@bash scripts/demo.sh

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

# each pytest run lists its 25 slowest tests (addopts in pyproject.toml), so a test that grows shows
test: lint
	.venv/bin/python -m pytest -m "not slow"

# real-model tests that take minutes each (SmolLM2 in every system, oracle grading under load,
# DeepSpeed SFT, sweeps into reports, the browser on real runs); the vLLM ones run in .venv-vllm
# (.ci/vllm_step.sh)
test-slow: setup
	.venv/bin/python -m pytest -m "slow and not vllm"

# regenerate docs/ (leaderboard, plots) from a sweep of the tiny model
docs: setup
	bash scripts/make_docs.sh

bench: setup
	for b in tests/benchmarks/bench_*.py; do echo "== $$b"; .venv/bin/python $$b || exit 1; done

contracts: setup
	HARNESS_PY=.venv/bin/python bash ../shared/checks/contracts
