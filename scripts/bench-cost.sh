#!/usr/bin/env bash
# The S3 request-cost benchmark (see docs/benchmarks.md, "S3 request cost"): for each partition
# count, a fresh s3rver, a counting proxy in front of it and ONE broker (embedded metadata, default
# settings but for what the S3 store needs), then the reference workload on a fresh topic: 1,188
# records/s of 1 KiB values (about 100 GB a day), acks=all, paced, sent round-robin over the
# partitions with confluent-kafka. S3 requests are counted at the wire by the proxy, so any broker
# binary can be measured (the current build, an older release); the broker's own
# kafscale_object_store_requests_total is read too and reported where it disagrees.
# Prints one row per partition count: PUT/s, GET/s, other requests/s, the monthly PUT and GET bill
# (30 days at $0.005 per 1,000 PUTs and $0.0004 per 1,000 GETs), per-record produce latency p50/p99
# and records acknowledged per second. Not part of the test suite.
#
# Usage: scripts/bench-cost.sh [--binary PATH] [--seconds N] [--partitions 3,12,48] [--out FILE]
#                              [--warmup N] [--rate RECORDS_PER_S] [--client NAME=VALUE ...] [--keep]
#   --binary      the kafscale binary to measure                   [out/kafscale]
#   --seconds     measured seconds per partition count             [60]
#   --partitions  comma-separated partition counts, one run each   [3,12,48]
#   --out         also write the table as markdown to FILE
#   --warmup      unmeasured seconds at the start of each run      [5]
#   --rate        records per second                               [1188]
#   --client      a librdkafka producer setting, repeatable (e.g. linger.ms=20)
#   --keep        keep the work directory (logs, request logs, JSON results)
# S3RVER_BINARY overrides test/servers/node_modules/.bin/s3rver.
set -euo pipefail
cd "$(dirname "$0")/.."

BINARY_ARG=out/kafscale SECONDS_ARG=60 PARTITIONS_ARG=3,12,48 OUT_ARG="" WARMUP_ARG=5 RATE_ARG=1188 KEEP=0
CLIENT_ARGS=()
usage() { sed -n '13,22p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --binary) BINARY_ARG=${2:?--binary needs a path}; shift 2 ;;
    --seconds) SECONDS_ARG=${2:?--seconds needs a number}; shift 2 ;;
    --partitions) PARTITIONS_ARG=${2:?--partitions needs a list such as 3,12,48}; shift 2 ;;
    --out) OUT_ARG=${2:?--out needs a file}; shift 2 ;;
    --warmup) WARMUP_ARG=${2:?--warmup needs a number}; shift 2 ;;
    --rate) RATE_ARG=${2:?--rate needs a number}; shift 2 ;;
    --client) [[ "${2:-}" == *=* ]] || { echo "bench-cost: --client takes NAME=VALUE" >&2; exit 2; }
      CLIENT_ARGS+=(--config "$2"); shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) usage ;;
    *) echo "bench-cost: unknown argument '$1'" >&2; usage ;;
  esac
done

S3RVER=${S3RVER_BINARY:-test/servers/node_modules/.bin/s3rver}
PYTHON=/usr/bin/python3  # Debian's, where python3-confluent-kafka is installed
HELPER=tools/bench-cost/bench_cost.py
BUCKET=kafscale-bench

log() { echo "bench-cost: $*" >&2; }
die() { log "$*"; exit 1; }

