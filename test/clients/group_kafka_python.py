#!/usr/bin/python3
"""kafka-python consumer-group driver for the integration tests (test/Integration/Groups).
Output lines as in clientio.py.

  member --bootstrap B --topic T --group G --name N --reset earliest|latest
      A group member that commits synchronously after every poll that returned records.
      Prints {"type":"assignment","member","partitions"} after every rebalance,
      {"type":"positions","member","positions":{partition: offset}} once the positions of a new
      assignment are known (auto_offset_reset has been applied), {"type":"record",...} per record.
      Closing stdin stops it cleanly (close: a LeaveGroup); it then prints "done".
  admin --bootstrap B --topic T --group G --op list|describe|offsets|delete
      KafkaAdminClient: list_consumer_groups, describe_consumer_groups,
      list_consumer_group_offsets, delete_consumer_groups; one "result" line.
"""

import argparse
import sys
import threading

from kafka import KafkaAdminClient, KafkaConsumer
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import KafkaError

import clientio


def parser():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("command", choices=["member", "admin"])
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--name", default="kafscale-test-kafka-python")
    p.add_argument("--reset", default="earliest", choices=["earliest", "latest"])
    p.add_argument("--op", choices=["list", "describe", "offsets", "delete"])
    return p


def stop_on_stdin_eof():
    stop = threading.Event()

    def watch():
        for _ in sys.stdin:
            pass
        stop.set()

    threading.Thread(target=watch, daemon=True).start()
    return stop


class Listener(ConsumerRebalanceListener):
    def __init__(self, name, consumer):
        self.name = name
        self.consumer = consumer

    def on_partitions_revoked(self, revoked):
        pass

    def on_partitions_assigned(self, assigned):
        clientio.emit({"type": "assignment", "member": self.name, "partitions": sorted(tp.partition for tp in assigned)})
        # position() applies auto_offset_reset now when there is no committed offset, before any
        # fetch: once this line is out, a record produced comes after the reset point.
        positions = {str(tp.partition): self.consumer.position(tp) for tp in assigned}
        clientio.emit({"type": "positions", "member": self.name, "positions": positions})


def member(args):
    stop = stop_on_stdin_eof()
    consumer = KafkaConsumer(
        bootstrap_servers=[args.bootstrap],
        client_id=args.name,
        group_id=args.group,
        enable_auto_commit=False,
        auto_offset_reset=args.reset,
        session_timeout_ms=10000,
        heartbeat_interval_ms=1000,
        fetch_max_wait_ms=200,
        request_timeout_ms=31000,
    )
    consumer.subscribe([args.topic], listener=Listener(args.name, consumer))
    while not stop.is_set():
        batches = consumer.poll(timeout_ms=200)
        count = 0
        for tp, messages in batches.items():
            for m in messages:
                count += 1
                clientio.emit({"type": "record", "member": args.name, "partition": m.partition, "offset": m.offset,
                               "key": clientio.decode(m.key), "value": clientio.decode(m.value)})
        if count:
            consumer.commit()
    consumer.close()
    clientio.emit({"type": "done", "member": args.name})
    return 0


def admin(args):
    client = KafkaAdminClient(bootstrap_servers=[args.bootstrap], client_id="kafscale-test-kafka-python-admin",
                              request_timeout_ms=30000)
    try:
        if args.op == "list":
            groups = client.list_consumer_groups()
            clientio.emit({"type": "result", "groups": [[g, t] for g, t in groups]})
        elif args.op == "describe":
            described = []
            for g in client.describe_consumer_groups([args.group]):
                members = []
                for m in g.members:
                    assignment = {}
                    if m.member_assignment is not None:
                        for topic, partitions in m.member_assignment.assignment:
                            assignment[topic] = sorted(partitions)
                    subscription = [] if m.member_metadata is None else list(m.member_metadata.subscription)
                    members.append({"member_id": m.member_id, "client_id": m.client_id, "client_host": m.client_host,
                                    "subscription": subscription, "assignment": assignment})
                described.append({"group": g.group, "error_code": g.error_code, "state": g.state,
                                  "protocol_type": g.protocol_type, "protocol": g.protocol, "members": members})
            clientio.emit({"type": "result", "groups": described})
        elif args.op == "offsets":
            offsets = client.list_consumer_group_offsets(args.group)
            clientio.emit({"type": "result", "offsets": [
                {"topic": tp.topic, "partition": tp.partition, "offset": meta.offset}
                for tp, meta in sorted(offsets.items())]})
        elif args.op == "delete":
            results = client.delete_consumer_groups([args.group])
            clientio.emit({"type": "result", "deleted": [
                {"group": g, "error_code": getattr(err, "errno", 0) or 0, "error": err.__name__ if isinstance(err, type) else str(err)}
                for g, err in results]})
        else:
            raise SystemExit("admin needs --op")
    except KafkaError as err:
        clientio.emit({"type": "result", "error_code": getattr(err, "errno", -1), "error": str(err)})
    client.close()
    return 0


def main():
    args = parser().parse_args()
    return {"member": member, "admin": admin}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
