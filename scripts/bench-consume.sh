#!/usr/bin/env bash
# The consumer benchmark, described in
# docs/benchmarks.md, "Consumers: fan-out, catch-up and many partitions".
# Each step starts its own broker (embedded metadata); the rows of all steps are printed in one
# table at the end:
#   (a) fan-out tail: one broker on the directory store, a 16-partition topic fed at a paced
#       20 MiB/s of 1 KiB records, and 5 groups of 10 consumers tailing it: end-to-end latency
#       p50/p99 (the batch timestamp the producer set at send, to delivery), records/s delivered per
#       group, broker CPU (user+sys from /proc/PID/stat over the measured window, in cores); then
#       the same with 1 group of 1 consumer, and the CPU ratio. The groups are modelled: each is a
#       set of consumers with fixed disjoint partition subsets (no JoinGroup), each consumer
#       committing its positions to the group with OffsetCommit every second.
#   (b) catch-up: 2 GiB produced into a 16-partition topic, the broker restarted (cold segment
#       cache), then one consumer reads it all from offset 0: MiB/s and object-store GETs
#       (get + range requests, from the broker's /metrics) per GiB read; on the directory store
#       and on s3rver, and for BENCH_BASELINE_BINARY too when it is set, with the ratios.
#   (c) many partitions: a 500-partition topic holding a little data, one consumer fetching all
#       500 partitions at a fixed request rate with max_wait 0 (each fetch answered at once), with
#       fetch sessions off (every request full) and on (KIP-227 incremental requests once the
#       broker grants a session): broker CPU per second and per fetch in each mode, and the ratio.
# Not part of the test suite. Every step is bounded in time; the defaults take about 6 minutes on
# a 2-core machine (8 with a baseline binary), more when the machine is busy.
#
# Usage: scripts/bench-consume.sh [--json FILE]   (--json: one JSON object per measured run)
# Environment overrides:
#   BENCH_STEPS (a,b,c)              the steps to run
#   BENCH_TAIL_SECONDS (30)          (a) measured seconds of each run, after BENCH_WARMUP_SECONDS (3)
#   BENCH_TAIL_RATE (20)             (a) MiB/s of record values produced
#   BENCH_TAIL_GROUPS (5) BENCH_TAIL_CONSUMERS (10)  (a) the fan-out shape
#   BENCH_CATCHUP_MIB (2048)         (b) MiB of record values to produce and read back
#   BENCH_CATCHUP_STORES (dir,s3)    (b) stores to run it on
#   BENCH_CATCHUP_PRODUCE_SECONDS (240)  (b) time limit of the produce
#   BENCH_CATCHUP_READ_SECONDS (120) (b) time limit of the read (a read cut short reports its
#                                    MiB/s over what it read, marked INCOMPLETE)
#   BENCH_MANY_PARTITIONS (500) BENCH_MANY_SECONDS (20)  (c) partitions, measured seconds per mode
#   BENCH_MANY_FETCH_RATE (200)      (c) Fetch requests per second (0 = each as soon as answered)
#   BENCH_FETCH_MAX_BYTES (50m) BENCH_PARTITION_MAX_BYTES (1m)  (a), (b) the consumers' Fetch max_bytes and
#                                    partition_max_bytes (the defaults are Kafka's consumer defaults)
#   BENCH_BASELINE_BINARY            a second kafscale binary measured in (b) in the same run
#   BENCH_KEEP=1 keeps the work directory (broker logs, JSON results, /metrics snapshots)
#   KAFSCALE_BINARY (default out/kafscale)   S3RVER_BINARY (default test/servers/node_modules/.bin/s3rver)
set -euo pipefail
cd "$(dirname "$0")/.."

JSON_OUT=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --json) JSON_OUT=${2:?--json needs a file}; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "bench-consume: unknown argument '$1' (only --json FILE; the rest are environment overrides)" >&2; exit 2 ;;
  esac
done

