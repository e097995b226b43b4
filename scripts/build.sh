#!/usr/bin/env bash
# Builds the native-AOT binary out/kafscale (linux-x64). Trim/AOT warnings fail the build.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v dotnet >/dev/null 2>&1 || { echo "build.sh: the .NET SDK is missing: install the version global.json names" >&2; exit 1; }
# The native-AOT link needs clang and lld: installed here when missing (one line on stderr when
# they cannot be), so a fresh machine builds with this script alone.
./scripts/install-build-deps.sh

# The web console's front end (docs/console.md): bundled by esbuild into internal/WebConsole/ui/dist,
# which the publish below embeds. npm ci installs exactly what package-lock.json pins, once.
./scripts/build-console.sh

# The runtime identifier comes from kafscale.csproj, not from the command line: given as -r it
# would apply to every library too, which then compile a second time (once for the publish,
# once for the solution build that scripts/test.sh runs next) instead of sharing one build.
dotnet publish cmd/kafscale/kafscale.csproj -c Release -o out/publish -p:TreatWarningsAsErrors=true -nologo -clp:ErrorsOnly
mkdir -p out
cp out/publish/kafscale out/kafscale.tmp && mv -f out/kafscale.tmp out/kafscale
echo "built out/kafscale ($(du -h out/kafscale | cut -f1))"
