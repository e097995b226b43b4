#!/usr/bin/python3
"""kafka-python driver for the integration tests. See clientio.py for the input and output lines.

Consumption assigns partitions explicitly (no consumer group) and reads from the beginning up to
the end offsets taken at the start, or up to --count records.
"""

import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic
from kafka.errors import KafkaError

import clientio

CLIENT_ID = "kafscale-test-kafka-python"


def acks_value(acks):
    return "all" if acks == "all" else int(acks)


def producer_for(args):
    return KafkaProducer(
        bootstrap_servers=[args.bootstrap],
        client_id=CLIENT_ID,
        acks=acks_value(args.acks),
        compression_type=None if args.compression == "none" else args.compression,
        linger_ms=20,
        retries=3,
        request_timeout_ms=args.timeout_ms,
        max_block_ms=args.timeout_ms,
    )


def error_code(err):
    """The Kafka error code of a broker error; -1 for a client-side failure."""
    return getattr(err, "errno", -1)


def produce(args):
    records = clientio.read_records()
    producer = producer_for(args)
    futures = []
    for record in records:
        headers = [(name, clientio.encode(value)) for name, value in record.get("headers") or []]
        futures.append(producer.send(
            args.topic,
            key=clientio.encode(record.get("key")),
            value=clientio.encode(record.get("value")),
            headers=headers,
            partition=record.get("partition"),
            timestamp_ms=record.get("timestamp")))
    producer.flush(timeout=args.timeout_ms / 1000)
    failed = 0
    for index, future in enumerate(futures):
        try:
            meta = future.get(timeout=args.timeout_ms / 1000)
            clientio.emit({"type": "ack", "index": index, "partition": meta.partition,
                           "offset": meta.offset, "timestamp": meta.timestamp})
        except KafkaError as err:
            failed += 1
            clientio.emit({"type": "error", "index": index, "error_code": error_code(err), "message": str(err)})
    producer.close(timeout=args.timeout_ms / 1000)
    clientio.emit({"type": "done", "acked": len(futures) - failed, "failed": failed})
    return 0 if failed == 0 else 1


def consumer_for(args):
    return KafkaConsumer(
        bootstrap_servers=[args.bootstrap],
        client_id=CLIENT_ID,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=max(args.timeout_ms, 31000),
        fetch_max_wait_ms=200,
    )


def partitions_of(consumer, args):
    if args.partition:
        return sorted(args.partition)
    partitions = consumer.partitions_for_topic(args.topic)
    if not partitions:
        raise SystemExit("topic %s has no partitions in metadata" % args.topic)
    return sorted(partitions)


