#!/usr/bin/python3
"""confluent-kafka (librdkafka) driver for the integration tests. See clientio.py for the input
and output lines.

confluent-kafka insists on a group.id for any Consumer; this one is never used for a group:
partitions are assigned explicitly and nothing is committed.
"""

import sys
import time

from confluent_kafka import (KafkaError, KafkaException, OFFSET_BEGINNING, Consumer, Producer,
                             TIMESTAMP_LOG_APPEND_TIME, TopicPartition)
from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic

import clientio

CLIENT_ID = "kafscale-test-confluent-kafka"


def producer_for(args):
    config = {
        "bootstrap.servers": args.bootstrap,
        "client.id": CLIENT_ID,
        "acks": args.acks,
        "compression.type": args.compression,
        "linger.ms": 20,
        "enable.idempotence": args.idempotent or args.transactional_id is not None,
        "message.timeout.ms": args.timeout_ms,
    }
    if args.transactional_id is not None:
        config["transactional.id"] = args.transactional_id
    return Producer(config)


def headers_of(record):
    return [(name, clientio.encode(value)) for name, value in record.get("headers") or []]


def produce(args):
    records = clientio.read_records()
    producer = producer_for(args)
    outcome = {}
    if args.transactional_id is not None:
        try:
            producer.init_transactions(args.timeout_ms / 1000)
            producer.begin_transaction()
        except KafkaException as err:
            kafka_error = err.args[0]
            clientio.emit({"type": "error", "error_code": kafka_error.code(), "fatal": kafka_error.fatal(),
                           "message": kafka_error.str()})
            return 1

    def on_delivery(index):
        def report(err, msg):
            outcome[index] = (err, msg)
        return report

    for index, record in enumerate(records):
        kwargs = {"key": clientio.encode(record.get("key")), "value": clientio.encode(record.get("value")),
                  "headers": headers_of(record), "on_delivery": on_delivery(index)}
        if record.get("partition") is not None:
            kwargs["partition"] = record["partition"]
        if record.get("timestamp") is not None:
            kwargs["timestamp"] = record["timestamp"]
        while True:
            try:
                producer.produce(args.topic, **kwargs)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    if args.transactional_id is not None:
        producer.commit_transaction(args.timeout_ms / 1000)
    remaining = producer.flush(args.timeout_ms / 1000)
    failed = 0
    for index in range(len(records)):
        err, msg = outcome.get(index, (None, None))
        if msg is None or err is not None:
            failed += 1
            code = err.code() if err is not None else -1
            clientio.emit({"type": "error", "index": index, "error_code": code,
                           "message": str(err) if err is not None else "no delivery report (%d queued)" % remaining})
        else:
            clientio.emit({"type": "ack", "index": index, "partition": msg.partition(),
                           "offset": msg.offset(), "timestamp": msg.timestamp()[1]})
    clientio.emit({"type": "done", "acked": len(records) - failed, "failed": failed})
    return 0 if failed == 0 else 1


def produce_loop(args):
    """Produces generated records until killed (or --count), printing each acknowledgement at once."""
    producer = producer_for(args)
    partitions = args.partitions or 1
    in_flight = [0]

    def report(err, msg):
        in_flight[0] -= 1
        if err is None:
            clientio.emit({"type": "ack", "partition": msg.partition(), "offset": msg.offset(),
                           "key": clientio.decode(msg.key()), "value": clientio.decode(msg.value())})

    index = 0
    while args.count is None or index < args.count:
        if in_flight[0] >= 200:
            producer.poll(0.01)
            continue
        record = clientio.generated_record(index, partitions, args.value_bytes)
        try:
            producer.produce(args.topic, key=clientio.encode(record["key"]), value=clientio.encode(record["value"]),
                             headers=headers_of(record), partition=record["partition"], on_delivery=report)
        except BufferError:
            producer.poll(0.05)
            continue
        in_flight[0] += 1
        index += 1
        producer.poll(0)
    producer.flush(args.timeout_ms / 1000)
    clientio.emit({"type": "done", "produced": index})
    return 0


def consumer_for(args):
    return Consumer({
        "bootstrap.servers": args.bootstrap,
        "client.id": CLIENT_ID,
        "group.id": "kafscale-test-unused-group",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "fetch.wait.max.ms": 200,
    })


def partitions_of(consumer, args):
    if args.partition:
        return sorted(args.partition)
    metadata = consumer.list_topics(args.topic, timeout=args.timeout_ms / 1000)
    topic = metadata.topics.get(args.topic)
    if topic is None or topic.error is not None or not topic.partitions:
        raise SystemExit("topic %s has no partitions in metadata: %s" % (args.topic, topic and topic.error))
    return sorted(topic.partitions.keys())


