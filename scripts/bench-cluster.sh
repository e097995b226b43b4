#!/usr/bin/env bash
# Measures KafScale in distributed mode (etcd + an S3-compatible object store) with 1 and with 3
# brokers on this machine and prints a table (see docs/benchmarks.md, "Distributed mode on S3"):
#   (a) produce throughput at full speed: 1 KiB records, acks=all, a 12-partition topic
#       (MiB/s, records/s, p50/p99 per request)
#   (b) produce at a fixed paced rate (BENCH_PACED_RATE MiB/s): p50/p99, and the cost model at that
#       load: object-store PUTs per second (kafscale_object_store_requests_total{op="put"}, summed
#       over the brokers), PUTs per GiB of record values ingested, the monthly PUT bill at
#       $0.005 per 1000 PUTs, and metadata-store (etcd) writes per second
# The object store is s3rver (test/servers, `npm ci` there), the metadata store a single etcd;
# each phase gets a fresh etcd, bucket and brokers. Brokers keep their default flush interval
# (100 ms on S3). The brokers publish no metadata-store counter, so etcd writes are counted by
# etcd itself (its /metrics on the client URL): raft proposals committed (every Put, Txn,
# DeleteRange and lease grant/revoke is one; lease keep-alives are not) and the keys put.
# Not part of the test suite. Every step is bounded in time; the defaults take about 2 minutes.
#
# Environment overrides:
#   BENCH_PRODUCE_SECONDS (15)  BENCH_PACED_SECONDS (15)  BENCH_WARMUP_SECONDS (2)
#   BENCH_PACED_RATE (10, MiB/s)  BENCH_PARTITIONS (12)  BENCH_BROKER_COUNTS ("1 3")
#   BENCH_BATCH_BYTES (64k) BENCH_IN_FLIGHT (32): full speed, per leader connection
#   BENCH_PACED_BATCH_BYTES (16k) BENCH_PACED_IN_FLIGHT (32)
#   BENCH_BROKER_ARGS (extra broker flags, e.g. "--flush-interval-ms 50")
#   BENCH_KEEP=1 keeps the work directory (logs, JSON results)
#   KAFSCALE_BINARY (default out/kafscale)  ETCD_BINARY (default etcd on PATH)
#   S3RVER_BINARY (default test/servers/node_modules/.bin/s3rver)
set -euo pipefail
cd "$(dirname "$0")/.."

PRODUCE_SECONDS=${BENCH_PRODUCE_SECONDS:-15}
PACED_SECONDS=${BENCH_PACED_SECONDS:-15}
WARMUP_SECONDS=${BENCH_WARMUP_SECONDS:-2}
PACED_RATE=${BENCH_PACED_RATE:-10}
PARTITIONS=${BENCH_PARTITIONS:-12}
BROKER_COUNTS=${BENCH_BROKER_COUNTS:-1 3}
BATCH_BYTES=${BENCH_BATCH_BYTES:-64k}
IN_FLIGHT=${BENCH_IN_FLIGHT:-32}
PACED_BATCH_BYTES=${BENCH_PACED_BATCH_BYTES:-16k}
PACED_IN_FLIGHT=${BENCH_PACED_IN_FLIGHT:-32}
BROKER_ARGS=${BENCH_BROKER_ARGS:-}
SOURCE_BINARY=${KAFSCALE_BINARY:-out/kafscale}
ETCD=${ETCD_BINARY:-etcd}
S3RVER=${S3RVER_BINARY:-test/servers/node_modules/.bin/s3rver}
PUT_PRICE_PER_1000=0.005
BUCKET=kafscale-bench

export DOTNET_ROLL_FORWARD=Major DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

log() { echo "bench-cluster: $*" >&2; }
die() { log "$*"; exit 1; }

# ---- prerequisites ------------------------------------------------------------------------------
[[ -x "$SOURCE_BINARY" ]] || die "$SOURCE_BINARY is missing: build it with scripts/build.sh (or set KAFSCALE_BINARY)"
command -v "$ETCD" >/dev/null 2>&1 || die "etcd is not installed (or set ETCD_BINARY)"
[[ -x "$S3RVER" ]] || die "s3rver is missing: run 'npm ci' in test/servers (or set S3RVER_BINARY)"
command -v curl >/dev/null 2>&1 || die "curl is needed to read /metrics"
log "building tools/LoadGen (Release)"
dotnet build tools/LoadGen/LoadGen.csproj -c Release -nologo -v q -clp:ErrorsOnly >&2
LOADGEN_DLL=tools/LoadGen/bin/Release/net10.0/KafScale.LoadGen.dll