def consume(args):
    consumer = consumer_for(args)
    tps = [TopicPartition(args.topic, p) for p in partitions_of(consumer, args)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    end = consumer.end_offsets(tps)
    deadline = time.monotonic() + args.timeout_ms / 1000
    count = 0

    def finished():
        if args.count is not None:
            return count >= args.count
        return all(consumer.position(tp) >= end[tp] for tp in tps)

    while not finished():
        if time.monotonic() > deadline:
            clientio.emit({"type": "error", "error_code": -1, "message": "timed out after %d records" % count})
            return 3
        for tp, messages in consumer.poll(timeout_ms=200).items():
            for m in messages:
                count += 1
                clientio.emit({
                    "type": "record", "partition": m.partition, "offset": m.offset,
                    "key": clientio.decode(m.key), "value": clientio.decode(m.value),
                    "headers": [[k, clientio.decode(v)] for k, v in m.headers or []],
                    "timestamp": m.timestamp,
                    "timestamp_type": "log_append" if m.timestamp_type == 1 else "create"})
    consumer.close()
    clientio.emit({"type": "done", "count": count})
    return 0


def offsets(args):
    consumer = consumer_for(args)
    tps = [TopicPartition(args.topic, p) for p in partitions_of(consumer, args)]
    earliest = consumer.beginning_offsets(tps)
    latest = consumer.end_offsets(tps)
    for tp in tps:
        found = []
        for t in args.time or []:
            hit = consumer.offsets_for_times({tp: t})[tp]
            found.append({"time": t, "offset": None if hit is None else hit.offset,
                          "timestamp": None if hit is None else hit.timestamp})
        clientio.emit({"type": "result", "partition": tp.partition, "earliest": earliest[tp],
                       "latest": latest[tp], "times": found})
    consumer.close()
    return 0


def admin(args):
    client = KafkaAdminClient(bootstrap_servers=[args.bootstrap], client_id=CLIENT_ID,
                              request_timeout_ms=args.timeout_ms)
    try:
        admin_operation(client, args)
    except KafkaError as err:
        # kafka-python raises the first per-topic error of a response instead of returning it.
        clientio.emit({"type": "result", "topic": args.topic, "error_code": error_code(err), "error_message": str(err)})
    client.close()
    return 0


def admin_operation(client, args):
    configs = clientio.parse_configs(args.config)
    if args.op == "create":
        partitions = -1 if args.partitions is None else args.partitions
        # NewTopic takes -1 partitions or replicas only together with a replica assignment; an
        # empty one sends -1 (the broker's default) and no assignment, as KIP-464 clients do.
        assignments = {} if partitions == -1 or args.replication_factor == -1 else None
        response = client.create_topics(
            [NewTopic(args.topic, partitions, args.replication_factor, replica_assignments=assignments,
                      topic_configs=configs)],
            timeout_ms=args.timeout_ms, validate_only=args.validate_only)
        for topic, code, message in response.topic_errors:
            clientio.emit({"type": "result", "topic": topic, "error_code": code, "error_message": message})
    elif args.op == "delete":
        response = client.delete_topics([args.topic], timeout_ms=args.timeout_ms)
        for topic, code in response.topic_error_codes:
            clientio.emit({"type": "result", "topic": topic, "error_code": code})
    elif args.op == "create-partitions":
        response = client.create_partitions({args.topic: NewPartitions(args.partitions,
                                                                        clientio.parse_assignments(args.assignment))},
                                            timeout_ms=args.timeout_ms, validate_only=args.validate_only)
        for topic, code, message in response.topic_errors:
            clientio.emit({"type": "result", "topic": topic, "error_code": code, "error_message": message})
    elif args.op == "describe-configs":
        for response in client.describe_configs([ConfigResource(ConfigResourceType.TOPIC, args.topic)]):
            for code, message, _type, name, entries in response.resources:
                clientio.emit({"type": "result", "topic": name, "error_code": code, "error_message": message,
                               "configs": {entry[0]: entry[1] for entry in entries}})
    elif args.op == "describe-broker-configs":
        for response in client.describe_configs([ConfigResource(ConfigResourceType.BROKER, str(args.broker_id))]):
            for code, message, _type, name, entries in response.resources:
                clientio.emit({"type": "result", "broker": name, "error_code": code, "error_message": message,
                               "configs": {entry[0]: entry[1] for entry in entries},
                               "read_only": {entry[0]: entry[2] for entry in entries}})
    elif args.op == "alter-configs":
        response = client.alter_configs([ConfigResource(ConfigResourceType.TOPIC, args.topic, configs=configs)])
        for code, message, _type, name in response.resources:
            clientio.emit({"type": "result", "topic": name, "error_code": code, "error_message": message})
    elif args.op == "metadata":
        for topic in client.describe_topics([args.topic]):
            clientio.emit({"type": "result", "topic": topic["topic"], "error_code": topic["error_code"],
                           "partitions": sorted(p["partition"] for p in topic["partitions"])})
    else:
        raise SystemExit("admin needs --op")


def main():
    args = clientio.common_parser(__doc__).parse_args()
    command = {"produce": produce, "consume": consume, "admin": admin, "offsets": offsets}.get(args.command)
    if command is None:
        raise SystemExit("kafka-python driver does not implement %s" % args.command)
    return command(args)


if __name__ == "__main__":
    sys.exit(main())
