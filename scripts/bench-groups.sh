#!/usr/bin/env bash
# Measures the group coordinator on this machine and prints a table (see docs/benchmarks.md,
# "Consumer groups"):
#   (a) rebalance time of groups of 3 and 30 members: from the last JoinGroup sent to the last
#       SyncGroup answered, for the group's first formation (which includes Kafka's
#       group.initial.rebalance.delay.ms of 3 s, extended once when members keep arriving) and
#       for rebalances of the stable group (median, p90, max of several rounds)
#   (b) offset commits per second: one client committing in a loop, N clients in parallel for
#       groups of their own, and N clients that are the members of one group
# The clients speak raw Kafka requests (test/clients/group_bench.py), so no client library's
# timers are measured. Not part of the test suite; bounded, the defaults take under a minute.
#
# Environment overrides:
#   BENCH_GROUP_ROUNDS (20): rebalances measured per group size
#   BENCH_COMMIT_SECONDS (5): length of each commit run
#   BENCH_COMMIT_CLIENTS (8): N of the parallel commit runs
#   BENCH_KEEP=1 keeps the work directory (broker log)
#   KAFSCALE_BINARY (default out/kafscale)
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${BENCH_GROUP_ROUNDS:-20}
COMMIT_SECONDS=${BENCH_COMMIT_SECONDS:-5}
COMMIT_CLIENTS=${BENCH_COMMIT_CLIENTS:-8}
SOURCE_BINARY=${KAFSCALE_BINARY:-out/kafscale}
PYTHON=/usr/bin/python3
DRIVER=test/clients/group_bench.py

log() { echo "bench-groups: $*" >&2; }

if [[ ! -x "$SOURCE_BINARY" ]]; then
  echo "bench-groups: no kafscale binary at $SOURCE_BINARY: build it with scripts/build.sh or set KAFSCALE_BINARY" >&2
  exit 1
fi
if ! "$PYTHON" -c 'import kafka' 2>/dev/null; then
  echo "bench-groups: $PYTHON cannot import kafka (python3-kafka): run scripts/install-deps.sh" >&2
  exit 1
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kafscale-bench-groups.XXXXXX")
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

read -r KAFKA_PORT HTTP_PORT < <("$PYTHON" -c '
import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])')
BOOTSTRAP="127.0.0.1:$KAFKA_PORT"
mkdir -p "$WORK/data"
"$WORK/kafscale" broker --listen "$BOOTSTRAP" --http "127.0.0.1:$HTTP_PORT" --data-dir "$WORK/data" \
  --advertised-host 127.0.0.1 --log-level warn >"$WORK/broker.log" 2>&1 &
BROKER_PID=$!
for _ in $(seq 1 500); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$KAFKA_PORT") 2>/dev/null; then break; fi
  if ! kill -0 "$BROKER_PID" 2>/dev/null; then
    echo "bench-groups: the broker exited before listening:" >&2
    cat "$WORK/broker.log" >&2
    exit 1
  fi
  sleep 0.02
done
log "broker pid $BROKER_PID on $BOOTSTRAP"

# Runs the driver with a time limit; prints its JSON lines.
run() {
  local name=$1 limit=$2
  shift 2
  log "$name"
  if ! PYTHONPATH=test/clients timeout "$limit" "$PYTHON" "$DRIVER" "$@" --bootstrap "$BOOTSTRAP" --topic bench-groups \
      >"$WORK/$name.json" 2>"$WORK/$name.err"; then
    log "$name failed: $(tail -n 5 "$WORK/$name.err" | tr '\n' ' ')"
  fi
  cat "$WORK/$name.json"
}
# A field of the JSON line of this type (the lines are flat).
field() { "$PYTHON" -c '
import json, sys
for line in sys.stdin:
    o = json.loads(line)
    if o.get("type") == sys.argv[1]:
        v = o[sys.argv[2]]
        print(("%.1f" % v) if isinstance(v, float) else v)' "$1" "$2"; }

R3=$(run rebalance-3 60 rebalance --members 3 --rounds "$ROUNDS")
R30=$(run rebalance-30 60 rebalance --members 30 --rounds "$ROUNDS")
limit=$((${COMMIT_SECONDS%.*} + 60))
C1=$(run commits-1 "$limit" commits --clients 1 --mode own-groups --seconds "$COMMIT_SECONDS")
CN=$(run commits-n "$limit" commits --clients "$COMMIT_CLIENTS" --mode own-groups --seconds "$COMMIT_SECONDS")
CG=$(run commits-group "$limit" commits --clients "$COMMIT_CLIENTS" --mode one-group --seconds "$COMMIT_SECONDS")

fmt_ms() { printf '%s ms' "$1"; }
echo
echo "KafScale consumer groups, $(nproc) cores, $(date -u +%Y-%m-%d)"
printf '%-58s %s\n' "measurement" "result"
printf '%-58s %s\n' "----------------------------------------------------------" "------------------------------------------"
for pair in "3:$R3" "30:$R30"; do
  n=${pair%%:*}
  json=${pair#*:}
  printf '%-58s %s\n' "first formation, $n members (includes the initial delay)" "$(fmt_ms "$(field formation ms <<<"$json")")"
  printf '%-58s %s\n' "rebalance of the stable group, $n members ($ROUNDS rounds)" \
    "median $(field rebalance median_ms <<<"$json") ms, p90 $(field rebalance p90_ms <<<"$json") ms, max $(field rebalance max_ms <<<"$json") ms"
done
for pair in "1 client:$C1" "$COMMIT_CLIENTS clients, a group each:$CN" "$COMMIT_CLIENTS clients, members of one group:$CG"; do
  name=${pair%%:*}
  json=${pair#*:}
  printf '%-58s %s\n' "offset commits, $name" \
    "$(field commits per_second <<<"$json")/s, mean latency $(field commits mean_latency_ms <<<"$json") ms, errors $(field commits errors <<<"$json")"
done
