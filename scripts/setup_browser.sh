#!/usr/bin/env bash
# What the donation page's tests need beside .venv: Debian's Chromium and the pinned Pyodide
# (donate/package-lock.json, from the npm registry). Installs what is missing; safe to rerun.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium > /dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
    echo "setup: installing Debian's chromium (the donation page's browser test)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null
  else
    echo "setup: no chromium; install Debian's package: sudo apt-get install chromium" >&2
  fi
fi
if [ ! -f donate/node_modules/pyodide/pyodide.mjs ]; then
  echo "setup: fetching the pinned pyodide with npm ci (donate/package-lock.json)"
  (cd donate && npm ci --ignore-scripts --no-audit --no-fund --silent)
fi