# ---- work directory and the processes this script starts ----------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kafscale-bench-cluster.XXXXXX")
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
  local pid
  # Brokers first (they were started last), then s3rver and etcd.
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
  PIDS=()
}
cleanup() {
  stop_all
  if [[ "${BENCH_KEEP:-0}" == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A copy, so that a rebuild of out/kafscale during the run does not fail with "text file busy".
cp "$SOURCE_BINARY" "$WORK/kafscale"
BINARY="$WORK/kafscale"

wait_port() { # name port pid
  for _ in $(seq 1 600); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; then return 0; fi
    kill -0 "$3" 2>/dev/null || { log "$1 exited before listening:"; tail -n 20 "$WORK/$1.log" >&2; return 1; }
    sleep 0.05
  done
  log "$1 did not listen on port $2 within 30 s"; tail -n 20 "$WORK/$1.log" >&2; return 1
}

# Sum of a metric (over its labels, or only the series whose labels contain $3) from a /metrics URL.
metric_at() {
  curl -s --max-time 5 "$1" | awk -v m="$2" -v l="${3:-}" \
    '($1 == m || index($1, m "{") == 1) && (l == "" || index($1, l) > 0) { s += $2 } END { printf "%.0f", s + 0 }'
}
# A flat JSON object's field (the loadgen result lines are flat).
field() { sed -n "s/.*\"$2\":\"\{0,1\}\([^,\"}]*\).*/\1/p" <<<"$1"; }

# Runs loadgen with a time limit; prints its JSON line; keeps the human line for the log.
run_json() {
  local name=$1 limit=$2
  shift 2
  local out
  if ! out=$(timeout "$limit" dotnet "$LOADGEN_DLL" "$@" 2>"$WORK/$name.err"); then
    log "$name failed: $(tail -n 3 "$WORK/$name.err" | tr '\n' ' ') $out"
  fi
  grep -v '^{' <<<"$out" >&2 || true
  grep '^{' <<<"$out" | tee "$WORK/$name.json" || true
}

# ---- one phase: etcd, s3rver, N brokers, two produce runs ---------------------------------------
ETCD_URL="" S3_URL="" BROKER_HTTP=() BROKER_KAFKA=() BROKER_PIDS=()
start_cluster() { # N
  local n=$1 dir="$WORK/phase-$1" etcd_port peer_port s3_port
  mkdir -p "$dir/s3"
  read -r etcd_port peer_port s3_port < <(dotnet "$LOADGEN_DLL" ports --count 3)
  ETCD_URL="http://127.0.0.1:$etcd_port"
  "$ETCD" --name t --data-dir "$dir/etcd" --listen-client-urls "$ETCD_URL" --advertise-client-urls "$ETCD_URL" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "t=http://127.0.0.1:$peer_port" >"$WORK/etcd-$n.log" 2>&1 &
  PIDS+=($!)
  wait_port "etcd-$n" "$etcd_port" $! || return 1
  S3_URL="http://127.0.0.1:$s3_port"
  NODE_OPTIONS=--openssl-legacy-provider "$S3RVER" -d "$dir/s3" -a 127.0.0.1 -p "$s3_port" \
    --configure-bucket "$BUCKET" --allow-mismatched-signatures --silent >"$WORK/s3rver-$n.log" 2>&1 &
  PIDS+=($!)
  wait_port "s3rver-$n" "$s3_port" $! || return 1
  BROKER_HTTP=() BROKER_KAFKA=() BROKER_PIDS=()
  local i kafka http
  for ((i = 0; i < n; i++)); do
    read -r kafka http < <(dotnet "$LOADGEN_DLL" ports --count 2)
    # shellcheck disable=SC2086 # BROKER_ARGS is a list of flags
    KAFSCALE_S3_ACCESS_KEY=S3RVER KAFSCALE_S3_SECRET_KEY=S3RVER "$BINARY" broker \
      --listen "127.0.0.1:$kafka" --http "127.0.0.1:$http" --advertised-host 127.0.0.1 --data-dir "$dir/broker$i" \
      --broker-id "$i" --etcd-endpoints "$ETCD_URL" \
      --s3-bucket "$BUCKET" --s3-endpoint "$S3_URL" --s3-path-style true --log-level warn $BROKER_ARGS \
      >"$WORK/broker-$n-$i.log" 2>&1 &
    PIDS+=($!)
    BROKER_PIDS+=($!)
    wait_port "broker-$n-$i" "$kafka" $! || return 1
    BROKER_HTTP+=("http://127.0.0.1:$http/metrics")
    BROKER_KAFKA+=("127.0.0.1:$kafka")
  done
  # Every broker sees all N before the topic is created, so leadership is spread at once.
  for _ in $(seq 1 200); do
    local ok=1 url
    for url in "${BROKER_HTTP[@]}"; do
      [[ "$(metric_at "$url" kafscale_live_brokers)" == "$n" ]] || ok=0
    done
    [[ $ok == 1 ]] && return 0
    sleep 0.1
  done
  log "the $n brokers did not all see each other within 20 s"; return 1
}

# Counters summed over the brokers, and etcd's: "puts records_in etcd_proposals etcd_keys_put cpu_s epoch_ns"
CLK_TCK=$(getconf CLK_TCK)
snapshot() {
  local puts=0 records=0 cpu=0 url pid v
  for url in "${BROKER_HTTP[@]}"; do
    v=$(metric_at "$url" kafscale_object_store_requests_total 'op="put"'); puts=$((puts + v))
    v=$(metric_at "$url" kafscale_records_in_total); records=$((records + v))
  done
  for pid in "${BROKER_PIDS[@]}"; do
    v=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0); cpu=$((cpu + v))
  done
  echo "$puts $records $(metric_at "$ETCD_URL/metrics" etcd_server_proposals_committed_total)" \
    "$(metric_at "$ETCD_URL/metrics" etcd_mvcc_put_total) $cpu $(date +%s%N)"
}
# PUTs/s, PUTs per GiB of record values, monthly PUT cost, etcd proposals/s, etcd keys put/s, broker CPU cores
cost_model() {
  awk -v b="$1" -v a="$2" -v hz="$CLK_TCK" -v price="$PUT_PRICE_PER_1000" 'BEGIN {
    split(b, x, " "); split(a, y, " ")
    t = (y[6] - x[6]) / 1e9; puts = y[1] - x[1]; gib = (y[2] - x[2]) * 1024 / 2^30
    printf "%.1f %.0f %.0f %.1f %.1f %.2f %.1f", puts / t, (gib > 0 ? puts / gib : 0), puts / t * 86400 * 30 / 1000 * price,
      (y[3] - x[3]) / t, (y[4] - x[4]) / t, (y[5] - x[5]) / hz / t, t }'
}

declare -A FULL PACED COST
for n in $BROKER_COUNTS; do
  log "phase: $n broker(s)"
  start_cluster "$n" || die "could not start the $n-broker cluster (logs in $WORK; BENCH_KEEP=1 keeps them)"
  bootstrap=$(IFS=,; echo "${BROKER_KAFKA[*]}")
  log "($n) produce at full speed, $PARTITIONS partitions, ${PRODUCE_SECONDS}s"
  FULL[$n]=$(run_json "full-$n" $((PRODUCE_SECONDS + WARMUP_SECONDS + 60)) produce --bootstrap "$bootstrap" --topic "bench-full" \
    --partitions "$PARTITIONS" --record-size 1024 --acks all --duration "${PRODUCE_SECONDS}s" --warmup "${WARMUP_SECONDS}s" \
    --batch-bytes "$BATCH_BYTES" --in-flight "$IN_FLIGHT")
  log "($n) produce paced at $PACED_RATE MiB/s, $PARTITIONS partitions, ${PACED_SECONDS}s"
  s0=$(snapshot)
  PACED[$n]=$(run_json "paced-$n" $((PACED_SECONDS + WARMUP_SECONDS + 60)) produce --bootstrap "$bootstrap" --topic "bench-paced" \
    --partitions "$PARTITIONS" --record-size 1024 --acks all --rate "$PACED_RATE" --duration "${PACED_SECONDS}s" \
    --warmup "${WARMUP_SECONDS}s" --batch-bytes "$PACED_BATCH_BYTES" --in-flight "$PACED_IN_FLIGHT")
  sleep 0.3  # the last flush of the run
  COST[$n]=$(cost_model "$s0" "$(snapshot)")
  stop_all
done

# ---- table ---------------------------------------------------------------------------------------
produce_row() {
  local json=$1
  if [[ -z "$json" ]]; then echo "failed (see above)"; return; fi
  printf "%6.1f MiB/s %7s rec/s  p50 %6.1f ms  p99 %6.1f ms" "$(field "$json" mib_per_s)" "$(field "$json" records_per_s)" \
    "$(field "$json" latency_p50_ms)" "$(field "$json" latency_p99_ms)"
}
echo
echo "KafScale distributed-mode benchmark: $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), s3rver + 1 etcd, broker flags: ${BROKER_ARGS:-defaults}"
echo "1 KiB records, acks=all, $PARTITIONS partitions. MiB = 2^20 bytes of record values. Everything shares the machine."
echo
printf "%-46s %s\n" "measurement" "result"
printf "%-46s %s\n" "----------------------------------------------" "------------------------------------------------------------"
for n in $BROKER_COUNTS; do
  printf "%-46s %s\n" "$n broker(s): produce at full speed" "$(produce_row "${FULL[$n]:-}")"
  printf "%-46s %s\n" "$n broker(s): produce paced at $PACED_RATE MiB/s" "$(produce_row "${PACED[$n]:-}")"
  read -r puts_s puts_gib dollars proposals_s keys_s cores secs <<<"${COST[$n]}"
  printf "%-46s %s\n" "    object-store PUTs (all brokers)" "$puts_s/s, $puts_gib per GiB ingested"
  printf "%-46s %s\n" "    PUT cost at \$$PUT_PRICE_PER_1000/1000, 30 days" "\$$dollars per month"
  printf "%-46s %s\n" "    etcd writes" "$proposals_s proposals/s ($keys_s keys put/s)"
  printf "%-46s %s\n" "    broker CPU (all brokers)" "$cores cores over ${secs}s"
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
