#!/usr/bin/env bash
# Iceberg processor throughput: records/s and MB/s from segments to committed Parquet.
#
# Produces RECORDS JSON records of about RECORD_BYTES each (default 1,000,000 x 1 KiB) with kcat
# through a local broker on PARTITIONS partitions, stops the broker, then times
# `kafscale processor iceberg --once` over its bucket and checks the table with DuckDB.
#
# Environment: RECORDS, RECORD_BYTES, PARTITIONS (4), CODEC (kcat's codec: none, gzip, snappy,
# lz4, zstd; default lz4), PARQUET (zstd, snappy, none; default zstd), KAFSCALE_BINARY
# (default out/kafscale, built when missing), KEEP=1 keeps the work directory.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

RECORDS=${RECORDS:-1000000}
RECORD_BYTES=${RECORD_BYTES:-1024}
PARTITIONS=${PARTITIONS:-4}
CODEC=${CODEC:-lz4}
PARQUET=${PARQUET:-zstd}
BIN=${KAFSCALE_BINARY:-out/kafscale}

command -v kcat >/dev/null || { echo "bench-processor.sh: kcat is missing (apt-get install kcat)" >&2; exit 1; }
[ -x "$BIN" ] || ./scripts/build.sh
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

work=$(mktemp -d -t kafscale-bench-processor.XXXXXX)
broker_pid=""
cleanup() {
  if [ -n "$broker_pid" ] && kill -0 "$broker_pid" 2>/dev/null; then kill "$broker_pid" 2>/dev/null || true; wait "$broker_pid" 2>/dev/null || true; fi
  if [ "${KEEP:-0}" != 1 ]; then rm -rf "$work"; else echo "kept $work"; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
port=$(free_port)
http=$(free_port)

"$BIN" broker --listen "127.0.0.1:$port" --http "127.0.0.1:$http" --data-dir "$work/data" \
  --default-partitions "$PARTITIONS" --log-level warn >"$work/broker.log" 2>&1 &
broker_pid=$!
for _ in $(seq 1 200); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  sleep 0.05
done

echo "producing $RECORDS JSON records of ~$RECORD_BYTES bytes to $PARTITIONS partitions (kcat, $CODEC)..."
t0=$(date +%s.%N)
python3 - "$RECORDS" "$RECORD_BYTES" <<'PY' | kcat -P -b "127.0.0.1:$port" -t bench -K $'\t' -z "$CODEC" \
  -X acks=1 -X linger.ms=20 -X batch.num.messages=10000 -X queue.buffering.max.kbytes=1048576
import random, sys
n, size = int(sys.argv[1]), int(sys.argv[2])
words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima"]
rnd = random.Random(7)
out = sys.stdout
for i in range(n):
    head = '{"id":%d,"user":"user-%d","event":"%s","amount":%d.%02d,"ok":%s,"at":"2024-05-%02dT%02d:%02d:00Z","text":"' % (
        i, rnd.randrange(10000), rnd.choice(words), rnd.randrange(1000), rnd.randrange(100),
        "true" if i % 3 else "false", 1 + i % 28, i % 24, i % 60)
    filler = []
    left = size - len(head) - 2
    while left > 0:
        w = rnd.choice(words)
        filler.append(w)
        left -= len(w) + 1
    out.write("k%d\t%s%s\"}\n" % (i, head, " ".join(filler)[:max(0, size - len(head) - 2)]))
PY
t1=$(date +%s.%N)
kill -TERM "$broker_pid"; wait "$broker_pid" || true; broker_pid=""
segment_bytes=$(du -sb "$work/data/objects" | cut -f1)
echo "produced in $(echo "$t1 - $t0" | bc) s; segments: $((segment_bytes / 1048576)) MiB; broker stopped"

echo "processing with kafscale processor iceberg --once (Parquet $PARQUET)..."
t2=$(date +%s.%N)
/usr/bin/time -f "%M %U %S" -o "$work/rss" "$BIN" processor iceberg --topics bench --data-dir "$work/data" --warehouse "$work/wh" \
  --compression "$PARQUET" --once --http off --log-level warn 2>"$work/processor.log"
t3=$(date +%s.%N)
secs=$(echo "$t3 - $t2" | bc -l)
parquet_bytes=$(du -sb "$work/wh/kafscale/bench/data" | cut -f1)
read -r rss_kb user_s sys_s <"$work/rss"

rows=$(node "$root/test/clients/processor-table.mjs" --table "$work/wh/kafscale/bench" | python3 -c 'import json,sys; t=json.load(sys.stdin); print(t["rows"], t["distinct_offsets"])')
read -r n distinct <<<"$rows"
if [ "$n" != "$RECORDS" ] || [ "$distinct" != "$RECORDS" ]; then
  echo "table check failed: rows $n, distinct offsets $distinct, expected $RECORDS" >&2
  exit 1
fi

python3 - "$RECORDS" "$RECORD_BYTES" "$segment_bytes" "$parquet_bytes" "$secs" "$rss_kb" "$user_s" "$sys_s" <<'PY'
import sys
n, size, seg, pq, secs, rss = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
cpu = float(sys.argv[7]) + float(sys.argv[8])
print(f"records:            {n:,} x ~{size} B JSON")
print(f"time (--once):      {secs:.2f} s (process start to exit, commit included)")
print(f"records/s:          {n / secs:,.0f}")
print(f"record MB/s:        {n * size / secs / 1e6:,.1f} (JSON values)")
print(f"segment MB/s:       {seg / secs / 1e6:,.1f} (bucket bytes read)")
print(f"parquet written:    {pq / 1048576:,.1f} MiB ({pq / max(1, n * size):.2f} of the JSON bytes)")
print(f"CPU time:           {cpu:.2f} s user+sys = {n / cpu:,.0f} records per CPU-second (load-independent)")
print(f"peak RSS:           {rss / 1024:,.0f} MiB")
PY
echo "table verified with DuckDB: $n rows, $distinct distinct offsets"
