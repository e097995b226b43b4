#!/usr/bin/env bash
# Installs what the build and the tests need, idempotently: Debian packages (compiler and
# linker for native AOT, etcd, Kafka clients with their compression modules, an Avro reader, and the
# validators of the packaging: docker-compose, shellcheck, systemd-analyze, and chromium for the
# web console's browser tests)
# and the node packages of the test clients. Safe to run again; it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# The build's own prerequisites first (clang, lld), as scripts/build.sh installs them.
./scripts/install-build-deps.sh

packages=(etcd-server etcd-client kcat python3-kafka python3-confluent-kafka python3-snappy python3-lz4 python3-zstandard python3-xxhash python3-avro docker-compose shellcheck systemd nodejs npm chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node/npm may come from elsewhere than Debian; only install them when absent.
if command -v node >/dev/null 2>&1; then missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}"); fi
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | grep -v '^$' || true)
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Node packages: Kafka clients (test/clients), test servers such as the S3 server (test/servers) and
# playwright-core, which drives Debian's chromium through the web console (test/WebConsole.Tests/browser).
for dir in test/clients test/servers test/WebConsole.Tests/browser; do
  [ -f "$dir/package.json" ] || continue
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules" ]; then
    # 'npm install' rather than 'npm ci': the lock file holds only this platform's DuckDB
    # binding (the registry here serves no others), which 'npm ci' calls out of sync.
    (cd "$dir" && npm install --no-audit --no-fund --loglevel=error && touch node_modules)
  fi
done