def consume(args):
    consumer = consumer_for(args)
    partitions = partitions_of(consumer, args)
    timeout = args.timeout_ms / 1000
    end = {p: consumer.get_watermark_offsets(TopicPartition(args.topic, p), timeout=timeout, cached=False)[1]
           for p in partitions}
    position = {p: 0 for p in partitions}
    consumer.assign([TopicPartition(args.topic, p, OFFSET_BEGINNING) for p in partitions])
    deadline = time.monotonic() + timeout
    count = 0

    def finished():
        if args.count is not None:
            return count >= args.count
        return all(position[p] >= end[p] for p in partitions)

    while not finished():
        if time.monotonic() > deadline:
            clientio.emit({"type": "error", "error_code": -1, "message": "timed out after %d records" % count})
            return 3
        msg = consumer.poll(0.2)
        if msg is None:
            continue
        if msg.error() is not None:
            if msg.error().code() == KafkaError._PARTITION_EOF:
                continue
            clientio.emit({"type": "error", "error_code": msg.error().code(), "message": str(msg.error())})
            return 4
        count += 1
        position[msg.partition()] = msg.offset() + 1
        ts_type, ts = msg.timestamp()
        clientio.emit({
            "type": "record", "partition": msg.partition(), "offset": msg.offset(),
            "key": clientio.decode(msg.key()), "value": clientio.decode(msg.value()),
            "headers": [[k, clientio.decode(v)] for k, v in msg.headers() or []],
            "timestamp": ts,
            "timestamp_type": "log_append" if ts_type == TIMESTAMP_LOG_APPEND_TIME else "create"})
    consumer.close()
    clientio.emit({"type": "done", "count": count})
    return 0


def offsets(args):
    consumer = consumer_for(args)
    timeout = args.timeout_ms / 1000
    for p in partitions_of(consumer, args):
        low, high = consumer.get_watermark_offsets(TopicPartition(args.topic, p), timeout=timeout, cached=False)
        found = []
        for t in args.time or []:
            hit = consumer.offsets_for_times([TopicPartition(args.topic, p, t)], timeout=timeout)[0]
            if hit.error is not None:
                raise KafkaException(hit.error)
            found.append({"time": t, "offset": None if hit.offset < 0 else hit.offset})
        clientio.emit({"type": "result", "partition": p, "earliest": low, "latest": high, "times": found})
    consumer.close()
    return 0


def outcome_of(future, timeout):
    """(error code, message, value) of an admin future: code 0 on success."""
    try:
        return 0, None, future.result(timeout=timeout)
    except KafkaException as err:
        kafka_error = err.args[0]
        return kafka_error.code(), kafka_error.str(), None


def admin(args):
    client = AdminClient({"bootstrap.servers": args.bootstrap, "client.id": CLIENT_ID})
    timeout = args.timeout_ms / 1000
    configs = clientio.parse_configs(args.config)
    if args.op == "create":
        partitions = -1 if args.partitions is None else args.partitions
        topic = NewTopic(args.topic, num_partitions=partitions, replication_factor=args.replication_factor,
                         config=configs)
        futures = client.create_topics([topic], validate_only=args.validate_only, request_timeout=timeout)
    elif args.op == "delete":
        futures = client.delete_topics([args.topic], request_timeout=timeout)
    elif args.op == "create-partitions":
        assignment = clientio.parse_assignments(args.assignment)
        # NewPartitions refuses replica_assignment=None: name it only when there is one.
        grow = (NewPartitions(args.topic, args.partitions) if assignment is None
                else NewPartitions(args.topic, args.partitions, replica_assignment=assignment))
        futures = client.create_partitions([grow], validate_only=args.validate_only, request_timeout=timeout)
    elif args.op == "describe-configs":
        futures = client.describe_configs([ConfigResource("topic", args.topic)], request_timeout=timeout)
        for resource, future in futures.items():
            code, message, entries = outcome_of(future, timeout)
            clientio.emit({"type": "result", "topic": resource.name, "error_code": code, "error_message": message,
                           "configs": {name: entry.value for name, entry in (entries or {}).items()}})
        return 0
    elif args.op == "describe-broker-configs":
        futures = client.describe_configs([ConfigResource("broker", str(args.broker_id))], request_timeout=timeout)
        for resource, future in futures.items():
            code, message, entries = outcome_of(future, timeout)
            entries = entries or {}
            clientio.emit({"type": "result", "broker": resource.name, "error_code": code, "error_message": message,
                           "configs": {name: entry.value for name, entry in entries.items()},
                           "read_only": {name: entry.is_read_only for name, entry in entries.items()}})
        return 0
    elif args.op == "alter-configs":
        futures = client.alter_configs([ConfigResource("topic", args.topic, set_config=configs)],
                                       request_timeout=timeout)
        futures = {resource.name: future for resource, future in futures.items()}
    elif args.op == "metadata":
        metadata = client.list_topics(args.topic, timeout=timeout)
        topic = metadata.topics.get(args.topic)
        clientio.emit({"type": "result", "topic": args.topic,
                       "error_code": topic.error.code() if topic is not None and topic.error is not None else 0,
                       "partitions": sorted(topic.partitions.keys()) if topic is not None else [],
                       "brokers": [{"id": b.id, "host": b.host, "port": b.port} for b in metadata.brokers.values()]})
        return 0
    else:
        raise SystemExit("admin needs --op")
    for name, future in futures.items():
        code, message, _ = outcome_of(future, timeout)
        clientio.emit({"type": "result", "topic": name, "error_code": code, "error_message": message})
    return 0


def main():
    args = clientio.common_parser(__doc__).parse_args()
    command = {"produce": produce, "produce-loop": produce_loop, "consume": consume, "admin": admin,
               "offsets": offsets}[args.command]
    return command(args)


if __name__ == "__main__":
    sys.exit(main())
