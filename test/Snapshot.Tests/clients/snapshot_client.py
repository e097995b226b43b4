#!/usr/bin/python3
"""confluent-kafka driver of the snapshot round-trip tests. Prints one JSON object on stdout.

  setup --bootstrap B --topic T --partitions N --records R --group G
      creates T with N partitions and retention.ms=3600000, produces R records per partition
      (key "k-<p>-<i>", value "v-<p>-<i>"), and commits offset 10*(p+1) for group G on each
      partition, with metadata "m-<p>" (the commits with kafka-python: confluent-kafka 1.7 sets no metadata).
  check --bootstrap B --topic T --group G
      prints the topic's partition count and retention.ms, the group's committed offsets and
      metadata, and every record of the topic read from the beginning.
"""

import argparse
import json
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic
from kafka import KafkaConsumer
from kafka import TopicPartition as KafkaTopicPartition
from kafka.structs import OffsetAndMetadata

TIMEOUT = 30


def setup(args):
    admin = AdminClient({"bootstrap.servers": args.bootstrap})
    futures = admin.create_topics([NewTopic(args.topic, args.partitions, 1, config={"retention.ms": "3600000"})])
    for f in futures.values():
        f.result(TIMEOUT)
    producer = Producer({"bootstrap.servers": args.bootstrap, "linger.ms": 5, "compression.type": "gzip"})
    errors = []

    def report(err, _msg):
        if err is not None:
            errors.append(str(err))

    for p in range(args.partitions):
        for i in range(args.records):
            producer.produce(args.topic, key="k-%d-%d" % (p, i), value="v-%d-%d" % (p, i), partition=p, on_delivery=report)
            if i % 25 == 24:
                producer.flush(TIMEOUT)  # several batches, so several segments
    producer.flush(TIMEOUT)
    if errors:
        raise SystemExit("produce failed: %s" % errors[:3])
    # kafka-python commits with metadata (confluent-kafka 1.7 cannot set it).
    consumer = KafkaConsumer(bootstrap_servers=[args.bootstrap], group_id=args.group, enable_auto_commit=False)
    consumer.commit({KafkaTopicPartition(args.topic, p): OffsetAndMetadata(10 * (p + 1), "m-%d" % p) for p in range(args.partitions)})
    consumer.close()
    print(json.dumps({"type": "setup", "produced": args.records * args.partitions}))


def check(args):
    admin = AdminClient({"bootstrap.servers": args.bootstrap})
    md = admin.list_topics(timeout=TIMEOUT)
    topic = md.topics.get(args.topic)
    if topic is None or topic.error is not None:
        print(json.dumps({"type": "check", "topic_found": False}))
        return
    partitions = len(topic.partitions)
    resource = ConfigResource("topic", args.topic)
    configs = admin.describe_configs([resource])[resource].result(TIMEOUT)
    retention = configs["retention.ms"].value if "retention.ms" in configs else None

    consumer = KafkaConsumer(bootstrap_servers=[args.bootstrap], group_id=args.group, enable_auto_commit=False)
    fetched = consumer._coordinator.fetch_committed_offsets([KafkaTopicPartition(args.topic, p) for p in range(partitions)])
    commits = {str(tp.partition): {"offset": om.offset, "metadata": om.metadata} for tp, om in fetched.items()}
    consumer.close()

    reader = Consumer({"bootstrap.servers": args.bootstrap, "group.id": args.group + "-reader", "enable.auto.commit": False})
    ends = {}
    for p in range(partitions):
        low, high = reader.get_watermark_offsets(TopicPartition(args.topic, p), timeout=TIMEOUT)
        ends[p] = high
    reader.assign([TopicPartition(args.topic, p, 0) for p in range(partitions)])
    records = []
    deadline = time.time() + TIMEOUT
    done = {p for p in range(partitions) if ends[p] == 0}
    while len(done) < partitions and time.time() < deadline:
        msg = reader.poll(1.0)
        if msg is None:
            continue
        if msg.error() is not None:
            continue
        records.append({"p": msg.partition(), "o": msg.offset(), "k": msg.key().decode(), "v": msg.value().decode()})
        if msg.offset() + 1 >= ends[msg.partition()]:
            done.add(msg.partition())
    reader.close()
    print(json.dumps({"type": "check", "topic_found": True, "partitions": partitions, "retention_ms": retention,
                      "commits": commits, "ends": {str(k): v for k, v in ends.items()}, "records": records}))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["setup", "check"])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--records", type=int, default=100)
    parser.add_argument("--group", required=True)
    args = parser.parse_args()
    setup(args) if args.command == "setup" else check(args)


if __name__ == "__main__":
    sys.exit(main())
