#!/usr/bin/python3
"""Produces fixed-size records as fast as confluent-kafka (librdkafka) is allowed to for a number
of seconds, under a client id the test puts a quota on, and prints one JSON line: the bytes
delivered, the seconds taken, and the broker throttle times librdkafka reported (its statistics'
per-broker throttle window, which it fills from throttle_time_ms in the responses).

Usage: quota_producer.py --bootstrap HOST:PORT --topic T --client-id ID --seconds S --record-bytes N
"""

import argparse
import json
import sys
import time

from confluent_kafka import Producer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--record-bytes", type=int, default=1000)
    args = parser.parse_args()

    throttle_max = [0]
    delivered = [0]
    errors = []

    def on_stats(text):
        stats = json.loads(text)
        for broker in stats.get("brokers", {}).values():
            throttle_max[0] = max(throttle_max[0], broker.get("throttle", {}).get("max", 0))

    def on_delivery(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            delivered[0] += len(msg.value())

    producer = Producer({
        "bootstrap.servers": args.bootstrap,
        "client.id": args.client_id,
        "acks": "1",
        "linger.ms": 5,
        # Small requests, so the throttle follows the rate closely rather than one large batch.
        "batch.size": 16384,
        "statistics.interval.ms": 200,
        "stats_cb": on_stats,
        "message.timeout.ms": 120000,
    })
    value = b"q" * args.record_bytes
    start = time.monotonic()
    while time.monotonic() - start < args.seconds:
        try:
            producer.produce(args.topic, value, on_delivery=on_delivery)
        except BufferError:
            producer.poll(0.05)
            continue
        producer.poll(0)
    # Only what was delivered within the run counts; what is still queued is left behind.
    producer.poll(0)
    elapsed = time.monotonic() - start
    bytes_in_run = delivered[0]
    errors_in_run = list(errors)
    producer.purge()
    producer.flush(5)
    producer.poll(1)
    print(json.dumps({"bytes": bytes_in_run, "seconds": elapsed, "throttle_max_ms": throttle_max[0], "errors": errors_in_run[:3]}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
