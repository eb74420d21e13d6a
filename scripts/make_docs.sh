#!/usr/bin/env bash
# Regenerates docs/leaderboard.{md,tex,csv} and docs/*.png from a small sweep of the tiny random
# model on CPU (a few minutes). The model is random, so the numbers are not results: the files
# show the format `python -m harness.report` gives any sweep.
#   bash scripts/make_docs.sh            (after `make setup`)
set -euo pipefail
cd "$(dirname "$0")/.."
export HARNESS_DATA_DIR=${HARNESS_DATA_DIR:-$(cd .. && pwd)/shared/benchmarks}
export WANDB_MODE=${WANDB_MODE:-offline} HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
sweep=multirun/docs-tiny   # git-ignored; running the script again resumes this sweep
.venv/bin/python -m harness -m model=tiny mas=single,agentverse,ceo agents=2,3 \
  tokens=32,64,128 turns=1 critic_rounds=1 limit=4 hydra.sweep.dir="$sweep"
rm -f docs/leaderboard.* docs/*.png
.venv/bin/python -m harness.report "$sweep" --out docs \
  --note "Tiny random model on 4 MATH-500 problems (CPU): the report's format, not a result."
