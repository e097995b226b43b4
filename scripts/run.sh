#!/usr/bin/env bash
# Starts a single self-contained broker on 127.0.0.1:9092 (data under ./kafscale-data),
# building the binary first if needed. Extra arguments go to `kafscale broker`.
set -euo pipefail
cd "$(dirname "$0")/.."
# Rebuild when a source, a project file or a package version changed since the last build.
if [ ! -x out/kafscale ] || [ -n "$(find cmd internal Directory.Build.props Directory.Packages.props global.json \
    -newer out/kafscale \( -name '*.cs' -o -name '*.csproj' -o -name '*.props' -o -name '*.json' -o -name '*.ts' -o -name '*.css' -o -name '*.html' -o -name '*.mjs' \) \
    -not -path '*/bin/*' -not -path '*/obj/*' -not -path '*/node_modules/*' -not -path '*/dist/*' -print -quit)" ]; then
  ./scripts/build.sh
fi
exec out/kafscale broker --listen "${KAFSCALE_BROKER_ADDR:-127.0.0.1:9092}" --http "${KAFSCALE_METRICS_ADDR:-127.0.0.1:9093}" "$@"
