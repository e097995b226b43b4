#!/usr/bin/env bash
# Measures KafScale on this machine and prints a table (see docs/benchmarks.md):
#   (a) produce throughput, 1 KiB records, acks=all, 1 and 16 partitions (MiB/s, records/s, p50/p99)
#   (b) consume throughput of what (a) produced
#   (c) p99 produce latency at a paced 10 MiB/s
#   (d) broker RSS when idle, after startup and after the load
#   (e) time from process start to the Kafka port accepting connections (median of several starts)
#   (f) a cross-check with kcat: 200k 1 KiB records with acks=all
#   (g) the disk's durable small-write latency (write, fsync, rename, fsync dir): the floor under (c)
# Not part of the test suite. Every step is bounded in time; the defaults take about 2 minutes.
# (c) runs on a 16-partition and on a 1-partition topic, 16 KiB batches (one request per
# partition set every few ms), so it shows what the fan-out of one request to 16 segments costs.
#
# Environment overrides:
#   BENCH_PRODUCE_SECONDS (15)  BENCH_WARMUP_SECONDS (2)   BENCH_PACED_SECONDS (10)
#   BENCH_PACED_RATE (10, MiB/s)  BENCH_CONSUME_SECONDS (20)  BENCH_STARTUP_RUNS (5)
#   BENCH_KCAT_RECORDS (200000; 0 skips)  BENCH_KCAT_SECONDS (60)
#   BENCH_BATCH_BYTES_1 (128k) BENCH_IN_FLIGHT_1 (32): 1 partition, 128 KiB requests, 4 MiB in flight
#   BENCH_BATCH_BYTES_16 (64k) BENCH_IN_FLIGHT_16 (8): 16 partitions, 1 MiB requests, 8 MiB in flight
#   BENCH_CONNECTIONS (1)  BENCH_PACED_BATCH_BYTES (16k)
#   BENCH_BROKER_ARGS (extra broker flags, e.g. "--flush-interval-ms 5")
#   BENCH_KEEP=1 keeps the work directory (broker log, JSON results, /metrics after each step)
#   KAFSCALE_BINARY (default out/kafscale)
set -euo pipefail
cd "$(dirname "$0")/.."

PRODUCE_SECONDS=${BENCH_PRODUCE_SECONDS:-15}
WARMUP_SECONDS=${BENCH_WARMUP_SECONDS:-2}
PACED_SECONDS=${BENCH_PACED_SECONDS:-10}
PACED_RATE=${BENCH_PACED_RATE:-10}
CONSUME_SECONDS=${BENCH_CONSUME_SECONDS:-20}
STARTUP_RUNS=${BENCH_STARTUP_RUNS:-5}
KCAT_RECORDS=${BENCH_KCAT_RECORDS:-200000}
KCAT_SECONDS=${BENCH_KCAT_SECONDS:-60}
BATCH_BYTES_1=${BENCH_BATCH_BYTES_1:-128k}
IN_FLIGHT_1=${BENCH_IN_FLIGHT_1:-32}
BATCH_BYTES_16=${BENCH_BATCH_BYTES_16:-64k}
IN_FLIGHT_16=${BENCH_IN_FLIGHT_16:-8}
CONNECTIONS=${BENCH_CONNECTIONS:-1}
PACED_BATCH_BYTES=${BENCH_PACED_BATCH_BYTES:-16k}
BROKER_ARGS=${BENCH_BROKER_ARGS:-}
SOURCE_BINARY=${KAFSCALE_BINARY:-out/kafscale}

export DOTNET_ROLL_FORWARD=Major DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

log() { echo "bench: $*" >&2; }

# ---- build --------------------------------------------------------------------------------------
if [[ ! -x "$SOURCE_BINARY" ]]; then
  if [[ -n "${KAFSCALE_BINARY:-}" ]]; then
    echo "bench: KAFSCALE_BINARY=$KAFSCALE_BINARY is not an executable" >&2
    exit 1
  fi
  log "out/kafscale is missing: building it with scripts/build.sh"
  ./scripts/build.sh
fi
log "building tools/LoadGen (Release)"
dotnet build tools/LoadGen/LoadGen.csproj -c Release -nologo -v q -clp:ErrorsOnly >&2
LOADGEN_DLL=tools/LoadGen/bin/Release/net10.0/KafScale.LoadGen.dll
loadgen() { dotnet "$LOADGEN_DLL" "$@"; }

