#!/usr/bin/env bash
# Measures what security costs one kafscale broker on this machine (docs/benchmarks.md, "Security"):
#   (a) produce throughput, 16 partitions, 1 KiB records, acks=all, directory store, through a
#       PLAINTEXT and a SASL_SSL (SCRAM-SHA-512) listener of the same broker, and the ratio
#   (b) fetch throughput of what (a) produced, through each listener, and the ratio
#   (c) broker CPU seconds per produced MiB (from /proc/PID/stat, sampled after the warmup and at
#       the end of the run) with --authorizer acl among 10,000 ACLs, against the
#       same load without the authorizer (measured before and after, to show the noise)
# Certificates are made with openssl in the work directory. The client is tools/LoadGen (the
# repository's own Kafka client, as scripts/bench.sh uses), which speaks SASL_SSL.
# Not part of the test suite. Every step is bounded in time; the defaults take about 3 minutes.
#
# Environment overrides:
#   BENCH_PRODUCE_SECONDS (15)  BENCH_WARMUP_SECONDS (2)  BENCH_CONSUME_SECONDS (30)
#   BENCH_BATCH_BYTES (64k) BENCH_IN_FLIGHT (8): per-partition batch and requests in flight, as bench.sh's 16-partition run
#   BENCH_ACLS (10000)  BENCH_SASL_MECHANISM (SCRAM-SHA-512)
#   BENCH_KEEP=1 keeps the work directory (broker logs, JSON results)
#   KAFSCALE_BINARY (default out/kafscale)
set -euo pipefail
cd "$(dirname "$0")/.."

PRODUCE_SECONDS=${BENCH_PRODUCE_SECONDS:-15}
WARMUP_SECONDS=${BENCH_WARMUP_SECONDS:-2}
CONSUME_SECONDS=${BENCH_CONSUME_SECONDS:-30}
BATCH_BYTES=${BENCH_BATCH_BYTES:-64k}
IN_FLIGHT=${BENCH_IN_FLIGHT:-8}
ACLS=${BENCH_ACLS:-10000}
MECHANISM=${BENCH_SASL_MECHANISM:-SCRAM-SHA-512}
SOURCE_BINARY=${KAFSCALE_BINARY:-out/kafscale}

export DOTNET_ROLL_FORWARD=Major DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

log() { echo "bench-security: $*" >&2; }

command -v openssl >/dev/null 2>&1 || { echo "bench-security: openssl is missing (apt-get install -y openssl)" >&2; exit 1; }
if [[ ! -x "$SOURCE_BINARY" ]]; then
  if [[ -n "${KAFSCALE_BINARY:-}" ]]; then
    echo "bench-security: KAFSCALE_BINARY=$KAFSCALE_BINARY is not an executable" >&2
    exit 1
  fi
  log "out/kafscale is missing: building it with scripts/build.sh"
  ./scripts/build.sh
fi
log "building tools/LoadGen (Release)"
dotnet build tools/LoadGen/LoadGen.csproj -c Release -nologo -v q -clp:ErrorsOnly >&2
LOADGEN_DLL=tools/LoadGen/bin/Release/net10.0/KafScale.LoadGen.dll
loadgen() { dotnet "$LOADGEN_DLL" "$@"; }

