#!/usr/bin/env bash
# Writes the upgrade fixture (test/Integration/Fixtures/upgrade-<version>): a data directory of
# a self-contained broker (embedded metadata, directory object store) written by an earlier
# release, which the current broker must open unchanged (docs/operations.md, "Upgrading").
#   tools/upgrade-fixture/make-fixture.sh OLD_BINARY
# Two broker runs, each ended by SIGTERM: run 1 creates the topics and writes the first half of
# the records, run 2 the second half and the group's committed offsets (write_data.py).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -eq 1 ] && [ -x "$1" ] || { echo "usage: tools/upgrade-fixture/make-fixture.sh OLD_BINARY" >&2; exit 2; }
old=$1
version=$("$old" --version | head -n 1)
out=test/Integration/Fixtures/upgrade-$version
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
http=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
for phase in 1 2; do
  "$old" broker --listen "127.0.0.1:$port" --http "127.0.0.1:$http" --data-dir "$work/data" >> "$work/broker.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  /usr/bin/python3 tools/upgrade-fixture/write_data.py "127.0.0.1:$port" "$phase"
  kill -TERM "$pid"
  wait "$pid"
done
rm -rf "$out"
mkdir -p "$out"
cp -r "$work/data/." "$out/"
rm -f "$out/metadata/LOCK"
echo "$version" > "$out/RELEASE"
echo "wrote $out ($(du -sh "$out" | cut -f1)) from release $version"
