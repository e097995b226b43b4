#!/usr/bin/env bash
# Builds the native-AOT binary out/kafscale (linux-x64). Trim/AOT warnings fail the build.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v clang >/dev/null 2>&1 || ! command -v ld.lld >/dev/null 2>&1; then
  echo "build.sh: the native-AOT link needs clang and lld (Debian: apt-get install clang lld)" >&2
  exit 1
fi

dotnet publish cmd/kafscale/kafscale.csproj -c Release -r linux-x64 -o out/publish -p:TreatWarningsAsErrors=true -nologo -clp:ErrorsOnly
mkdir -p out
cp out/publish/kafscale out/kafscale.tmp && mv -f out/kafscale.tmp out/kafscale
echo "built out/kafscale ($(du -h out/kafscale | cut -f1))"
