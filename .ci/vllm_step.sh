#!/usr/bin/env bash
# CI integration step for serving: the harness on vLLM's CPU build, for real.
#   1. builds .venv-vllm (scripts/setup_vllm.sh; quick when up to date)
#   2. the vLLM tests (pytest -m vllm: one loop, a sweep loads once, seeds, SIGTERM, the paper's
#      sampling in-process and over vLLM's server, a server whose engine is killed mid-run)
#   3. model.engine=vllm in-process on smollm2-135m, mas=single and mas=ceo (the tiny model's
#      in-process runs are pytest's), at the paper's sampling (temperature 0.7, top_p 0.95)
#   4. model=openai from the core .venv (no vLLM in it) against vLLM's OpenAI server on
#      127.0.0.1, at the paper's sampling (stopped afterwards, also on failure)
# Prints each sub-step's wall time; any failure fails the step.
set -euo pipefail
cd "$(dirname "$0")/.."
export HARNESS_DATA_DIR=${HARNESS_DATA_DIR:-$(cd .. && pwd)/shared/benchmarks}
export HARNESS_CACHE=${HARNESS_CACHE:-$PWD/.cache/harness}
export WANDB_MODE=offline HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off
PY=.venv-vllm/bin/python
OUT=$(mktemp -d "${TMPDIR:-/tmp}/vllm-step.XXXXXX")
T0=$SECONDS
server_pid=""

step() {
  local name=$1 t=$SECONDS
  shift
  echo "== vllm step: $name"
  "$@"
  echo "== vllm step: $name: $((SECONDS - t)) s"
}

stop_server() {
  [ -n "$server_pid" ] || return 0
  # The server and its engine processes share one process group (setsid below).
  kill -TERM -- "-$server_pid" 2>/dev/null || true
  for _ in $(seq 60); do
    pgrep -g "$server_pid" >/dev/null 2>&1 || break
    sleep 0.5
  done
  if pgrep -g "$server_pid" >/dev/null 2>&1; then
    echo "vllm step: server ignored SIGTERM, killing its process group"
    kill -KILL -- "-$server_pid" 2>/dev/null || true
  fi
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}
trap 'stop_server; echo "== vllm step: total $((SECONDS - T0)) s"' EXIT

check_runs() {  # every run under $1 finished all $2 problems
  "$PY" - "$1" "$2" <<'EOF'
import json, sys
from pathlib import Path

root, n = Path(sys.argv[1]), int(sys.argv[2])
summaries = sorted(root.rglob("summary.json"))
assert summaries, f"no run under {root}"
for path in summaries:
    s = json.loads(path.read_text())
    print(f"  {s['model']}/{s['mas']}: n={s['n']} calls={s['calls']} "
          f"completion_tokens={s['completion_tokens']} wall_s={s['wall_s']} "
          f"per_call_seeds={s.get('per_call_seeds')}")
    assert s["n"] == n and s["complete"] and s["calls"] > 0, (path, s)
EOF
}

step "setup .venv-vllm" bash scripts/setup_vllm.sh
model_dir() {  # builds the model on first use; its folder is the last line printed
  "$PY" -c "from harness.engines.model_builds import resolve_model_path as r
from harness.settings import compose as c
print(r(c(['model=$1']).model))" | tail -n1
}
step "build the models" model_dir smollm2-135m
TINY=$(model_dir tiny)
echo "tiny: $TINY"

step "pytest -m vllm" "$PY" -m pytest -m vllm tests/engines -p no:cacheprovider

# A small ceo system: on 2 CPU cores vLLM computes on one (it keeps one for its frontend), and
# a ceo episode's long prompts make prefill the cost. SmolLM2 runs eager: compiling it costs
# minutes here, and compiled execution is what the tiny model covers.
SMALL_CEO=(agents=2 turns=1 critic_rounds=1)
PAPER=(temperature=0.7 top_p=0.95)  # the paper's sampling: seeded calls at temperature > 0
step "in-process smollm2-135m (single, ceo)" "$PY" -m harness -m model=smollm2-135m \
  model.engine=vllm model.enforce_eager=true mas=single,ceo "${SMALL_CEO[@]}" "${PAPER[@]}" \
  limit=2 tokens=48 run.progress=false "hydra.sweep.dir=$OUT/smollm2"
check_runs "$OUT/smollm2" 2

port=$("$PY" -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
echo "== vllm step: starting the OpenAI server on 127.0.0.1:$port ($TINY)"
t=$SECONDS
VLLM_CPU_KVCACHE_SPACE=1 setsid "$PY" -m vllm.entrypoints.openai.api_server --model "$TINY" \
  --host 127.0.0.1 --port "$port" --dtype float32 --max-model-len 4096 --enforce-eager \
  >"$OUT/server.log" 2>&1 &
server_pid=$!
until "$PY" -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$port/v1/models', timeout=5)" 2>/dev/null; do
  if ! kill -0 "$server_pid" 2>/dev/null || [ $((SECONDS - t)) -gt 900 ]; then
    tail -50 "$OUT/server.log"
    echo "vllm step: the OpenAI server did not come up"
    exit 1
  fi
  sleep 2
done
echo "== vllm step: server up: $((SECONDS - t)) s"
# The core venv: talking to a server needs no vLLM.
step "openai engine over HTTP (single, ceo)" .venv/bin/python -m harness -m model=openai \
  "model.base_url=http://127.0.0.1:$port/v1" mas=single,ceo "${SMALL_CEO[@]}" "${PAPER[@]}" \
  limit=3 tokens=64 \
  run.progress=false "hydra.sweep.dir=$OUT/openai"
check_runs "$OUT/openai" 3
step "stop the server" stop_server
rm -rf "$OUT"
