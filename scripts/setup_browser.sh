#!/usr/bin/env bash
# What the donation page's browser test needs beside .venv: Debian's Chromium. (The pinned
# Pyodide comes with the page: `tiesignal donations build`, which the test runs, fetches it
# with npm ci once.) Installs what is missing; safe to rerun.
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