# ---- work directory and broker ------------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kafscale-bench.XXXXXX")
BROKER_PID=""
cleanup() {
  if [[ -n "$BROKER_PID" ]] && kill -0 "$BROKER_PID" 2>/dev/null; then
    kill "$BROKER_PID" 2>/dev/null || true
    wait "$BROKER_PID" 2>/dev/null || true
  fi
  if [[ "${BENCH_KEEP:-0}" == 1 ]]; then
    log "kept $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A copy, so that a rebuild of out/kafscale during the run does not fail with "text file busy".
cp "$SOURCE_BINARY" "$WORK/kafscale"
BINARY="$WORK/kafscale"

read -r KAFKA_PORT HTTP_PORT < <(loadgen ports --count 2)
BOOTSTRAP="127.0.0.1:$KAFKA_PORT"
mkdir -p "$WORK/data"
# shellcheck disable=SC2086 # BROKER_ARGS is a list of flags
"$BINARY" broker --listen "$BOOTSTRAP" --http "127.0.0.1:$HTTP_PORT" --data-dir "$WORK/data" \
  --log-level warn $BROKER_ARGS >"$WORK/broker.log" 2>&1 &
BROKER_PID=$!
for _ in $(seq 1 500); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$KAFKA_PORT") 2>/dev/null; then break; fi
  if ! kill -0 "$BROKER_PID" 2>/dev/null; then
    echo "bench: the broker exited before listening:" >&2
    cat "$WORK/broker.log" >&2
    exit 1
  fi
  sleep 0.02
done
log "broker pid $BROKER_PID on $BOOTSTRAP (metrics on 127.0.0.1:$HTTP_PORT) ${BROKER_ARGS:+with $BROKER_ARGS}"

rss_mb() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$BROKER_PID/status"; }

# A flat JSON object's field (the loadgen result lines are flat).
field() { sed -n "s/.*\"$2\":\"\{0,1\}\([^,\"}]*\).*/\1/p" <<<"$1"; }
# A broker metric (sum over its labels) from /metrics.
metric() { curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | awk -v m="$1" '$1 == m || index($1, m "{") == 1 { s += $2 } END { printf "%.3f", s + 0 }'; }
CLK_TCK=$(getconf CLK_TCK)
broker_cpu_s() { awk -v hz="$CLK_TCK" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$BROKER_PID/stat"; }

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

# With BENCH_KEEP=1 the broker's /metrics after each step, to see where the time went.
keep_metrics() {
  if [[ "${BENCH_KEEP:-0}" == 1 ]]; then
    curl -s "http://127.0.0.1:$HTTP_PORT/metrics" >"$WORK/metrics-after-$1.txt" || true
    grep -E '^(VmRSS|RssAnon|RssFile|VmHWM):' "/proc/$BROKER_PID/status" >>"$WORK/metrics-after-$1.txt" || true
  fi
}

# Broker counters around a run: flushes, object-store puts, segments, CPU seconds.
snapshot() {
  echo "$(metric kafscale_flush_latency_ms_sum) $(metric kafscale_flush_latency_ms_count)" \
    "$(metric kafscale_object_store_latency_ms_sum) $(metric kafscale_object_store_latency_ms_count)" \
    "$(metric kafscale_segments_written_total) $(metric kafscale_segment_bytes_written_total) $(broker_cpu_s)"
}
describe_delta() {
  awk -v before="$1" -v after="$2" -v t="$3" 'BEGIN {
    split(before, b, " "); split(after, a, " ")
    flushes = a[2] - b[2]; puts = a[4] - b[4]; segments = a[5] - b[5]
    printf "flush mean %.1f ms, object-store op mean %.1f ms, %.0f segments/s of %.0f KiB, broker CPU %.2f cores",
      (flushes > 0 ? (a[1] - b[1]) / flushes : 0), (puts > 0 ? (a[3] - b[3]) / puts : 0),
      segments / t, (segments > 0 ? (a[6] - b[6]) / segments / 1024 : 0), (a[7] - b[7]) / t }'
}

sleep 1
RSS_START=$(rss_mb)

# ---- (a) produce ---------------------------------------------------------------------------------
produce_limit=$((PRODUCE_SECONDS + WARMUP_SECONDS + 30))
total_seconds=$((PRODUCE_SECONDS + WARMUP_SECONDS))
log "(a) produce, 1 partition, ${PRODUCE_SECONDS}s"
s0=$(snapshot)
P1=$(run_json produce-1 "$produce_limit" produce --bootstrap "$BOOTSTRAP" --topic bench-p1 --partitions 1 --record-size 1024 --acks all \
  --duration "${PRODUCE_SECONDS}s" --warmup "${WARMUP_SECONDS}s" --batch-bytes "$BATCH_BYTES_1" --in-flight "$IN_FLIGHT_1" --connections "$CONNECTIONS")
P1_BROKER=$(describe_delta "$s0" "$(snapshot)" "$total_seconds")
keep_metrics produce-1
log "(a) produce, 16 partitions, ${PRODUCE_SECONDS}s"
s0=$(snapshot)
P16=$(run_json produce-16 "$produce_limit" produce --bootstrap "$BOOTSTRAP" --topic bench-p16 --partitions 16 --record-size 1024 --acks all \
  --duration "${PRODUCE_SECONDS}s" --warmup "${WARMUP_SECONDS}s" --batch-bytes "$BATCH_BYTES_16" --in-flight "$IN_FLIGHT_16" --connections "$CONNECTIONS")
P16_BROKER=$(describe_delta "$s0" "$(snapshot)" "$total_seconds")
keep_metrics produce-16

# ---- (b) consume ---------------------------------------------------------------------------------
log "(b) consume what was produced (at most ${CONSUME_SECONDS}s per topic)"
C16=$(run_json consume-16 $((CONSUME_SECONDS + 30)) consume --bootstrap "$BOOTSTRAP" --topic bench-p16 --duration "${CONSUME_SECONDS}s")
keep_metrics consume-16
C1=$(run_json consume-1 $((CONSUME_SECONDS + 30)) consume --bootstrap "$BOOTSTRAP" --topic bench-p1 --duration "${CONSUME_SECONDS}s")

# ---- (c) paced latency ---------------------------------------------------------------------------
paced() {
  local partitions=$1
  log "(c) produce paced at ${PACED_RATE} MiB/s, $partitions partition(s), ${PACED_SECONDS}s"
  run_json "paced-$partitions" $((PACED_SECONDS + WARMUP_SECONDS + 30)) produce --bootstrap "$BOOTSTRAP" --topic "bench-paced-$partitions" \
    --partitions "$partitions" --record-size 1024 --acks all --rate "$PACED_RATE" --duration "${PACED_SECONDS}s" --warmup "${WARMUP_SECONDS}s" \
    --batch-bytes "$PACED_BATCH_BYTES" --in-flight 16
}
s0=$(snapshot)
PACED16=$(paced 16)
PACED16_BROKER=$(describe_delta "$s0" "$(snapshot)" $((PACED_SECONDS + WARMUP_SECONDS)))
keep_metrics paced-16
s0=$(snapshot)
PACED1=$(paced 1)
PACED1_BROKER=$(describe_delta "$s0" "$(snapshot)" $((PACED_SECONDS + WARMUP_SECONDS)))
keep_metrics paced-1

# ---- (f) kcat ------------------------------------------------------------------------------------
KCAT_LINE="skipped"
if [[ "$KCAT_RECORDS" -gt 0 ]]; then
  if command -v kcat >/dev/null 2>&1; then
    log "(f) kcat -P acks=all, $KCAT_RECORDS records of 1 KiB"
    # 1023 bytes + newline per line: each record's value is 1023 bytes.
    awk -v n="$KCAT_RECORDS" 'BEGIN { line = sprintf("%1023s", ""); gsub(/ /, "k", line); for (i = 0; i < n; i++) print line }' >"$WORK/kcat-input.txt"
    start_ns=$(date +%s%N)
    if timeout "$KCAT_SECONDS" kcat -P -q -b "$BOOTSTRAP" -t bench-kcat -X acks=all -X linger.ms=5 \
        -X batch.num.messages=10000 -X queue.buffering.max.kbytes=1048576 -l "$WORK/kcat-input.txt" 2>"$WORK/kcat.err"; then
      end_ns=$(date +%s%N)
      KCAT_LINE=$(awk -v ns=$((end_ns - start_ns)) -v n="$KCAT_RECORDS" \
        'BEGIN { s = ns / 1e9; printf "%.2f s: %.1f MiB/s, %.0f records/s", s, n * 1024 / 1048576 / s, n / s }')
    else
      KCAT_LINE="failed or timed out after ${KCAT_SECONDS}s: $(tail -n 2 "$WORK/kcat.err" | tr '\n' ' ')"
    fi
    rm -f "$WORK/kcat-input.txt"
  else
    KCAT_LINE="kcat not installed"
  fi
fi

# ---- (g) disk ------------------------------------------------------------------------------------
log "(g) durable small writes on the data directory's disk"
DISK=$(run_json disk 60 disk-probe --dir "$WORK" --count 200 --size 16k)

# ---- (d) RSS after the load ----------------------------------------------------------------------
sleep 12  # idle: the broker returns memory a few seconds after traffic stops
RSS_AFTER=$(rss_mb)
keep_metrics idle
kill "$BROKER_PID" 2>/dev/null || true
wait "$BROKER_PID" 2>/dev/null || true
BROKER_PID=""

# ---- (e) start to listening ----------------------------------------------------------------------
log "(e) start to listening, $STARTUP_RUNS starts"
STARTUP=$(run_json startup 60 startup --binary "$BINARY" --runs "$STARTUP_RUNS" --work-dir "$WORK/startup")

# ---- table ---------------------------------------------------------------------------------------
produce_row() {
  local json=$1
  if [[ -z "$json" ]]; then echo "failed (see above)"; return; fi
  printf "%7.1f MiB/s %9s rec/s  p50 %6.1f ms  p99 %6.1f ms" "$(field "$json" mib_per_s)" "$(field "$json" records_per_s)" \
    "$(field "$json" latency_p50_ms)" "$(field "$json" latency_p99_ms)"
}
consume_row() {
  local json=$1
  if [[ -z "$json" ]]; then echo "failed (see above)"; return; fi
  printf "%7.1f MiB/s %9s rec/s  (%s records, complete=%s)" "$(field "$json" mib_per_s)" "$(field "$json" records_per_s)" \
    "$(field "$json" records)" "$(field "$json" complete)"
}

echo
echo "KafScale benchmark: $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), broker flags: ${BROKER_ARGS:-defaults}"
echo "MiB = 2^20 bytes of record values (consume: of record batches). Load generator and broker share the machine."
echo
printf "%-48s %s\n" "measurement" "result"
printf "%-48s %s\n" "------------------------------------------------" "------------------------------------------------------------"
printf "%-48s %s\n" "(a) produce 1 KiB acks=all, 1 partition" "$(produce_row "$P1")"
printf "%-48s %s\n" "    broker during it" "$P1_BROKER"
printf "%-48s %s\n" "(a) produce 1 KiB acks=all, 16 partitions" "$(produce_row "$P16")"
printf "%-48s %s\n" "    broker during it" "$P16_BROKER"
printf "%-48s %s\n" "(b) consume, 16-partition topic" "$(consume_row "$C16")"
printf "%-48s %s\n" "(b) consume, 1-partition topic" "$(consume_row "$C1")"
paced_row() {
  local json=$1
  if [[ -z "$json" ]]; then echo "failed (see above)"; return; fi
  printf "p99 %.1f ms  (p50 %.1f ms, p99.9 %.1f ms, achieved %.1f MiB/s)" "$(field "$json" latency_p99_ms)" \
    "$(field "$json" latency_p50_ms)" "$(field "$json" latency_p999_ms)" "$(field "$json" mib_per_s)"
}
printf "%-48s %s\n" "(c) produce paced at ${PACED_RATE} MiB/s, 16 partitions" "$(paced_row "$PACED16")"
printf "%-48s %s\n" "    broker during it" "$PACED16_BROKER"
printf "%-48s %s\n" "(c) produce paced at ${PACED_RATE} MiB/s, 1 partition" "$(paced_row "$PACED1")"
printf "%-48s %s\n" "    broker during it" "$PACED1_BROKER"
printf "%-48s %s\n" "(d) broker RSS idle after startup" "$RSS_START MiB"
printf "%-48s %s\n" "(d) broker RSS idle after the load" "$RSS_AFTER MiB"
if [[ -n "$STARTUP" ]]; then
  printf "%-48s %s\n" "(e) start to listening, median of $STARTUP_RUNS" \
    "$(printf "%.1f ms (min %.1f, max %.1f)" "$(field "$STARTUP" median_ms)" "$(field "$STARTUP" min_ms)" "$(field "$STARTUP" max_ms)")"
else
  printf "%-48s %s\n" "(e) start to listening" "failed (see above)"
fi
printf "%-48s %s\n" "(f) kcat -P acks=all, $KCAT_RECORDS x 1 KiB" "$KCAT_LINE"
if [[ -n "$DISK" ]]; then
  printf "%-48s %s\n" "(g) disk: durable 16 KiB write + rename" \
    "$(printf "p50 %.1f ms, p99 %.1f ms, max %.1f ms" "$(field "$DISK" p50_ms)" "$(field "$DISK" p99_ms)" "$(field "$DISK" max_ms)")"
fi
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
