#!/usr/bin/python3
"""confluent-kafka (librdkafka) consumer-group driver for the integration tests
(test/Integration/Groups). Output lines as in clientio.py.

  member --bootstrap B --topic T --group G --name N --strategy range|cooperative-sticky
      A group member that commits every record synchronously before it counts it as consumed:
      {"type":"record",...} is printed only once the commit of its offset + 1 succeeded. A
      failed commit (the group is rebalancing, or this member was fenced by a newer generation)
      seeks back to the record, so it is read again by whoever owns the partition next.
      Prints {"type":"assignment","member","partitions"} whenever the assignment changes.
      Closing stdin stops it cleanly (close: a LeaveGroup); it then prints "done".
"""

import argparse
import sys
import threading

from confluent_kafka import Consumer, KafkaException, TopicPartition

import clientio


def parser():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("command", choices=["member"])
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--name", default="kafscale-test-confluent-kafka")
    p.add_argument("--strategy", default="range", choices=["range", "roundrobin", "cooperative-sticky"])
    return p


def stop_on_stdin_eof():
    stop = threading.Event()

    def watch():
        for _ in sys.stdin:
            pass
        stop.set()

    threading.Thread(target=watch, daemon=True).start()
    return stop


def member(args):
    stop = stop_on_stdin_eof()
    cooperative = args.strategy == "cooperative-sticky"
    consumer = Consumer({
        "bootstrap.servers": args.bootstrap,
        "client.id": args.name,
        "group.id": args.group,
        "partition.assignment.strategy": args.strategy,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        # The broker's group.min.session.timeout.ms; heartbeats often, so rebalances are quick.
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
        "fetch.wait.max.ms": 100,
    })
    owned = set()

    def report():
        clientio.emit({"type": "assignment", "member": args.name, "partitions": sorted(owned)})

    # confluent-kafka applies the (incremental) assignment itself after these callbacks return.
    def on_assign(_consumer, partitions):
        if not cooperative:
            owned.clear()
        owned.update(tp.partition for tp in partitions)
        report()

    def on_revoke(_consumer, partitions):
        if cooperative:
            owned.difference_update(tp.partition for tp in partitions)
        else:
            owned.clear()
        report()

    consumer.subscribe([args.topic], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_revoke)
    while not stop.is_set():
        msg = consumer.poll(0.2)
        if msg is None:
            continue
        if msg.error() is not None:
            clientio.emit({"type": "error", "member": args.name, "error_code": msg.error().code(), "message": str(msg.error())})
            continue
        committed = TopicPartition(msg.topic(), msg.partition(), msg.offset() + 1)
        try:
            results = consumer.commit(offsets=[committed], asynchronous=False)
            failed = [tp for tp in results or [] if tp.error is not None]
            if failed:
                raise KafkaException(failed[0].error)
        except KafkaException as err:
            clientio.emit({"type": "commit_failed", "member": args.name, "partition": msg.partition(),
                           "offset": msg.offset(), "message": str(err)})
            try:
                consumer.seek(TopicPartition(msg.topic(), msg.partition(), msg.offset()))
            except KafkaException:
                pass  # no longer assigned here: the next owner starts at the last commit
            continue
        clientio.emit({"type": "record", "member": args.name, "partition": msg.partition(), "offset": msg.offset(),
                       "key": clientio.decode(msg.key()), "value": clientio.decode(msg.value())})
    consumer.close()
    clientio.emit({"type": "done", "member": args.name})
    return 0


def main():
    args = parser().parse_args()
    return member(args)


if __name__ == "__main__":
    sys.exit(main())
