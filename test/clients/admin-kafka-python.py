"""kafka-python as the independent reference for `kafscale admin groups` (test/Admin.Tests).

Modes (each prints one JSON line with "type": "result"):
  consume BOOTSTRAP TOPIC GROUP COUNT
      A group member that subscribes, reads COUNT records, commits them and leaves.
      Result: {"records": [[partition, offset], ...]}
  lag BOOTSTRAP GROUP
      KafkaAdminClient.list_consumer_group_offsets + KafkaConsumer.end_offsets.
      Result: {"offsets": [{"topic", "partition", "committed", "end", "lag"}, ...]}
  first BOOTSTRAP TOPIC GROUP PARTITIONS
      A group member with auto_offset_reset=latest (so it starts only where the group has
      committed offsets) that reads until it has one record of every partition, or idles.
      Result: {"first": {"<partition>": offset, ...}}
  member BOOTSTRAP TOPIC GROUP SECONDS
      A group member that stays SECONDS and commits nothing; prints {"type": "assignment",
      "partitions": [...]} once it has its partitions.
"""

import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

import clientio


def consumer_for(bootstrap, group, reset):
    return KafkaConsumer(
        bootstrap_servers=[bootstrap],
        client_id="kafscale-admin-test",
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset=reset,
        session_timeout_ms=10000,
        heartbeat_interval_ms=1000,
        fetch_max_wait_ms=200,
        max_poll_records=1,
        request_timeout_ms=31000,
    )


def consume(bootstrap, topic, group, count):
    consumer = consumer_for(bootstrap, group, "earliest")
    consumer.subscribe([topic])
    records = []
    deadline = time.time() + 60
    while len(records) < count and time.time() < deadline:
        for _, messages in consumer.poll(timeout_ms=200).items():
            for m in messages:
                if len(records) < count:
                    records.append([m.partition, m.offset])
                    consumer.commit({TopicPartition(topic, m.partition): OffsetAndMetadata(m.offset + 1, "")})
    consumer.close()
    clientio.emit({"type": "result", "records": records})
    return 0 if len(records) == count else 1


def lag(bootstrap, group):
    admin = KafkaAdminClient(bootstrap_servers=[bootstrap], client_id="kafscale-admin-test", request_timeout_ms=30000)
    committed = admin.list_consumer_group_offsets(group)
    admin.close()
    consumer = KafkaConsumer(bootstrap_servers=[bootstrap], client_id="kafscale-admin-test")
    ends = consumer.end_offsets(list(committed.keys()))
    consumer.close()
    offsets = []
    for tp, meta in sorted(committed.items(), key=lambda kv: (kv[0].topic, kv[0].partition)):
        offsets.append({"topic": tp.topic, "partition": tp.partition, "committed": meta.offset,
                        "end": ends[tp], "lag": ends[tp] - meta.offset})
    clientio.emit({"type": "result", "offsets": offsets})
    return 0


def first(bootstrap, topic, group, partitions):
    consumer = consumer_for(bootstrap, group, "latest")
    consumer.subscribe([topic])
    seen = {}
    deadline = time.time() + 30
    idle_since = None
    while len(seen) < partitions and time.time() < deadline:
        got = False
        for _, messages in consumer.poll(timeout_ms=200).items():
            for m in messages:
                got = True
                seen.setdefault(str(m.partition), m.offset)
        if consumer.assignment() and not got:
            idle_since = idle_since or time.time()
            if time.time() - idle_since > 5:
                break
        else:
            idle_since = None
    consumer.close()
    clientio.emit({"type": "result", "first": seen})
    return 0


def member(bootstrap, topic, group, seconds):
    consumer = consumer_for(bootstrap, group, "earliest")
    consumer.subscribe([topic])
    deadline = time.time() + seconds
    announced = False
    while time.time() < deadline:
        consumer.poll(timeout_ms=200)
        if consumer.assignment() and not announced:
            clientio.emit({"type": "assignment", "partitions": sorted(tp.partition for tp in consumer.assignment())})
            announced = True
    consumer.close()
    clientio.emit({"type": "done"})
    return 0


def main():
    mode = sys.argv[1]
    if mode == "consume":
        return consume(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    if mode == "lag":
        return lag(sys.argv[2], sys.argv[3])
    if mode == "first":
        return first(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    if mode == "member":
        return member(sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]))
    clientio.log("unknown mode " + mode)
    return 2


if __name__ == "__main__":
    sys.exit(main())
