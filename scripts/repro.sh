#!/usr/bin/env bash
# Quick start, step 1: set up what is missing, then run the whole pipeline on the default world.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH" DVC_NO_ANALYTICS=1
exec dvc repro "$@"