STEPS=${BENCH_STEPS:-a,b,c}
WARMUP_SECONDS=${BENCH_WARMUP_SECONDS:-3}
TAIL_SECONDS=${BENCH_TAIL_SECONDS:-30}
TAIL_RATE=${BENCH_TAIL_RATE:-20}
TAIL_GROUPS=${BENCH_TAIL_GROUPS:-5}
TAIL_CONSUMERS=${BENCH_TAIL_CONSUMERS:-10}
CATCHUP_MIB=${BENCH_CATCHUP_MIB:-2048}
CATCHUP_STORES=${BENCH_CATCHUP_STORES:-dir,s3}
CATCHUP_PRODUCE_SECONDS=${BENCH_CATCHUP_PRODUCE_SECONDS:-240}
CATCHUP_READ_SECONDS=${BENCH_CATCHUP_READ_SECONDS:-120}
FETCH_MAX_BYTES=${BENCH_FETCH_MAX_BYTES:-50m}
PARTITION_MAX_BYTES=${BENCH_PARTITION_MAX_BYTES:-1m}
MANY_PARTITIONS=${BENCH_MANY_PARTITIONS:-500}
MANY_SECONDS=${BENCH_MANY_SECONDS:-20}
MANY_FETCH_RATE=${BENCH_MANY_FETCH_RATE:-200}
BASELINE_BINARY=${BENCH_BASELINE_BINARY:-}
SOURCE_BINARY=${KAFSCALE_BINARY:-out/kafscale}
S3RVER=${S3RVER_BINARY:-test/servers/node_modules/.bin/s3rver}
BUCKET=kafscale-bench

export DOTNET_ROLL_FORWARD=Major DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

log() { echo "bench-consume: $*" >&2; }
die() { log "$*"; exit 1; }
has_step() { [[ ",$STEPS," == *",$1,"* ]]; }
number() { [[ "$2" =~ ^[0-9]+([.][0-9]+)?$ ]] || die "$1 must be a number, not '$2'"; }
number BENCH_TAIL_SECONDS "$TAIL_SECONDS"; number BENCH_WARMUP_SECONDS "$WARMUP_SECONDS"; number BENCH_TAIL_RATE "$TAIL_RATE"
number BENCH_CATCHUP_MIB "$CATCHUP_MIB"
[[ "$CATCHUP_PRODUCE_SECONDS$CATCHUP_READ_SECONDS" =~ ^[0-9]+$ ]] || die "BENCH_CATCHUP_PRODUCE_SECONDS and BENCH_CATCHUP_READ_SECONDS must be whole numbers"
number BENCH_MANY_SECONDS "$MANY_SECONDS"; number BENCH_MANY_FETCH_RATE "$MANY_FETCH_RATE"
[[ "$TAIL_GROUPS$TAIL_CONSUMERS$MANY_PARTITIONS" =~ ^[0-9]+$ ]] || die "BENCH_TAIL_GROUPS, BENCH_TAIL_CONSUMERS and BENCH_MANY_PARTITIONS must be whole numbers"
[[ "$STEPS" =~ ^[abc](,[abc])*$ ]] || die "BENCH_STEPS must be a comma-separated list of a, b and c, not '$STEPS'"
[[ "$CATCHUP_STORES" =~ ^(dir|s3)(,(dir|s3))*$ ]] || die "BENCH_CATCHUP_STORES must be a comma-separated list of dir and s3, not '$CATCHUP_STORES'"

# ---- prerequisites and build ----------------------------------------------------------------------
if [[ ! -x "$SOURCE_BINARY" ]]; then
  [[ -z "${KAFSCALE_BINARY:-}" ]] || die "KAFSCALE_BINARY=$KAFSCALE_BINARY is not an executable"
  log "out/kafscale is missing: building it with scripts/build.sh"
  ./scripts/build.sh
fi
[[ -z "$BASELINE_BINARY" || -x "$BASELINE_BINARY" ]] || die "BENCH_BASELINE_BINARY=$BASELINE_BINARY is not an executable"
if has_step b && [[ ",$CATCHUP_STORES," == *",s3,"* && ! -x "$S3RVER" ]]; then
  die "s3rver is missing: run scripts/install-deps.sh, set S3RVER_BINARY, or BENCH_CATCHUP_STORES=dir"
