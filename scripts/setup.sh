#!/usr/bin/env bash
# Create .venv and install latte with the given extras; torch is pinned first (a CPU wheel) and stays pinned.
# Usage: scripts/setup.sh [EXTRAS]   e.g. scripts/setup.sh test,triton,llm
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
py="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$py" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
if ! python -c "import torch, sys; sys.exit(0 if torch.__version__.startswith('2.13.0') else 1)" 2>/dev/null; then
  python -m pip install -q "torch==2.13.0" 2>&1 | grep -v "^WARNING: Location" || true
fi
spec="."
[ -n "$extras" ] && spec=".[${extras}]"
python -m pip install -q -c constraints.txt -e "$spec" 2>&1 | grep -v "^WARNING: Location" || true
python -c "import torch, rag; assert torch.__version__.startswith('2.13.0'), torch.__version__" \
  || { echo "setup failed: torch 2.13.0 or latte did not install; see the pip output above" >&2; exit 1; }
