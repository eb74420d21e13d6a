#!/usr/bin/env bash
# make demo: what this project is for, on a laptop. SmolLM2-135M answers a few MATH-500 problems
# twice: alone (mas=single) and as a multi-agent system (mas=ceo: a CEO agent steering two
# solvers and a critic, small budgets); then the leaderboard of the two and the episode viewer
# (every call of every agent, problems where the two differ first). vLLM when .venv-vllm exists
# (scripts/setup_vllm.sh), else transformers. Rerunning resumes: finished problems are kept.
set -euo pipefail
cd "$(dirname "$0")/.."
export HARNESS_DATA_DIR=${HARNESS_DATA_DIR:-$(cd .. && pwd)/shared/benchmarks}
export WANDB_MODE=${WANDB_MODE:-offline} HF_HUB_OFFLINE=1
OUT=${DEMO_DIR:-outputs/demo}
LIMIT=${DEMO_LIMIT:-4}
t0=$SECONDS
if [ -x .venv-vllm/bin/python ]; then
  # eager: compiling SmolLM2 costs minutes on a CPU, more than this demo generates
  PY=.venv-vllm/bin/python ENGINE=(model.engine=vllm model.enforce_eager=true)
else
  PY=.venv/bin/python ENGINE=()
fi
echo "demo: SmolLM2-135M on $LIMIT MATH-500 problems, mas=single and mas=ceo (${ENGINE[0]:-model.engine=transformers})"
"$PY" -m harness -m model=smollm2-135m "${ENGINE[@]}" benchmark=math500 mas=single,ceo \
  agents=2 turns=1 critic_rounds=1 tokens=256 limit="$LIMIT" tracking.wandb.mode=disabled \
  "hydra.sweep.dir=$OUT/runs"
.venv/bin/python -m harness.report "$OUT/runs" --out "$OUT/report" >/dev/null
# the two runs, compared: the viewer puts the problems where ceo and single differ first
mapfile -t RUNS < <(find "$OUT/runs" -name summary.json -printf '%h\n' | sort)
.venv/bin/python -m harness.view "${RUNS[@]}" --out "$OUT/episodes.html" >/dev/null
echo
cat "$OUT/report/leaderboard.md" 2>/dev/null || ls "$OUT/report"
echo
echo "demo: done in $((SECONDS - t0)) s"
echo "  leaderboard:    $OUT/report/leaderboard.md (and .csv, .tex, plots in $OUT/report)"
echo "  episode viewer: $OUT/episodes.html (open in a browser: ceo against single, every call)"
echo "  runs:           $OUT/runs (summary.json, results.jsonl, transcripts.jsonl per system)"