# ---- work directory, certificates ----------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kafscale-bench-security.XXXXXX")
BROKER_PID=""
stop_broker() {
  if [[ -n "$BROKER_PID" ]] && kill -0 "$BROKER_PID" 2>/dev/null; then
    kill "$BROKER_PID" 2>/dev/null || true
    wait "$BROKER_PID" 2>/dev/null || true
  fi
  BROKER_PID=""
}
cleanup() {
  stop_broker
  if [[ "${BENCH_KEEP:-0}" == 1 ]]; then
    log "kept $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cp "$SOURCE_BINARY" "$WORK/kafscale"
BINARY="$WORK/kafscale"

CERTS="$WORK/certs"
mkdir -p "$CERTS"
(
  cd "$CERTS"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -keyout ca.key -out ca.crt -subj /CN=kafscale-bench-ca \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >broker.ext
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout broker.key -out broker.csr -subj /CN=broker-1
  openssl x509 -req -in broker.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile broker.ext -out broker.crt
) >"$WORK/openssl.log" 2>&1 || { cat "$WORK/openssl.log" >&2; exit 1; }

read -r PLAIN_PORT SASL_PORT SASL_PLAIN_PORT HTTP_PORT < <(loadgen ports --count 4)
PLAIN="127.0.0.1:$PLAIN_PORT"
SASL="127.0.0.1:$SASL_PORT"
LOADER="127.0.0.1:$SASL_PLAIN_PORT"
mkdir -p "$WORK/data"
PASSWORD="bench-$(openssl rand -hex 8)"
SASL_ARGS=(--security-protocol SASL_SSL --sasl-mechanism "$MECHANISM" --sasl-username bench --sasl-password "$PASSWORD" --tls-ca "$CERTS/ca.crt")
LOADER_ARGS=(--security-protocol SASL_PLAINTEXT --sasl-mechanism "$MECHANISM" --sasl-username loader --sasl-password "$PASSWORD")

# One broker on one data directory, started again for each phase with other flags.
start_broker() {
  local name=$1
  shift
  "$BINARY" broker --listeners "PLAINTEXT://$PLAIN,SASL_SSL://$SASL,SASL_PLAINTEXT://$LOADER" \
    --tls-cert "$CERTS/broker.crt" --tls-key "$CERTS/broker.key" \
    --http "127.0.0.1:$HTTP_PORT" --data-dir "$WORK/data" --log-level warn "$@" >"$WORK/broker-$name.log" 2>&1 &
  BROKER_PID=$!
  for _ in $(seq 1 500); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PLAIN_PORT") 2>/dev/null; then break; fi
    if ! kill -0 "$BROKER_PID" 2>/dev/null; then
      echo "bench-security: the broker exited before listening:" >&2
      cat "$WORK/broker-$name.log" >&2
      exit 1
    fi
    sleep 0.02
  done
  log "broker ($name) pid $BROKER_PID: PLAINTEXT $PLAIN, SASL_SSL $SASL, SASL_PLAINTEXT $LOADER $*"
}

field() { sed -n "s/.*\"$2\":\"\{0,1\}\([^,\"}]*\).*/\1/p" <<<"$1"; }
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

produce_limit=$((PRODUCE_SECONDS + WARMUP_SECONDS + 60))
produce() { # name bootstrap topic [security args...]
  local name=$1 bootstrap=$2 topic=$3
  shift 3
  run_json "$name" "$produce_limit" produce --bootstrap "$bootstrap" --topic "$topic" --partitions 16 --record-size 1024 --acks all \
    --duration "${PRODUCE_SECONDS}s" --warmup "${WARMUP_SECONDS}s" --batch-bytes "$BATCH_BYTES" --in-flight "$IN_FLIGHT" "$@"
}
consume() { # name bootstrap topic [security args...]
  local name=$1 bootstrap=$2 topic=$3
  shift 3
  run_json "$name" $((CONSUME_SECONDS + 60)) consume --bootstrap "$bootstrap" --topic "$topic" --duration "${CONSUME_SECONDS}s" "$@"
}
# A produce run with the broker's CPU seconds sampled when the warmup ends and when the run ends;
# prints CPU seconds per MiB produced in the measured part. The JSON line stays in $WORK/NAME.json.
measured_produce() { # name bootstrap topic [security args...]
  local name=$1
  (sleep "$WARMUP_SECONDS"; broker_cpu_s >"$WORK/$name.cpu0") &
  local sampler=$!
  produce "$@" >/dev/null
  broker_cpu_s >"$WORK/$name.cpu1"
  wait "$sampler" || true
  awk -v mibs="$(field "$(cat "$WORK/$name.json")" mib_per_s)" -v t="$PRODUCE_SECONDS" -v b="$(cat "$WORK/$name.cpu0")" -v a="$(cat "$WORK/$name.cpu1")" \
    'BEGIN { mib = mibs * t; if (mib > 0) printf "%.4f", (a - b) / mib; else printf "n/a" }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }'; }

# ---- (a), (b): PLAINTEXT against SASL_SSL, no authorizer -------------------------------------------
start_broker plain
printf '%s\n' "$PASSWORD" >"$WORK/password"
for user in bench loader; do
  "$BINARY" admin --bootstrap "$PLAIN" users set "$user" --mechanism "$MECHANISM" --password-file "$WORK/password" >/dev/null
done
log "(a) produce 16 partitions through PLAINTEXT, ${PRODUCE_SECONDS}s"
CPU_NONE_1=$(measured_produce produce-plaintext "$PLAIN" bench-plaintext)
P_PLAIN=$(cat "$WORK/produce-plaintext.json")
log "(a) produce 16 partitions through SASL_SSL ($MECHANISM), ${PRODUCE_SECONDS}s"
CPU_SASL=$(measured_produce produce-sasl-ssl "$SASL" bench-sasl-ssl "${SASL_ARGS[@]}")
P_SASL=$(cat "$WORK/produce-sasl-ssl.json")
log "(b) fetch what was produced, through each listener"
C_PLAIN=$(consume consume-plaintext "$PLAIN" bench-plaintext)
C_SASL=$(consume consume-sasl-ssl "$SASL" bench-sasl-ssl "${SASL_ARGS[@]}")
stop_broker

# ---- (c): the authorizer among many ACLs ----------------------------------------------------------
# The load runs as User:ANONYMOUS on PLAINTEXT, allowed by one PREFIXED ACL among the others;
# the ACLs are loaded by a super user over SASL_PLAINTEXT.
start_broker acl --authorizer acl --super-users User:loader
log "(c) loading $ACLS ACLs"
ACL_LOAD=$(run_json acls 300 acls --bootstrap "$LOADER" --allow User:ANONYMOUS --topic-prefix bench-acl --count "$ACLS" "${LOADER_ARGS[@]}")
# The allowing ACL is the last one created; under load the broker's index may take a moment
# to show it, so the topic is created as User:ANONYMOUS once that is allowed (at most 60 s).
for attempt in $(seq 1 120); do
  if "$BINARY" admin --bootstrap "$PLAIN" topics create bench-acl-1 --partitions 16 >"$WORK/create-acl-topic.log" 2>&1; then break; fi
  if [[ "$attempt" == 120 ]]; then
    echo "bench-security: User:ANONYMOUS still may not create bench-acl-1 after loading the ACLs:" >&2
    cat "$WORK/create-acl-topic.log" >&2
    exit 1
  fi
  sleep 0.5
done
log "(c) produce 16 partitions through PLAINTEXT with --authorizer acl and $ACLS ACLs, ${PRODUCE_SECONDS}s"
CPU_ACL=$(measured_produce produce-acl "$PLAIN" bench-acl-1)
P_ACL=$(cat "$WORK/produce-acl.json")
stop_broker

start_broker none-again
log "(c) produce 16 partitions through PLAINTEXT without the authorizer again, ${PRODUCE_SECONDS}s"
CPU_NONE_2=$(measured_produce produce-plaintext-2 "$PLAIN" bench-plaintext-2)
P_NONE2=$(cat "$WORK/produce-plaintext-2.json")
stop_broker

# ---- report --------------------------------------------------------------------------------------
rate() { printf '%s MiB/s (%s records/s)' "$(field "$1" mib_per_s)" "$(field "$1" records_per_s)"; }
CPU_NONE=$(awk -v a="$CPU_NONE_1" -v b="$CPU_NONE_2" 'BEGIN { printf "%.4f", (a + b) / 2 }')
cat <<EOF

KafScale security benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)
16 partitions, 1 KiB records, acks=all, directory store; client tools/LoadGen, ${PRODUCE_SECONDS}s produce runs
(a) produce PLAINTEXT        $(rate "$P_PLAIN"), p99 $(field "$P_PLAIN" latency_p99_ms) ms, broker CPU ${CPU_NONE_1} s/MiB
    produce SASL_SSL         $(rate "$P_SASL"), p99 $(field "$P_SASL" latency_p99_ms) ms, broker CPU ${CPU_SASL} s/MiB ($MECHANISM)
    ratio SASL_SSL/PLAINTEXT $(ratio "$(field "$P_SASL" mib_per_s)" "$(field "$P_PLAIN" mib_per_s)")
(b) fetch PLAINTEXT          $(rate "$C_PLAIN")
    fetch SASL_SSL           $(rate "$C_SASL")
    ratio SASL_SSL/PLAINTEXT $(ratio "$(field "$C_SASL" mib_per_s)" "$(field "$C_PLAIN" mib_per_s)")
(c) ACLs loaded              $(field "$ACL_LOAD" acls) in $(field "$ACL_LOAD" seconds) s
    no authorizer            $(rate "$P_PLAIN"): ${CPU_NONE_1} s/MiB; again: $(rate "$P_NONE2"): ${CPU_NONE_2} s/MiB
    --authorizer acl         $(rate "$P_ACL"): ${CPU_ACL} s/MiB
    CPU per MiB, acl/none    $(ratio "$CPU_ACL" "$CPU_NONE") (none = mean of the two runs without the authorizer)
EOF
