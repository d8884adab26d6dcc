#!/usr/bin/env bash
# The test command: set up (idempotent), lint (ruff) and type-check (mypy), then run the whole suite, doctests
# included (tests/test_doctests.py) and the layering check (tests/test_layering.py).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test,triton,llm,colbert || exit 1
. .venv/bin/activate
ruff check . || exit 1  # rule set and its reasons: [tool.ruff] in pyproject.toml
mypy || exit 1  # the source packages ([tool.mypy] files in pyproject.toml)
python -m pytest -q "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests" >&2
  exit 0
fi
exit "$rc"
