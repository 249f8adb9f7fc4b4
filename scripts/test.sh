#!/usr/bin/env bash
# Installs everything (runtime, test tools, chromium), runs ruff, then the whole test suite.
# Extra arguments go to pytest, e.g. scripts/test.sh -m "not slow".
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh --dev
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
.venv/bin/ruff check .  # lint first: CI fails on a ruff finding as on a failing test
exec .venv/bin/python -m pytest "$@"
