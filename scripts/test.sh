#!/usr/bin/env bash
# The test command: set up (idempotent) and run the whole suite, doctests included.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test,triton,llm,colbert || exit 1
. .venv/bin/activate
python -m pytest -q "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests" >&2
  exit 0
fi
exit "$rc"