fi
log "building tools/LoadGen (Release)"
dotnet build tools/LoadGen/LoadGen.csproj -c Release -nologo -v q -clp:ErrorsOnly >&2
LOADGEN_DLL=tools/LoadGen/bin/Release/net10.0/KafScale.LoadGen.dll
loadgen() { dotnet "$LOADGEN_DLL" "$@"; }

# ---- work directory and the processes this script starts ------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kafscale-bench-consume.XXXXXX")
BROKER_PID="" S3_PID="" PRODUCER_PID=""
stop_pid() { # pid: SIGTERM, then SIGKILL after 10 s
  local pid=$1
  [[ -n "$pid" ]] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
  fi
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  stop_pid "$PRODUCER_PID"; stop_pid "$BROKER_PID"; stop_pid "$S3_PID"
  if [[ "${BENCH_KEEP:-0}" == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Copies, so that a rebuild of a binary during the run does not fail with "text file busy".
cp "$SOURCE_BINARY" "$WORK/kafscale"
BINARIES=(current)
declare -A BINARY_PATH=([current]="$WORK/kafscale")
if [[ -n "$BASELINE_BINARY" ]]; then
  cp "$BASELINE_BINARY" "$WORK/kafscale-baseline"
  BINARIES+=(baseline)
  BINARY_PATH[baseline]="$WORK/kafscale-baseline"
fi

RESULTS="$WORK/results.jsonl"
: >"$RESULTS"
wait_port() { # name port pid logfile
  for _ in $(seq 1 600); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; then return 0; fi
    kill -0 "$3" 2>/dev/null || { log "$1 exited before listening:"; tail -n 20 "$4" >&2; return 1; }
    sleep 0.05
  done
  log "$1 did not listen on port $2 within 30 s"; tail -n 20 "$4" >&2; return 1
}

# start_broker BINARY DATA_DIR LOG [S3_PORT]: sets BROKER_PID, BOOTSTRAP, HTTP_PORT.
start_broker() {
  local binary=$1 data=$2 logfile=$3 s3_port=${4:-} kafka_port
  read -r kafka_port HTTP_PORT < <(loadgen ports --count 2)
  BOOTSTRAP="127.0.0.1:$kafka_port"
  mkdir -p "$data"
  if [[ -n "$s3_port" ]]; then
    KAFSCALE_S3_ACCESS_KEY=S3RVER KAFSCALE_S3_SECRET_KEY=S3RVER "$binary" broker --listen "$BOOTSTRAP" \
      --http "127.0.0.1:$HTTP_PORT" --data-dir "$data" --log-level warn \
      --s3-bucket "$BUCKET" --s3-endpoint "http://127.0.0.1:$s3_port" --s3-path-style true >>"$logfile" 2>&1 &
  else
    "$binary" broker --listen "$BOOTSTRAP" --http "127.0.0.1:$HTTP_PORT" --data-dir "$data" --log-level warn >>"$logfile" 2>&1 &
  fi
  BROKER_PID=$!
  wait_port broker "$kafka_port" "$BROKER_PID" "$logfile"
}
stop_broker() { stop_pid "$BROKER_PID"; BROKER_PID=""; }

start_s3rver() { # dir: sets S3_PID, S3_PORT
  mkdir -p "$1"
  read -r S3_PORT < <(loadgen ports --count 1)
  NODE_OPTIONS=--openssl-legacy-provider "$S3RVER" -d "$1" -a 127.0.0.1 -p "$S3_PORT" \
    --configure-bucket "$BUCKET" --allow-mismatched-signatures --silent >"$1.log" 2>&1 &
  S3_PID=$!
  wait_port s3rver "$S3_PORT" "$S3_PID" "$1.log"
}
stop_s3rver() { stop_pid "$S3_PID"; S3_PID=""; }

# A broker metric summed over its labels, or over the series whose labels contain $2.
metric() {
  curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | awk -v m="$1" -v l="${2:-}" '
    ($1 == m || index($1, m "{") == 1) && (l == "" || index($1, l) > 0) { s += $2 } END { printf "%.0f", s + 0 }'
}
has_metric() { curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | grep -c "^$1" >/dev/null; }
# A flat JSON object's field (loadgen's result lines are flat but for one array).
field() { sed -n "s/.*\"$2\":\"\{0,1\}\([^,\"}]*\).*/\1/p" <<<"$1"; }
array_field() { sed -n "s/.*\"$2\":\[\([^]]*\)\].*/\1/p" <<<"$1" | tr ',' ' '; }

# run_json NAME LIMIT ARGS...: runs loadgen with a time limit and prints its JSON line.
run_json() {
  local name=$1 limit=$2 out
  shift 2
  if ! out=$(timeout "$limit" dotnet "$LOADGEN_DLL" "$@" 2>"$WORK/$name.err"); then
    log "$name failed or stopped early: $(tail -n 3 "$WORK/$name.err" | tr '\n' ' ') $(grep -v '^{' <<<"$out" || true)"
  fi
  grep -v '^{' <<<"$out" >&2 || true
  grep '^{' <<<"$out" | tee "$WORK/$name.json" || true
}
# record STEP RUN EXTRA_JSON_FIELDS LOADGEN_JSON: one line of the JSON results.
record() {
  local body=${4#\{}
  [[ -n "$4" ]] || body='"failed":true}'
  echo "{\"step\":\"$1\",\"run\":\"$2\",$3${3:+,}$body" >>"$RESULTS"
}
keep_metrics() { [[ "${BENCH_KEEP:-0}" != 1 ]] || curl -s "http://127.0.0.1:$HTTP_PORT/metrics" >"$WORK/metrics-$1.txt" || true; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0 && a != "") printf "%.2f", a / b; else printf "n/a" }'; }

TABLE="$WORK/table.txt"
: >"$TABLE"
row() { printf "%-44s %s\n" "$1" "$2" >>"$TABLE"; }

# ---- (a) fan-out tail -------------------------------------------------------------------------------
# tail_run GROUPS CONSUMERS: a fresh broker, the paced producer, then the consumers with --cpu-pid;
# sets TAIL_JSON (not run in a subshell, so that the exit trap knows every pid).
tail_run() {
  TAIL_JSON=""
  local groups=$1 consumers=$2 name="tail-$1x$2" data="$WORK/tail-$1x$2"
  log "(a) fan-out tail: $groups group(s) x $consumers consumer(s), ${TAIL_RATE} MiB/s in, ${TAIL_SECONDS}s measured"
  start_broker "${BINARY_PATH[current]}" "$data/data" "$data.broker.log" || return 1
  # Long enough to outlast the consumers; stopped by pid once they are done.
  dotnet "$LOADGEN_DLL" produce --bootstrap "$BOOTSTRAP" --topic tail --partitions 16 --record-size 1024 --acks all \
    --rate "$TAIL_RATE" --batch-bytes 16k --in-flight 16 --warmup 0s --duration "$(awk -v s="$TAIL_SECONDS" -v w="$WARMUP_SECONDS" 'BEGIN { printf "%d", s + w + 120 }')s" \
    >"$WORK/$name-produce.out" 2>&1 &
  PRODUCER_PID=$!
  # The consumers look the topic up only once the producer has created it and written to it
  # (a metadata request first would auto-create it with one partition).
  local i
  for i in $(seq 1 600); do
    [[ "$(metric kafscale_records_in_total)" -gt 0 ]] && break
    kill -0 "$PRODUCER_PID" 2>/dev/null || { log "the producer exited: $(tail -n 3 "$WORK/$name-produce.out")"; break; }
    sleep 0.1
  done
  [[ $i -lt 600 ]] || log "the producer wrote nothing within 60 s"
  local total
  total=$(awk -v s="$TAIL_SECONDS" -v w="$WARMUP_SECONDS" 'BEGIN { printf "%g", s + w }')
  TAIL_JSON=$(run_json "$name" "$(awk -v t="$total" 'BEGIN { printf "%d", t + 90 }')" consume --bootstrap "$BOOTSTRAP" --topic tail \
    --from latest --groups "$groups" --consumers "$consumers" --group "bench-tail" --commit-interval 1s \
    --max-bytes "$FETCH_MAX_BYTES" --partition-max-bytes "$PARTITION_MAX_BYTES" \
    --duration "${total}s" --warmup "${WARMUP_SECONDS}s" --cpu-pid "$BROKER_PID")
  keep_metrics "$name"
  stop_pid "$PRODUCER_PID"; PRODUCER_PID=""
  stop_broker
  rm -rf "$data"
  record a "${groups}x${consumers}" "\"produce_mib_per_s\":$TAIL_RATE,\"groups_model\":\"fixed disjoint partition subsets, OffsetCommit every 1 s, no JoinGroup\"" "$TAIL_JSON"
}
tail_row() { # label json
  if [[ -z "$2" ]]; then row "$1" "failed (see above)"; return; fi
  local per_group
  per_group=$(array_field "$2" group_records_per_s | awk '{ for (i = 1; i <= NF; i++) printf "%s%.0f", (i > 1 ? " " : ""), $i }')
  row "$1" "$(printf "e2e p50 %6.1f ms  p99 %6.1f ms  broker CPU %.2f cores  %s fetches/s" \
    "$(field "$2" latency_p50_ms)" "$(field "$2" latency_p99_ms)" "$(field "$2" cpu_cores)" "$(field "$2" fetches_per_s)")"
  row "" "records/s per group: $per_group; $(field "$2" commits_per_s) commits/s"
}
if has_step a; then
  tail_run "$TAIL_GROUPS" "$TAIL_CONSUMERS" || { log "(a) the broker did not start"; stop_pid "$PRODUCER_PID"; stop_broker; }
  FAN=$TAIL_JSON
  tail_run 1 1 || { log "(a) the broker did not start"; stop_pid "$PRODUCER_PID"; stop_broker; }
  ONE=$TAIL_JSON
  {
    echo "(a) fan-out tail: 16 partitions fed at $TAIL_RATE MiB/s (1 KiB records, acks=all, paced), ${TAIL_SECONDS}s measured after ${WARMUP_SECONDS}s;"
    echo "    directory store; groups modelled as sets of consumers with fixed disjoint partition subsets"
    echo "    (no JoinGroup), each consumer committing its positions with OffsetCommit every second;"
    echo "    Fetch max_bytes $FETCH_MAX_BYTES, partition_max_bytes $PARTITION_MAX_BYTES, max_wait 100 ms, min_bytes 1"
  } >>"$TABLE"
  tail_row "  $TAIL_GROUPS groups x $TAIL_CONSUMERS consumers" "$FAN"
  tail_row "  1 group x 1 consumer" "$ONE"
  row "  broker CPU ratio, $((TAIL_GROUPS * TAIL_CONSUMERS)) consumers / 1" "$(ratio "$(field "$FAN" cpu_cores)" "$(field "$ONE" cpu_cores)")x"
  echo >>"$TABLE"
fi

# ---- (b) catch-up ------------------------------------------------------------------------------------
declare -A CATCHUP_MIBS CATCHUP_GETS_PER_GIB
catchup_run() { # binary-name store
  local which=$1 store=$2 name="catchup-$1-$2" data="$WORK/catchup-$1-$2" s3_port=""
  log "(b) catch-up, $which binary, $store store: produce $CATCHUP_MIB MiB, restart, read it all"
  if [[ "$store" == s3 ]]; then start_s3rver "$data/s3" || return 1; s3_port=$S3_PORT; fi
  start_broker "${BINARY_PATH[$which]}" "$data/data" "$data.broker.log" "$s3_port" || return 1
  local produced
  produced=$(run_json "$name-produce" $((CATCHUP_PRODUCE_SECONDS + 60)) produce --bootstrap "$BOOTSTRAP" --topic catchup --partitions 16 \
    --record-size 1024 --acks all --batch-bytes 64k --in-flight 8 --warmup 0s --duration "${CATCHUP_PRODUCE_SECONDS}s" --total-mib "$CATCHUP_MIB")
  # The restart: the new process starts with an empty segment cache (the OS page cache stays warm).
  stop_broker
  start_broker "${BINARY_PATH[$which]}" "$data/data" "$data.broker.log" "$s3_port" || return 1
  local gets0 bytes0 json gets bytes_from_store=""
  gets0=$(( $(metric kafscale_object_store_requests_total 'op="get"') + $(metric kafscale_object_store_requests_total 'op="range"') ))
  bytes0=$(metric kafscale_read_bytes_from_store_total)
  json=$(run_json "$name" $((CATCHUP_READ_SECONDS + 60)) consume --bootstrap "$BOOTSTRAP" --topic catchup --duration "${CATCHUP_READ_SECONDS}s" \
    --max-bytes "$FETCH_MAX_BYTES" --partition-max-bytes "$PARTITION_MAX_BYTES")
  gets=$(( $(metric kafscale_object_store_requests_total 'op="get"') + $(metric kafscale_object_store_requests_total 'op="range"') - gets0 ))
  if has_metric kafscale_read_bytes_from_store_total; then bytes_from_store=$(( $(metric kafscale_read_bytes_from_store_total) - bytes0 )); fi
  keep_metrics "$name"
  stop_broker
  stop_s3rver
  rm -rf "$data"
  local read_bytes gets_per_gib
  read_bytes=$(field "$json" bytes)
  gets_per_gib=$(awk -v g="$gets" -v b="${read_bytes:-0}" 'BEGIN { if (b > 0) printf "%.1f", g / (b / 1073741824); else printf "n/a" }')
  CATCHUP_MIBS[$which-$store]=$(field "$json" mib_per_s)
  CATCHUP_GETS_PER_GIB[$which-$store]=$gets_per_gib
  record b "$which-$store" "\"binary\":\"$which\",\"store\":\"$store\",\"produced_mib_per_s\":$(field "$produced" mib_per_s | grep . || echo 0),\"store_gets\":$gets,\"gets_per_gib\":\"$gets_per_gib\",\"read_bytes_from_store\":\"$bytes_from_store\"" "$json"
  local line
  if [[ -z "$json" ]]; then
    line="failed (see above)"
  else
    line=$(awk -v mib="$(field "$json" mib_per_s)" -v b="$read_bytes" -v g="$gets" -v gpg="$gets_per_gib" -v fs="$bytes_from_store" -v c="$(field "$json" complete)" 'BEGIN {
      printf "%7.1f MiB/s  %5d GETs  %6s GETs/GiB  %s MiB per GET  %s  %.0f MiB read%s",
        mib, g, gpg, (g > 0 ? sprintf("%.1f", b / 1048576 / g) : "n/a"),
        (fs == "" ? "store bytes n/a" : sprintf("%.2f GiB from store per GiB", (b > 0 ? fs / b : 0))), b / 1048576, (c == "true" ? "" : ", INCOMPLETE") }')
  fi
  printf "%-44s %s\n" "  $which binary, $store store" "$line" >"$WORK/$name.row"
}
if has_step b; then
  IFS=, read -r -a STORES <<<"$CATCHUP_STORES"
  for store in "${STORES[@]}"; do
    for which in "${BINARIES[@]}"; do
      catchup_run "$which" "$store" || { log "(b) $which on $store did not start (logs in $WORK)"; stop_broker; stop_s3rver; }
    done
  done
  {
    echo "(b) catch-up: $CATCHUP_MIB MiB of 1 KiB records in 16 partitions, broker restarted, one consumer from offset 0"
    echo "    (Fetch max_bytes $FETCH_MAX_BYTES, partition_max_bytes $PARTITION_MAX_BYTES); GETs = object-store get + range"
    echo "    requests during the read; MiB = record batches delivered"
  } >>"$TABLE"
  for store in "${STORES[@]}"; do
    for which in "${BINARIES[@]}"; do
      cat "$WORK/catchup-$which-$store.row" >>"$TABLE" 2>/dev/null || row "  $which binary, $store store" "failed (see above)"
    done
    if [[ -n "$BASELINE_BINARY" ]]; then
      row "  $store: current / baseline" "$(ratio "${CATCHUP_MIBS[current-$store]:-}" "${CATCHUP_MIBS[baseline-$store]:-}")x the MiB/s, GETs/GiB ${CATCHUP_GETS_PER_GIB[current-$store]:-n/a} against ${CATCHUP_GETS_PER_GIB[baseline-$store]:-n/a}"
    fi
  done
  echo >>"$TABLE"
fi

# ---- (c) many partitions -------------------------------------------------------------------------------
if has_step c; then
  log "(c) many partitions: $MANY_PARTITIONS partitions, fetch sessions off then on, ${MANY_SECONDS}s each"
  data="$WORK/many"
  MANY_OFF="" MANY_ON=""
  if start_broker "${BINARY_PATH[current]}" "$data/data" "$data.broker.log"; then
    # A little data: about 1 MiB of 1 KiB records spread over the partitions.
    run_json many-produce 120 produce --bootstrap "$BOOTSTRAP" --topic many --partitions "$MANY_PARTITIONS" --record-size 1024 \
      --acks all --batch-bytes 1k --request-partitions 50 --in-flight $(((MANY_PARTITIONS + 49) / 50)) --rate 0.5 --warmup 0s --duration 2s >/dev/null
    total=$(awk -v s="$MANY_SECONDS" -v w="$WARMUP_SECONDS" 'BEGIN { printf "%g", s + w }')
    for mode in off on; do
      json=$(run_json "many-$mode" "$(awk -v t="$total" 'BEGIN { printf "%d", t + 90 }')" consume --bootstrap "$BOOTSTRAP" --topic many \
        --from earliest --follow true --max-wait 0 --fetch-rate "$MANY_FETCH_RATE" --fetch-sessions "$mode" \
        --duration "${total}s" --warmup "${WARMUP_SECONDS}s" --cpu-pid "$BROKER_PID")
      keep_metrics "many-$mode"
      record c "sessions-$mode" "\"fetch_rate\":$MANY_FETCH_RATE" "$json"
      if [[ $mode == off ]]; then MANY_OFF=$json; else MANY_ON=$json; fi
    done
    stop_broker
  fi
  many_row() {
    if [[ -z "$2" ]]; then row "$1" "failed (see above)"; return; fi
    row "$1" "$(awk -v f="$(field "$2" fetches_per_s)" -v c="$(field "$2" cpu_cores)" -v full="$(field "$2" full_fetches)" \
      -v inc="$(field "$2" incremental_fetches)" -v r="$(field "$2" session_resets)" 'BEGIN {
      printf "%7.1f fetches/s  broker CPU %.3f cores  %6.0f us per fetch  (%d full, %d incremental, %d resets)",
        f, c, (f > 0 ? c / f * 1e6 : 0), full, inc, r }')"
  }
  echo "(c) many partitions: $MANY_PARTITIONS partitions holding a little data, one consumer, Fetch of all at ${MANY_FETCH_RATE}/s, max_wait 0, ${MANY_SECONDS}s measured" >>"$TABLE"
  many_row "  fetch sessions off (full requests)" "$MANY_OFF"
  many_row "  fetch sessions on (KIP-227)" "$MANY_ON"
  cpu_ratio=$(ratio "$(field "$MANY_ON" cpu_cores)" "$(field "$MANY_OFF" cpu_cores)")
  per_fetch_ratio=$(awk -v a="$(field "$MANY_ON" cpu_cores)" -v fa="$(field "$MANY_ON" fetches_per_s)" -v b="$(field "$MANY_OFF" cpu_cores)" \
    -v fb="$(field "$MANY_OFF" fetches_per_s)" 'BEGIN { if (fa > 0 && fb > 0 && b > 0) printf "%.2f", (a / fa) / (b / fb); else printf "n/a" }')
  granted="the broker granted sessions"
  [[ "$(field "$MANY_ON" incremental_fetches)" =~ ^[1-9] ]] || granted="the broker granted no session (it answered session id 0), so every request was full"
  row "  broker CPU ratio, sessions on / off" "${cpu_ratio}x per second, ${per_fetch_ratio}x per fetch; $granted"
  echo >>"$TABLE"
fi

# ---- table -----------------------------------------------------------------------------------------
version=$("${BINARY_PATH[current]}" --version 2>/dev/null | head -n 1 || true)
echo
echo "KafScale consumer benchmark: $SOURCE_BINARY (${version:-unknown version})${BASELINE_BINARY:+, baseline $BASELINE_BINARY}"
echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average at the end $(cut -d' ' -f1-3 /proc/loadavg); load generator and broker share the machine"
echo
cat "$TABLE"
if [[ -n "$JSON_OUT" ]]; then
  cp "$RESULTS" "$JSON_OUT"
  log "JSON results in $JSON_OUT"
fi
