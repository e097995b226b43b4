#!/usr/bin/env bash
# Builds the web console's front end into internal/WebConsole/ui/dist (docs/console.md), which the
# WebConsole project embeds in the binary. Installs the pinned packages (npm ci) when they are
# missing or older than package-lock.json. Without node and npm it says so and builds nothing:
# the binary then serves a page saying the console was not built.
set -euo pipefail
cd "$(dirname "$0")/../internal/WebConsole/ui"
if ! command -v npm >/dev/null 2>&1; then
  echo "build-console: npm is missing, so the binary will not carry the web console's pages: install nodejs and npm (scripts/install-deps.sh does)" >&2
  exit 0
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules
fi
# Up to date when nothing under src/, the build script or the lock file is newer than the bundle's
# index.html (written last). Not rewriting the bundle keeps the WebConsole project, which embeds
# it, from compiling again.
if [ -f dist/index.html ] && [ -z "$(find src build.mjs package-lock.json -newer dist/index.html -print -quit)" ]; then
  exit 0
fi
npm run --silent build
