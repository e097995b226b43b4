#!/usr/bin/env bash
# Checks that the committed generated protocol code (internal/Protocol/Messages/*.g.cs,
# ApiKeys.g.cs, KafkaMessages.g.cs, ErrorCode.g.cs) is exactly what tools/ProtocolGen makes of
# internal/Protocol/Schemas. The generator runs into a temporary copy, so the work tree is left
# alone. Uses the generator's existing Release build when there is one (scripts/test.sh builds the
# solution first), so it takes about a second. Exit 0 when equal, 1 with one line otherwise.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/internal/Protocol"
cp -R internal/Protocol/Schemas "$tmp/internal/Protocol/Schemas"

gen=(dotnet run --project tools/ProtocolGen -c Release --)
if [ -f tools/ProtocolGen/bin/Release/net10.0/KafScale.ProtocolGen.dll ] \
   && [ -z "$(find tools/ProtocolGen -name '*.cs' -not -path '*/obj/*' -newer tools/ProtocolGen/bin/Release/net10.0/KafScale.ProtocolGen.dll -print -quit)" ]; then
  gen=(dotnet tools/ProtocolGen/bin/Release/net10.0/KafScale.ProtocolGen.dll)
fi
if ! log="$("${gen[@]}" "$tmp" 2>&1)"; then
  echo "check-protocol: the generator failed: $log" >&2
  exit 1
fi

differ=()
# Every generated file on either side: one the generator would delete counts as a difference too.
while IFS= read -r rel; do
  if ! cmp -s "$rel" "$tmp/$rel" 2>/dev/null; then differ+=("$rel"); fi
done < <( { (cd "$tmp" && find internal/Protocol -name '*.g.cs'); find internal/Protocol -name '*.g.cs' -not -path '*/obj/*' -not -path '*/bin/*'; } | sort -u)

if [ ${#differ[@]} -gt 0 ]; then
  echo "check-protocol: generated protocol code differs from internal/Protocol/Schemas in ${#differ[@]} file(s) (first: ${differ[0]}): run ./scripts/gen-protocol.sh and commit the result" >&2
  exit 1
fi
echo "check-protocol: generated protocol code matches the schemas"
