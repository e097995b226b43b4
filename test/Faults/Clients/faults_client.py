#!/usr/bin/python3
"""confluent-kafka (librdkafka) workloads of the fault suite. Every line on stdout is one JSON object;
t is wall-clock ms.

produce: producer NAME sends record i with value "NAME-i" to partition i % partitions at a steady
rate (acks=all, optionally idempotent) until the stop file exists, then flushes.
  {"type": "ack", "i": i, "p": partition, "o": offset, "s": ms when produce() was called, "t": ms}
  {"type": "error", "i": i, "p": partition, "code": n, "name": "...", "t": ms}   given up on
  {"type": "client_error", ...}   a broker went away, ...; {"type": "done", "produced": n} last.

group: a consumer-group member reading the topics from the committed offsets (earliest when none),
committing automatically, until the stop file exists.
  {"type": "read", "topic": "...", "p": partition, "o": offset, "v": value, "t": ms}

read: every partition of a topic from the beginning up to its end offset taken at start.
  {"type": "record", "p": partition, "o": offset, "v": value}, then {"type": "done", "end": {...}}
"""

import argparse
import json
import logging
import os
import sys
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, OFFSET_BEGINNING, Producer, TopicPartition


def emit(obj):
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def now_ms():
    return int(time.time() * 1000)


def on_error(err):
    emit({"type": "client_error", "code": err.code(), "name": err.name(), "fatal": err.fatal(),
          "message": err.str(), "t": now_ms()})


def debug_settings(name):
    """librdkafka's idempotence log (epoch bumps and what caused them) in DIR/NAME.log when
    KAFSCALE_FAULTS_CLIENT_DEBUG_DIR is set (docs/reliability.md, "How to run it")."""
    directory = os.environ.get("KAFSCALE_FAULTS_CLIENT_DEBUG_DIR")
    if not directory:
        return {}
    os.makedirs(directory, exist_ok=True)
    logger = logging.getLogger(name)
    handler = logging.FileHandler(os.path.join(directory, name + ".log"))
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    return {"debug": os.environ.get("KAFSCALE_FAULTS_CLIENT_DEBUG", "eos,msg"), "logger": logger}


def produce(args):
    producer = Producer({
        **debug_settings(args.name),
        "bootstrap.servers": args.bootstrap,
        "client.id": args.name,
        "acks": "all",
        "linger.ms": 5,
        "enable.idempotence": args.idempotent,
        # Never give a record up while a fault lasts: a delivery failure is not a loss, but it
        # hides what the broker would have done with the record.
        "message.timeout.ms": 300000,
        "request.timeout.ms": 10000,
        "socket.timeout.ms": 10000,
        "retry.backoff.ms": 100,
        "topic.metadata.refresh.interval.ms": 2000,
        "metadata.max.age.ms": 6000,
        "error_cb": on_error,
    })
    in_flight = [0]

    def report(index, sent):
        def done(err, msg):
            in_flight[0] -= 1
            if err is None:
                emit({"type": "ack", "i": index, "p": msg.partition(), "o": msg.offset(), "s": sent, "t": now_ms()})
            else:
                emit({"type": "error", "i": index, "p": msg.partition(), "code": err.code(), "name": err.name(),
                      "fatal": err.fatal(), "t": now_ms()})
        return done

    index = 0
    interval = 1.0 / args.rate
    next_at = time.monotonic()
    while not os.path.exists(args.stop_file):
        if in_flight[0] >= 5000:
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
            producer.produce(args.topic, value=("%s-%d" % (args.name, index)).encode(), key=("k-%d" % index).encode(),
                             partition=index % args.partitions, on_delivery=report(index, now_ms()))
        except BufferError:
            producer.poll(0.05)
            continue
        in_flight[0] += 1
        index += 1
        producer.poll(0)
    remaining = producer.flush(240)
    emit({"type": "done", "produced": index, "unfinished": remaining})
    return 0


def group(args):
    consumer = Consumer({
        "bootstrap.servers": args.bootstrap,
        "client.id": "kafscale-faults-group",
        "group.id": args.group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": True,
        "auto.commit.interval.ms": 1000,
        "session.timeout.ms": 10000,
        "heartbeat.interval.ms": 1000,
        "fetch.wait.max.ms": 200,
        "topic.metadata.refresh.interval.ms": 2000,
        "error_cb": on_error,
    })
    consumer.subscribe(args.topic)
    while not os.path.exists(args.stop_file):
        msg = consumer.poll(0.2)
        if msg is None:
            continue
        if msg.error() is not None:
            if msg.error().code() != KafkaError._PARTITION_EOF:
                emit({"type": "client_error", "code": msg.error().code(), "message": str(msg.error()), "t": now_ms()})
            continue
        emit({"type": "read", "topic": msg.topic(), "p": msg.partition(), "o": msg.offset(),
              "v": msg.value().decode(), "t": now_ms()})
    consumer.close()
    emit({"type": "done"})
    return 0


def read(args):
    consumer = Consumer({
        "bootstrap.servers": args.bootstrap,
        "client.id": "kafscale-faults-reader",
        "group.id": "kafscale-faults-unused",
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
                end[p] = consumer.get_watermark_offsets(TopicPartition(args.topic[0], p), timeout=timeout, cached=False)[1]
                break
            except KafkaException as err:
                if time.monotonic() > give_up:
                    raise
                sys.stderr.write("watermarks of partition %d: %s; retrying\n" % (p, err))
                time.sleep(0.2)
    position = {p: 0 for p in end}
    consumer.assign([TopicPartition(args.topic[0], p, OFFSET_BEGINNING) for p in end])
    while any(position[p] < end[p] for p in end):
        if time.monotonic() > give_up:
            emit({"type": "error", "message": "timed out", "position": position, "end": end})
            return 3
        msg = consumer.poll(0.2)
        if msg is None:
            continue
        if msg.error() is not None:
            if msg.error().code() != KafkaError._PARTITION_EOF:
                emit({"type": "client_error", "code": msg.error().code(), "message": str(msg.error())})
            continue
        position[msg.partition()] = msg.offset() + 1
        emit({"type": "record", "p": msg.partition(), "o": msg.offset(), "v": msg.value().decode()})
    consumer.close()
    emit({"type": "done", "end": {str(k): v for k, v in end.items()}})
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["produce", "group", "read"])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True, action="append", help="repeat for a group reading several")
    parser.add_argument("--partitions", type=int, default=1)
    parser.add_argument("--name", default="p")
    parser.add_argument("--rate", type=float, default=100.0, help="records per second")
    parser.add_argument("--idempotent", action="store_true")
    parser.add_argument("--group", default="kafscale-faults")
    parser.add_argument("--stop-file", default="/nonexistent")
    parser.add_argument("--timeout-ms", type=int, default=120000)
    args = parser.parse_args()
    if args.command == "produce":
        args.topic = args.topic[0]
    return {"produce": produce, "group": group, "read": read}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
