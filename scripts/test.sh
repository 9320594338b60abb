#!/usr/bin/env bash
# The README's test command: set up (idempotent), lint, then run every test tier.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 LITELLM_LOCAL_MODEL_COST_MAP=True
.venv/bin/ruff check .
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
