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
# pip, quiet, without its "WARNING: Location" lines, failing when pip fails (a half-installed environment would
# otherwise surface later as confusing import errors in the tests)
pip_q() {
  if ! python -m pip install -q "$@" 2>&1 | { grep -v "^WARNING: Location" || true; }; then
    echo "setup failed: 'pip install $*' did not complete; see the pip output above" >&2
    return 1
  fi
}
pip_q --upgrade pip || true  # an old pip still installs
if ! python -c "import torch, sys; sys.exit(0 if torch.__version__.startswith('2.13.0') else 1)" 2>/dev/null; then
  pip_q "torch==2.13.0"
fi
spec="."
[ -n "$extras" ] && spec=".[${extras}]"
pip_q -c constraints.txt -e "$spec"
python -c "import torch, rag; assert torch.__version__.startswith('2.13.0'), torch.__version__" \
  || { echo "setup failed: torch 2.13.0 or latte did not install; see the pip output above" >&2; exit 1; }
