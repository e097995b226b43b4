"""Input and output shared by the python client scripts.

The integration tests (test/Integration) start the scripts with a bootstrap address, a topic and
parameters on the command line, write records as JSON lines on stdin and read JSON lines from
stdout. Every output line is one JSON object with a "type": "ack", "record", "result", "error",
"done". Diagnostics go to stderr.

A record on stdin:
  {"key": str|null, "value": str|null, "headers": [[name, str|null], ...],
   "partition": int|null, "timestamp": int|null}
"""

import argparse
import json
import sys


def emit(obj):
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def log(message):
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def read_records():
    records = []
    for line in sys.stdin:
        line = line.strip()
        if line:
            records.append(json.loads(line))
    return records


def encode(text):
    return None if text is None else text.encode("utf-8")


def decode(data):
    return None if data is None else data.decode("utf-8")


def generated_record(index, partitions, value_bytes):
    """Record number `index` of an endless stream: its value names it, so a reader can check it."""
    pad = "x" * max(0, value_bytes - 16)
    return {
        "key": "k-%d" % index,
        "value": "v-%d-%s" % (index, pad),
        "headers": [["seq", str(index)]],
        "partition": index % partitions,
        "timestamp": None,
    }


def parse_assignments(values):
    """--assignment values as lists of broker ids, or None when there are none."""
    if not values:
        return None
    return [[int(b) for b in value.split(",") if b != ""] for value in values]


def parse_configs(pairs):
    configs = {}
    for pair in pairs or []:
        name, _, value = pair.partition("=")
        configs[name] = value
    return configs


def common_parser(description):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("command", choices=["produce", "produce-loop", "consume", "admin", "offsets"])
    parser.add_argument("--bootstrap", required=True, help="host:port of a broker")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--acks", default="all", choices=["0", "1", "all"])
    parser.add_argument("--compression", default="none", choices=["none", "gzip", "snappy", "lz4", "zstd"])
    parser.add_argument("--partitions", type=int, default=None,
                        help="produce-loop: partitions to spread over; admin create: partition count")
    parser.add_argument("--partition", type=int, action="append", default=None,
                        help="consume/offsets: partition to read (repeatable; consume defaults to all)")
    parser.add_argument("--count", type=int, default=None,
                        help="consume: stop after this many records; produce-loop: stop after this many")
    parser.add_argument("--value-bytes", type=int, default=64, help="produce-loop: value size")
    parser.add_argument("--timeout-ms", type=int, default=30000)
    parser.add_argument("--op", default=None,
                        choices=["create", "delete", "create-partitions", "describe-configs", "alter-configs", "metadata",
                                 "describe-broker-configs", "list-reassignments", "reassign"])
    parser.add_argument("--replication-factor", type=int, default=1)
    parser.add_argument("--config", action="append", default=None, help="name=value (repeatable)")
    parser.add_argument("--validate-only", action="store_true")
    parser.add_argument("--assignment", action="append", default=None,
                        help="admin create-partitions: comma-separated broker ids of one new partition (repeatable)")
    parser.add_argument("--broker-id", type=int, default=None, help="admin describe-broker-configs: the broker to describe")
    parser.add_argument("--time", type=int, action="append", default=None, help="offsets: timestamp to look up (ms)")
    parser.add_argument("--idempotent", action="store_true", help="produce/produce-loop: an idempotent producer")
    parser.add_argument("--transactional-id", default=None,
                        help="produce: a transactional producer with this id (init_transactions, one transaction)")
    return parser
