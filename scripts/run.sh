#!/usr/bin/env bash
# Installs what is missing, then starts the app on http://127.0.0.1:8501
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1} TRANSFORMERS_OFFLINE=${TRANSFORMERS_OFFLINE:-1}
exec .venv/bin/streamlit run serve_app.py --server.address 127.0.0.1 --server.port "${PORT:-8501}" \
  --server.headless true "$@"