# ---- prerequisites --------------------------------------------------------------------------------
[[ -x "$BINARY_ARG" ]] || die "$BINARY_ARG is missing: build it with scripts/build.sh (or pass --binary PATH)"
[[ -x "$S3RVER" ]] || die "s3rver is missing: run scripts/install-deps.sh (or set S3RVER_BINARY)"
"$PYTHON" -c 'import confluent_kafka' 2>/dev/null || die "confluent-kafka for $PYTHON is missing: run scripts/install-deps.sh"
positive() { [[ "$1" =~ ^[0-9]+([.][0-9]+)?$ ]] && awk -v v="$1" 'BEGIN { exit !(v > 0) }'; }
positive "$SECONDS_ARG" || die "--seconds must be a positive number, not '$SECONDS_ARG'"
[[ "$WARMUP_ARG" =~ ^[0-9]+([.][0-9]+)?$ ]] || die "--warmup must be a number of seconds, not '$WARMUP_ARG'"
positive "$RATE_ARG" || die "--rate must be a positive number, not '$RATE_ARG'"
[[ "$PARTITIONS_ARG" =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || die "--partitions must be a comma-separated list of counts, not '$PARTITIONS_ARG'"
IFS=, read -r -a PARTITION_COUNTS <<<"$PARTITIONS_ARG"

# ---- work directory and the processes this script starts -----------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kafscale-bench-cost.XXXXXX")
PIDS=()  # every process started here; only these are ever signalled
stop_pid() {
  local pid=$1
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
    wait "$pid" 2>/dev/null || true
  fi
}
stop_all() {
  # The broker first (started last), so its final flush still reaches the store; then proxy, s3rver.
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
  PIDS=()
}
cleanup() {
  stop_all
  if [[ "$KEEP" == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A copy, so that a rebuild of the binary during the run does not fail with "text file busy".
cp "$BINARY_ARG" "$WORK/kafscale"
BINARY="$WORK/kafscale"

free_ports() { # count
  "$PYTHON" -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks: s.close()' "$1"
}
wait_port() { # name port pid logfile
  for _ in $(seq 1 600); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; then return 0; fi
    kill -0 "$3" 2>/dev/null || { log "$1 exited before listening:"; tail -n 20 "$4" >&2; return 1; }
    sleep 0.05
  done
  log "$1 did not listen on port $2 within 30 s"; tail -n 20 "$4" >&2; return 1
}

# ---- one run: s3rver, proxy, broker, the paced load on a fresh topic ------------------------------
RESULTS="$WORK/results.jsonl"
: >"$RESULTS"
run_one() { # partitions
  local p=$1 dir="$WORK/p$1" s3_port proxy_port kafka_port http_port
  mkdir -p "$dir/s3"
  read -r s3_port proxy_port kafka_port http_port < <(free_ports 4)
  NODE_OPTIONS=--openssl-legacy-provider "$S3RVER" -d "$dir/s3" -a 127.0.0.1 -p "$s3_port" \
    --configure-bucket "$BUCKET" --allow-mismatched-signatures --silent >"$dir/s3rver.log" 2>&1 &
  PIDS+=($!)
  local s3rver_pid=$!
  wait_port s3rver "$s3_port" $! "$dir/s3rver.log" || return 1
  "$PYTHON" "$HELPER" proxy --listen "127.0.0.1:$proxy_port" --upstream "127.0.0.1:$s3_port" \
    --log "$dir/requests.log" >"$dir/proxy.log" 2>&1 &
  PIDS+=($!)
  local proxy_pid=$!
  wait_port proxy "$proxy_port" $! "$dir/proxy.log" || return 1
  # Defaults but for the S3 store's settings; with no --etcd-endpoints the metadata is embedded.
  KAFSCALE_S3_ACCESS_KEY=S3RVER KAFSCALE_S3_SECRET_KEY=S3RVER "$BINARY" broker \
    --listen "127.0.0.1:$kafka_port" --http "127.0.0.1:$http_port" --data-dir "$dir/data" \
    --s3-bucket "$BUCKET" --s3-endpoint "http://127.0.0.1:$proxy_port" --s3-path-style true \
    >"$dir/broker.log" 2>&1 &
  PIDS+=($!)
  local broker_pid=$!
  wait_port broker "$kafka_port" $! "$dir/broker.log" || return 1
  log "$p partitions: ${WARMUP_ARG}s warmup, then ${SECONDS_ARG}s measured at $RATE_ARG records/s"
  local limit
  limit=$(awk -v s="$SECONDS_ARG" -v w="$WARMUP_ARG" 'BEGIN { printf "%d", s + w + 150 }')
  local json status=0
  json=$(timeout "$limit" "$PYTHON" "$HELPER" produce --bootstrap "127.0.0.1:$kafka_port" --topic "bench-cost-$p" \
    --partitions "$p" --rate "$RATE_ARG" --seconds "$SECONDS_ARG" --warmup "$WARMUP_ARG" \
    --requests-log "$dir/requests.log" --metrics "http://127.0.0.1:$http_port/metrics" \
    --broker-log "$dir/broker.log" --pids "broker=$broker_pid,s3rver=$s3rver_pid,proxy=$proxy_pid" \
    ${CLIENT_ARGS[@]+"${CLIENT_ARGS[@]}"} 2>"$dir/produce.err") || status=$?
  if [[ -n "$json" ]]; then
    echo "$json" >>"$RESULTS"
  else
    log "$p partitions: the load produced no result (exit $status): $(tail -n 3 "$dir/produce.err" | tr '\n' ' ')"
    echo "{\"partitions\": $p, \"failed\": \"the load exited $status without a result (see produce.err)\"}" >>"$RESULTS"
  fi
  [[ $status == 0 ]] || log "$p partitions: the load exited $status; logs in $dir (--keep keeps them)"
  stop_all
}

for p in "${PARTITION_COUNTS[@]}"; do
  run_one "$p" || { log "$p partitions: could not start (logs in $WORK/p$p; --keep keeps them)";
    echo "{\"partitions\": $p, \"failed\": \"s3rver, the proxy or the broker did not start\"}" >>"$RESULTS"; stop_all; }
done

version=$("$BINARY" --version 2>/dev/null | head -n 1 || true)
title="KafScale S3 request cost: $BINARY_ARG (${version:-unknown version}), $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $RATE_ARG records/s x 1 KiB, acks=all, ${SECONDS_ARG}s measured after ${WARMUP_ARG}s; one broker, embedded metadata, s3rver"
[[ ${#CLIENT_ARGS[@]} -eq 0 ]] || title+="; client settings: $(printf '%s ' "${CLIENT_ARGS[@]}" | sed 's/--config //g')"
echo
"$PYTHON" "$HELPER" table "$RESULTS" --title "$title" ${OUT_ARG:+--out "$OUT_ARG"}
