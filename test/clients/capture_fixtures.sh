#!/usr/bin/env bash
# Captures the request frames real clients send (kcat, kafka-python, kafkajs) into
# test/Integration/Fixtures/<client>-<api>-v<version>.bin, through record_proxy.py.
#
# Each client creates topic fixture-<client> (3 partitions, retention.ms=86400000; kcat cannot
# create topics, so kafka-python creates its topic without the proxy), produces three records
# with keys k0..k2, values v0..v2 and header h=x to partition 1 with acks=all, and reads
# partition 1 back. The decode tests in test/Integration/Protocol assert exactly this content,
# so change both together. Needs the broker binary (KAFSCALE_BINARY or out/kafscale).
set -euo pipefail
cd "$(dirname "$0")"
clients_dir=$PWD
fixtures=$(cd ../Integration && pwd)/Fixtures
binary=${KAFSCALE_BINARY:-$(cd ../.. && pwd)/out/kafscale}
python=/usr/bin/python3
export PYTHONPATH=$clients_dir PYTHONDONTWRITEBYTECODE=1 KAFKAJS_NO_PARTITIONER_WARNING=1

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { $python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 100); do
    $python -c "import socket,sys; socket.create_connection(('127.0.0.1', $1), 0.2)" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "capture: nothing listens on port $1" >&2; exit 1
}

broker_port=$(free_port); http_port=$(free_port); proxy_port=$(free_port)
"$binary" broker --listen "127.0.0.1:$broker_port" --http "127.0.0.1:$http_port" --data-dir "$work/data" \
  --advertised-host 127.0.0.1 --advertised-port "$proxy_port" --auto-create-topics false 2>"$work/broker.log" &
pids+=($!)
wait_port "$broker_port"

records='{"key":"k0","value":"v0","headers":[["h","x"]],"partition":1}
{"key":"k1","value":"v1","headers":[["h","x"]],"partition":1}
{"key":"k2","value":"v2","headers":[["h","x"]],"partition":1}'

start_proxy() {
  $python record_proxy.py --listen "127.0.0.1:$proxy_port" --upstream "127.0.0.1:$broker_port" --out "$work/rec" --prefix "$1" 2>>"$work/proxy.log" &
  proxy_pid=$!
  wait_port "$proxy_port"
}

stop_proxy() { kill "$proxy_pid"; wait "$proxy_pid" 2>/dev/null || true; }

run_client() {
  local client=$1 topic=fixture-$1 proxy=127.0.0.1:$proxy_port
  if [ "$client" = kcat ]; then
    # Clients reconnect to the advertised address (the proxy): record this setup apart.
    start_proxy setup
    $python kafka_python_client.py admin --bootstrap "$proxy" --topic "$topic" --op create \
      --partitions 3 --config retention.ms=86400000 >/dev/null
    stop_proxy
  fi
  start_proxy "$client"
  case $client in
    kcat)
      printf 'k0\tv0\nk1\tv1\nk2\tv2\n' | kcat -P -b "$proxy" -t "$topic" -p 1 -K '\t' -H h=x -X acks=all
      kcat -C -b "$proxy" -t "$topic" -p 1 -o beginning -e -q >/dev/null
      ;;
    kafka-python)
      $python kafka_python_client.py admin --bootstrap "$proxy" --topic "$topic" --op create \
        --partitions 3 --config retention.ms=86400000 >/dev/null
      echo "$records" | $python kafka_python_client.py produce --bootstrap "$proxy" --topic "$topic" --acks all >/dev/null
      $python kafka_python_client.py consume --bootstrap "$proxy" --topic "$topic" --partition 1 >/dev/null
      ;;
    kafkajs)
      node kafkajs_client.js admin --bootstrap "$proxy" --topic "$topic" --op create \
        --partitions 3 --replication-factor 1 --config retention.ms=86400000 >/dev/null
      echo "$records" | node kafkajs_client.js produce --bootstrap "$proxy" --topic "$topic" --acks all >/dev/null
      node kafkajs_client.js consume --bootstrap "$proxy" --topic "$topic" --partition 1 >/dev/null
      ;;
  esac
  stop_proxy
}

for client in kcat kafka-python kafkajs; do
  run_client "$client"
done

mkdir -p "$fixtures"
for client in kcat kafka-python kafkajs; do
  rm -f "$fixtures/$client"-*.bin
  for api in apiversions metadata produce fetch createtopics; do
    for f in "$work/rec/$client-$api"-v*.bin; do
      [ -e "$f" ] && cp "$f" "$fixtures/"
    done
  done
done
ls -l "$fixtures"
