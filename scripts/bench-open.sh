#!/usr/bin/env bash
# Measures how long a broker takes to open a partition that has many segments on S3 (see
# docs/benchmarks.md, "Opening a long partition"): s3rver, one broker with the embedded metadata
# store, one partition filled with BENCH_SEGMENTS small segments (one ~1 KB batch each, from kcat),
# then the broker restarted BENCH_RESTARTS times after SIGTERM and once after kill -9; each start
# logs "opened in N ms" for the partition. With BENCH_BASELINE_BINARY set, that binary (another
# release) is started on the same data afterwards and measured the same way, for a comparison in
# one run. Not part of the test suite; about 2 minutes with the defaults.
#
# Environment overrides:
#   BENCH_SEGMENTS (5000)  BENCH_RESTARTS (3)  BENCH_BASELINE_BINARY (unset)
#   BENCH_KEEP=1 keeps the work directory
#   KAFSCALE_BINARY (default out/kafscale)  S3RVER_BINARY (default test/servers/node_modules/.bin/s3rver)
set -euo pipefail
cd "$(dirname "$0")/.."

SEGMENTS=${BENCH_SEGMENTS:-5000}
RESTARTS=${BENCH_RESTARTS:-3}
BASELINE=${BENCH_BASELINE_BINARY:-}
BINARY=${KAFSCALE_BINARY:-out/kafscale}
S3RVER=${S3RVER_BINARY:-test/servers/node_modules/.bin/s3rver}
BUCKET=kafscale-bench
TOPIC=long-partition

log() { echo "bench-open: $*" >&2; }
die() { log "$*"; exit 1; }

[[ -x "$BINARY" ]] || die "$BINARY is missing: build it with scripts/build.sh (or set KAFSCALE_BINARY)"
[[ -x "$S3RVER" ]] || die "s3rver is missing: run scripts/install-deps.sh (or set S3RVER_BINARY)"
command -v kcat >/dev/null 2>&1 || die "kcat is needed to fill the partition: run scripts/install-deps.sh"
[[ -z "$BASELINE" || -x "$BASELINE" ]] || die "BENCH_BASELINE_BINARY=$BASELINE is not an executable"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kafscale-bench-open.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
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

s3_port=$(free_port)
mkdir -p "$WORK/s3"
NODE_OPTIONS=--openssl-legacy-provider "$S3RVER" -d "$WORK/s3" -a 127.0.0.1 -p "$s3_port" \
  --configure-bucket "$BUCKET" --allow-mismatched-signatures --silent >"$WORK/s3rver.log" 2>&1 &
pids+=($!)
wait_port s3rver "$s3_port" $!

kafka_port=$(free_port); http_port=$(free_port)
broker_pid=
start_broker() { # binary logfile
  KAFSCALE_S3_ACCESS_KEY=S3RVER KAFSCALE_S3_SECRET_KEY=S3RVER "$1" broker --listen "127.0.0.1:$kafka_port" --http "127.0.0.1:$http_port" \
    --data-dir "$WORK/data" --s3-bucket "$BUCKET" --s3-endpoint "http://127.0.0.1:$s3_port" --s3-path-style true \
    --segment-bytes 1024 --flush-interval-ms 0 --default-partitions 1 >"$2" 2>&1 &
  broker_pid=$!
  pids+=("$broker_pid")
  wait_port broker "$kafka_port" "$broker_pid"
}
stop_broker() { # signal
  kill "-$1" "$broker_pid" 2>/dev/null || true
  wait "$broker_pid" 2>/dev/null || true
}
opened_ms() { # logfile: the open time of the partition, from the broker's own log line
  sed -n "s/.*leading $TOPIC-0 .* opened in \([0-9]*\) ms.*/\1/p" "$1" | tail -1
}

log "filling $TOPIC-0 with $SEGMENTS segments on s3rver (one ~1 KB batch each)"
start_broker "$BINARY" "$WORK/fill.log"
python3 -c "import sys; [print('r%06d-' % i + 'x' * 900) for i in range($SEGMENTS)]" >"$WORK/records.txt"
kcat -P -b "127.0.0.1:$kafka_port" -t "$TOPIC" -p 0 -X acks=all -X batch.num.messages=1 -X linger.ms=0 \
  -X message.timeout.ms=600000 -l "$WORK/records.txt"
stop_broker TERM
stored=$(find "$WORK/s3/$BUCKET" -name '*.kfs._S3rver_object' | grep -c "/$TOPIC/0/" || true)
log "the store holds $stored .kfs objects for $TOPIC-0"

results=()
measure() { # label binary signal
  local logfile="$WORK/${1// /-}.log"
  start_broker "$2" "$logfile"
  for _ in $(seq 1 300); do [[ -n "$(opened_ms "$logfile")" ]] && break; sleep 0.1; done
  local ms; ms=$(opened_ms "$logfile")
  [[ -n "$ms" ]] || die "$1: no 'opened in' line for $TOPIC-0 in $logfile"
  # Reading from offset 0 needs the older segments: the first record must come back.
  first=$(kcat -C -b "127.0.0.1:$kafka_port" -t "$TOPIC" -p 0 -o beginning -c 1 -e -q 2>/dev/null | cut -c1-7)
  [[ "$first" == "r000000" ]] || die "$1: reading from offset 0 returned '$first', not the first record"
  results+=("$1: opened in $ms ms")
  log "$1: opened in $ms ms"
  stop_broker "$3"
}
# The last start after SIGTERM ends with kill -9, so the next one opens from a hint written by
# the running broker (about once a second) rather than by its graceful handoff.
for i in $(seq 1 "$RESTARTS"); do
  measure "start $i after SIGTERM" "$BINARY" "$([[ $i -eq $RESTARTS ]] && echo KILL || echo TERM)"
done
measure "start after kill -9" "$BINARY" TERM
if [[ -n "$BASELINE" ]]; then
  for i in $(seq 1 "$RESTARTS"); do measure "baseline start $i" "$BASELINE" TERM; done
fi

echo "KafScale partition open: $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), s3rver, $stored segments in one partition"
printf '  %s\n' "${results[@]}"
