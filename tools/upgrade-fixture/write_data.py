#!/usr/bin/python3
"""Writes the upgrade fixture's records through a real client (confluent-kafka), one phase per
broker run, so the fixture holds several segments per partition written by several runs.

  write_data.py BOOTSTRAP PHASE      PHASE 1: create the topics and write the first half;
                                     PHASE 2: write the second half and commit the group's offsets.

The records are a pure function of their index (orders() and events() below; the test,
test/Integration/Broker/UpgradeTests.cs, builds the same ones), so the test knows every key,
value, header and timestamp without reading this script.
"""

import sys

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

ORDERS = "orders"        # 3 partitions, idempotent producer, no compression
EVENTS = "events"        # 1 partition, gzip, headers and explicit timestamps
PER_PHASE_ORDERS = 90    # 30 per partition and phase
PER_PHASE_EVENTS = 40
BASE_TS = 1_750_000_000_000


def produce(bootstrap, topic, compression, records):
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                         "compression.type": compression, "linger.ms": 5, "batch.num.messages": 10})
    failures = []

    def on_delivery(err, _msg):
        if err is not None:
            failures.append(str(err))

    for partition, key, value, headers, ts in records:
        producer.produce(topic, key=key, value=value, partition=partition, headers=headers,
                         timestamp=ts, on_delivery=on_delivery)
        producer.poll(0)
    producer.flush(60)
    if failures or len(producer) > 0:
        sys.exit("delivery failed: %s" % failures[:3])


def orders(first, count):
    return [(i % 3, ("k-%d" % i).encode(), ("orders-%d" % i).encode(), None, BASE_TS + i)
            for i in range(first, first + count)]


def events(first, count):
    return [(0, None, ("event-%d" % i).encode() * (1 + i % 4), [("n", str(i).encode())], BASE_TS + 1000 * i)
            for i in range(first, first + count)]


def main():
    bootstrap, phase = sys.argv[1], int(sys.argv[2])
    if phase == 1:
        admin = AdminClient({"bootstrap.servers": bootstrap})
        for future in admin.create_topics([NewTopic(ORDERS, 3, 1), NewTopic(EVENTS, 1, 1)]).values():
            future.result(30)
    produce(bootstrap, ORDERS, "none", orders((phase - 1) * PER_PHASE_ORDERS, PER_PHASE_ORDERS))
    produce(bootstrap, EVENTS, "gzip", events((phase - 1) * PER_PHASE_EVENTS, PER_PHASE_EVENTS))
    if phase == 2:
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "upgrade-group"})
        consumer.commit(offsets=[TopicPartition(ORDERS, 0, 17), TopicPartition(ORDERS, 1, 42),
                                 TopicPartition(ORDERS, 2, 60)], asynchronous=False)
        consumer.close()


if __name__ == "__main__":
    main()
