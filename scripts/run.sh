#!/usr/bin/env bash
# The main job: set up, index FOLDER (default: this repository's own docs and README), run a few searches, then
# serve the REST API and web page on http://127.0.0.1:${LATTE_PORT:-8000} (Ctrl-C stops it).
# Usage: scripts/run.sh [FOLDER ...]   env: LATTE_INDEX (default indexes/demo), LATTE_PROFILE (default 'default'),
#        LATTE_NO_SERVE=1 to stop after the searches.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
index="${LATTE_INDEX:-indexes/demo}"
profile="${LATTE_PROFILE:-default}"
if [ "$#" -gt 0 ]; then sources=("$@"); else sources=(README.md docs); fi
latte ingest "${sources[@]}" --index "$index" --profile "$profile"
latte info --index "$index"
for q in "how are commits made atomic" "binary quantization of token vectors" "which dependencies and why"; do
  latte search "$q" --index "$index" -k 3
done
if [ "${LATTE_NO_SERVE:-0}" != "1" ]; then
  exec latte serve --index "$index" --host "${LATTE_HOST:-127.0.0.1}" --port "${LATTE_PORT:-8000}"
fi
