#!/usr/bin/python3
"""confluent-kafka (librdkafka) consumer-group member for the cluster tests.

member: subscribes to a topic in a group, reads from the committed offsets (earliest when none)
and commits every record synchronously, one at a time, until the stop file exists. Output, one
JSON object per line on stdout (t is wall-clock ms):
  {"type": "fetched", "p": partition, "o": offset, "t": t}        a record was handed to the app
  {"type": "committed", "p": partition, "o": offset, "v": value, "t": t}
                                                                  the commit of offset + 1 succeeded
  {"type": "commit_failed", "p": partition, "o": offset, "message": "...", "t": t}
                                                                  the consumer seeks back to offset
  {"type": "assignment", "partitions": [...], "t": t}
  {"type": "client_error", ...}, {"type": "done"} when it stopped.
"""

import argparse
import json
import os
import sys
import time

from confluent_kafka import Consumer, KafkaException, TopicPartition


def emit(obj):
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def now_ms():
    return int(time.time() * 1000)


def member(args):
    def on_error(err):
        emit({"type": "client_error", "code": err.code(), "name": err.name(), "message": err.str(), "t": now_ms()})

    consumer = Consumer({
        "bootstrap.servers": args.bootstrap,
        "client.id": args.name,
        "group.id": args.group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
        "fetch.wait.max.ms": 100,
        "topic.metadata.refresh.interval.ms": 2000,
        "socket.timeout.ms": 10000,
        "error_cb": on_error,
    })
    owned = set()

    def on_assign(_consumer, partitions):
        owned.clear()
        owned.update(tp.partition for tp in partitions)
        emit({"type": "assignment", "partitions": sorted(owned), "t": now_ms()})

    def on_revoke(_consumer, partitions):
        owned.clear()
        emit({"type": "assignment", "partitions": [], "t": now_ms()})

    consumer.subscribe([args.topic], on_assign=on_assign, on_revoke=on_revoke)
    while not os.path.exists(args.stop_file):
        msg = consumer.poll(0.2)
        if msg is None:
            continue
        if msg.error() is not None:
            emit({"type": "client_error", "code": msg.error().code(), "message": str(msg.error()), "t": now_ms()})
            continue
        emit({"type": "fetched", "p": msg.partition(), "o": msg.offset(), "t": now_ms()})
        try:
            results = consumer.commit(offsets=[TopicPartition(msg.topic(), msg.partition(), msg.offset() + 1)],
                                      asynchronous=False)
            failed = [tp for tp in results or [] if tp.error is not None]
            if failed:
                raise KafkaException(failed[0].error)
        except KafkaException as err:
            emit({"type": "commit_failed", "p": msg.partition(), "o": msg.offset(), "message": str(err), "t": now_ms()})
            try:
                consumer.seek(TopicPartition(msg.topic(), msg.partition(), msg.offset()))
            except KafkaException:
                pass  # not assigned here any more: its next owner starts at the committed offset
            time.sleep(0.1)
            continue
        emit({"type": "committed", "p": msg.partition(), "o": msg.offset(), "v": msg.value().decode(), "t": now_ms()})
    consumer.close()
    emit({"type": "done"})
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["member"])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--name", default="kafscale-cluster-member")
    parser.add_argument("--stop-file", required=True)
    args = parser.parse_args()
    return member(args)


if __name__ == "__main__":
    sys.exit(main())
