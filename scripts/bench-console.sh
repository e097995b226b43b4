#!/usr/bin/env bash
# Measures the web console's render times in a real browser (docs/console.md, "Render times"):
# one broker of the built binary with the directory store, BENCH_TOPICS topics of
# BENCH_PARTITIONS partitions each (1,000 partitions with the defaults), a few records in every
# topic and BENCH_RECORDS records in partition 0 of the first; then headless chromium, through
# playwright-core, loads the overview and the messages page (the newest 500 records of that
# partition) BENCH_RUNS times each in fresh browser contexts, and prints when each page's data
# reached the DOM, in ms since navigation start. Not part of the test suite; about a minute.
#
# Environment overrides:
#   BENCH_TOPICS (100)  BENCH_PARTITIONS (10)  BENCH_RECORDS (600)  BENCH_RUNS (5)
#   BENCH_KEEP=1 keeps the work directory
#   KAFSCALE_BINARY (default out/kafscale)  KAFSCALE_CHROMIUM (default /usr/bin/chromium)
set -euo pipefail
cd "$(dirname "$0")/.."

TOPICS=${BENCH_TOPICS:-100}
PARTITIONS=${BENCH_PARTITIONS:-10}
RECORDS=${BENCH_RECORDS:-600}
RUNS=${BENCH_RUNS:-5}
BINARY=${KAFSCALE_BINARY:-out/kafscale}
BROWSER_DIR=test/WebConsole.Tests/browser

log() { echo "bench-console: $*" >&2; }
die() { log "$*"; exit 1; }

[[ -x "$BINARY" ]] || die "$BINARY is missing: build it with scripts/build.sh (or set KAFSCALE_BINARY)"
command -v kcat >/dev/null 2>&1 || die "kcat is needed to produce records: run scripts/install-deps.sh"
command -v node >/dev/null 2>&1 || die "node is needed to drive chromium: run scripts/install-deps.sh"
[[ -d "$BROWSER_DIR/node_modules/playwright-core" ]] || die "playwright-core is missing: run scripts/install-deps.sh (or npm ci in $BROWSER_DIR)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kafscale-bench-console.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ "${BENCH_KEEP:-0}" == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() { # name port pid
  for _ in $(seq 1 300); do
    (echo >"/dev/tcp/127.0.0.1/$2") 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || die "$1 exited before listening"
    sleep 0.1
  done
  die "$1 did not listen on port $2 within 30 s"
}

kafka_port=$(free_port); http_port=$(free_port)
bootstrap="127.0.0.1:$kafka_port"
"$BINARY" broker --listen "$bootstrap" --http "127.0.0.1:$http_port" --data-dir "$WORK/data" \
  --default-partitions "$PARTITIONS" >"$WORK/broker.log" 2>&1 &
pids+=($!)
wait_port broker "$kafka_port" $!

log "creating $TOPICS topics of $PARTITIONS partitions"
first=
for i in $(seq -w 1 "$TOPICS"); do
  name="bench-$i"
  first=${first:-$name}
  "$BINARY" admin --bootstrap "$bootstrap" topics create "$name" --partitions "$PARTITIONS" >/dev/null
done

log "producing 10 records to each topic and $RECORDS to $first-0"
python3 -c "import sys; [print('r%04d {\"n\": %d, \"text\": \"%s\"}' % (i, i, 'x' * 150)) for i in range(10)]" >"$WORK/few.txt"
for i in $(seq -w 1 "$TOPICS"); do
  kcat -P -b "$bootstrap" -t "bench-$i" -K ' ' -X acks=all <"$WORK/few.txt"
done
python3 -c "import sys; [print('key-%05d {\"n\": %d, \"text\": \"%s\"}' % (i, i, 'y' * 150)) for i in range($RECORDS)]" >"$WORK/many.txt"
kcat -P -b "$bootstrap" -t "$first" -p 0 -K ' ' -X acks=all <"$WORK/many.txt"

log "loading the pages in chromium ($RUNS runs each; load average $(cut -d' ' -f1-3 /proc/loadavg))"
results=$(node "$BROWSER_DIR/bench.mjs" "http://127.0.0.1:$http_port/" "$first" "$RUNS")
echo "$results"
echo "$results" | python3 -c '
import json, sys
limits = {"overview": 300, "messages": 500}
for line in sys.stdin:
    r = json.loads(line)
    extra = " (%d records)" % r["records"] if "records" in r else ""
    limit = limits[r["page"]]
    met = lambda ms: "met" if ms < limit else "NOT met"
    print("%-9s median %6.1f ms (%s), fastest %6.1f ms, slowest %6.1f ms (%s) of %d runs%s; target under %d ms"
          % (r["page"], r["median_ms"], met(r["median_ms"]), min(r["runs"]), r["max_ms"], met(r["max_ms"]), len(r["runs"]), extra, limit))
'
