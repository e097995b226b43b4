#!/usr/bin/python3
"""confluent-kafka (librdkafka) driver for the cluster tests.

produce-loop: produces record i = "v-<i>" to partition i % partitions at a steady rate until the
stop file exists, then flushes. Every delivery report is one JSON line on stdout:
  {"type": "ack", "i": i, "p": partition, "o": offset, "t": wall-clock ms}
  {"type": "error", "i": i, "p": partition, "code": n, "name": "...", "retriable": bool, "t": ms}
client-level errors (a broker down, ...) are {"type": "client_error", ...}; the last line is
{"type": "done", "produced": n}.

consume: reads every partition from the beginning up to its end offset (taken at start) and
prints {"type": "record", "p": partition, "o": offset, "v": value} lines, then {"type": "done"}.
"""

import argparse
import json
import os
import sys
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, OFFSET_BEGINNING, Producer, TopicPartition


def emit(obj):
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def now_ms():
    return int(time.time() * 1000)


def produce_loop(args):
    def on_error(err):
        emit({"type": "client_error", "code": err.code(), "name": err.name(), "fatal": err.fatal(),
              "retriable": err.retriable(), "message": err.str(), "t": now_ms()})

    producer = Producer({
        "bootstrap.servers": args.bootstrap,
        "client.id": "kafscale-cluster-chaos",
        "acks": "all",
        "linger.ms": 5,
        "enable.idempotence": args.idempotent,
        "message.timeout.ms": 180000,
        "request.timeout.ms": 10000,
        "socket.timeout.ms": 10000,
        "retry.backoff.ms": 100,
        "topic.metadata.refresh.interval.ms": 2000,
        "metadata.max.age.ms": 6000,
        "error_cb": on_error,
    })
    in_flight = [0]

    def report(index):
        def done(err, msg):
            in_flight[0] -= 1
            if err is None:
                emit({"type": "ack", "i": index, "p": msg.partition(), "o": msg.offset(), "t": now_ms()})
            else:
                emit({"type": "error", "i": index, "p": msg.partition(), "code": err.code(), "name": err.name(),
                      "retriable": err.retriable(), "fatal": err.fatal(), "t": now_ms()})
        return done

    index = 0
    interval = 1.0 / args.rate
    next_at = time.monotonic()
    while not os.path.exists(args.stop_file):
        if in_flight[0] >= 2000:
            producer.poll(0.01)
            continue
        now = time.monotonic()
        if now < next_at:
            producer.poll(min(next_at - now, 0.05))
            continue
        next_at += interval
        if next_at < now - 1:
            next_at = now
        try:
            producer.produce(args.topic, value=("v-%d" % index).encode(), key=("k-%d" % index).encode(),
                             partition=index % args.partitions, on_delivery=report(index))
        except BufferError:
            producer.poll(0.05)
            continue
        in_flight[0] += 1
        index += 1
        producer.poll(0)
    remaining = producer.flush(120)
    emit({"type": "done", "produced": index, "unfinished": remaining})
    return 0


def consume(args):
    consumer = Consumer({
        "bootstrap.servers": args.bootstrap,
        "client.id": "kafscale-cluster-reader",
        "group.id": "kafscale-cluster-unused",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "fetch.wait.max.ms": 100,
        "topic.metadata.refresh.interval.ms": 2000,
    })
    timeout = args.timeout_ms / 1000
    give_up = time.monotonic() + timeout
    end = {}
    for p in range(args.partitions):
        # A partition may be moving between brokers right now: its leader answers again in a moment.
        while True:
            try:
                end[p] = consumer.get_watermark_offsets(TopicPartition(args.topic, p), timeout=timeout, cached=False)[1]
                break
            except KafkaException as err:
                if time.monotonic() > give_up:
                    raise
                sys.stderr.write("watermarks of partition %d: %s; retrying\n" % (p, err))
                time.sleep(0.2)
    position = {p: 0 for p in end}
    consumer.assign([TopicPartition(args.topic, p, OFFSET_BEGINNING) for p in end])
    deadline = time.monotonic() + timeout
    while any(position[p] < end[p] for p in end):
        if time.monotonic() > deadline:
            emit({"type": "error", "message": "timed out", "position": position, "end": end})
            return 3
        msg = consumer.poll(0.2)
        if msg is None:
            continue
        if msg.error() is not None:
            if msg.error().code() == KafkaError._PARTITION_EOF:
                continue
            emit({"type": "client_error", "code": msg.error().code(), "message": str(msg.error())})
            continue
        position[msg.partition()] = msg.offset() + 1
        emit({"type": "record", "p": msg.partition(), "o": msg.offset(), "v": msg.value().decode()})
    consumer.close()
    emit({"type": "done", "end": {str(k): v for k, v in end.items()}})
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["produce-loop", "consume"])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--partitions", type=int, required=True)
    parser.add_argument("--rate", type=float, default=200.0, help="records per second")
    parser.add_argument("--stop-file", default="/nonexistent")
    parser.add_argument("--idempotent", action="store_true")
    parser.add_argument("--timeout-ms", type=int, default=60000)
    args = parser.parse_args()
    return {"produce-loop": produce_loop, "consume": consume}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
