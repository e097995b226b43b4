#!/usr/bin/python3
"""The helper of scripts/bench-cost.sh: counts S3 requests and drives the paced produce load.

    bench_cost.py proxy --listen 127.0.0.1:PORT --upstream 127.0.0.1:S3_PORT --log FILE
    bench_cost.py produce --bootstrap HOST:PORT --topic T --partitions N --rate R --seconds S
                          --warmup W --requests-log FILE --metrics URL [--record-size B]
    bench_cost.py table RESULTS.jsonl [--out FILE] [--title TEXT]

proxy relays HTTP between the broker and the S3 server unchanged and appends one line per request
to --log: "<unix time> <METHOD> <kind>", the time taken when the request's head arrives. Counting
at the wire works for any broker binary, whatever its own metrics say.

produce creates a fresh topic, sends records round-robin over its partitions at a fixed rate with
confluent-kafka (acks=all), and prints one JSON line: per-record latency and acked records in the
measured window, the proxy's request counts in the same window, and the broker's own
kafscale_object_store_requests_total over it when the broker publishes that counter.

table turns those JSON lines into the printed table and, with --out, a markdown table.
"""

import argparse
import asyncio
import json
import math
import os
import re
import signal
import sys
import threading
import time
import urllib.parse
import urllib.request

# S3 Standard request prices (USD per 1000 requests) and the month the cost columns assume.
PUT_PRICE_PER_1000 = 0.005
GET_PRICE_PER_1000 = 0.0004
SECONDS_PER_MONTH = 30 * 86400


def host_port(text):
    host, _, port = text.rpartition(":")
    return host, int(port)


# ---- proxy ----------------------------------------------------------------------------------------

def request_kind(method, target, headers):
    """The S3 operation of a path-style request: what S3 bills it as, not just its HTTP method."""
    parsed = urllib.parse.urlsplit(target)
    query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
    parts = parsed.path.lstrip("/").split("/", 1)
    has_key = len(parts) == 2 and parts[1] != ""
    if method == "PUT":
        if "uploadId" in query:
            return "upload-part"
        if "x-amz-copy-source" in headers:
            return "copy"
        return "object" if has_key else "bucket"
    if method == "GET":
        if not has_key:
            return "list-uploads" if "uploads" in query else "list"
        return "range" if "range" in headers else "object"
    if method == "POST":
        if "delete" in query:
            return "delete-objects"
        if "uploads" in query:
            return "create-multipart"
        if "uploadId" in query:
            return "complete-multipart"
        return "post"
    return "object" if has_key else "bucket"


class RequestLog:
    """Appends request lines; flushed every 100 ms, so the reader waits a little past a window."""

    def __init__(self, path):
        self.file = open(path, "a", buffering=1 << 16)

    def write(self, method, kind):
        self.file.write("%.6f %s %s\n" % (time.time(), method, kind))

    def flush(self):
        self.file.flush()


async def relay_requests(reader, writer, log):
    """Client to server: parses each request's framing (to count it), forwards the bytes as read."""
    while True:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            return
        lines = head.decode("latin-1").split("\r\n")
        method, target = (lines[0].split(" ") + ["", ""])[:2]
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        log.write(method, request_kind(method, target, headers))
        writer.write(head)
        if "chunked" in headers.get("transfer-encoding", "").lower():
            while True:
                size_line = await reader.readuntil(b"\r\n")
                writer.write(size_line)
                size = int(size_line.split(b";")[0].strip(), 16)
                if size == 0:
                    # Trailers, if any, end with an empty line.
                    while True:
                        trailer = await reader.readuntil(b"\r\n")
                        writer.write(trailer)
                        if trailer == b"\r\n":
                            break
                    break
                writer.write(await reader.readexactly(size + 2))
                await writer.drain()
        else:
            remaining = int(headers.get("content-length", "0") or 0)
            while remaining > 0:
                chunk = await reader.read(min(remaining, 1 << 16))
                if not chunk:
                    return
                remaining -= len(chunk)
                writer.write(chunk)
                await writer.drain()
        await writer.drain()


async def relay_bytes(reader, writer):
    """Server to client: responses pass through unparsed."""
    while True:
        chunk = await reader.read(1 << 16)
        if not chunk:
            return
        writer.write(chunk)
        await writer.drain()


async def serve_proxy(listen, upstream, log_path):
    log = RequestLog(log_path)

    async def on_connection(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection(*upstream)
        except OSError:
            client_writer.close()
            return
        tasks = [asyncio.ensure_future(relay_requests(client_reader, server_writer, log)),
                 asyncio.ensure_future(relay_bytes(server_reader, client_writer))]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            for w in (client_writer, server_writer):
                w.close()

    async def flusher():
        while True:
            await asyncio.sleep(0.1)
            log.flush()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = await asyncio.start_server(on_connection, *listen, limit=1 << 20)
    flushing = asyncio.ensure_future(flusher())
    async with server:
        await stop.wait()
    flushing.cancel()
    log.flush()


def run_proxy(args):
    asyncio.run(serve_proxy(host_port(args.listen), host_port(args.upstream), args.log))
    return 0


# ---- produce ----------------------------------------------------------------------------------------

METRIC_LINE = re.compile(r'^kafscale_object_store_requests_total\{[^}]*op="([^"]+)"[^}]*\}\s+([0-9.eE+]+)')


def scrape_object_requests(url):
    """The broker's object-store request counters by op, or None when it publishes none."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode("utf-8", "replace")
    except OSError:
        return None
    counts = {}
    for line in text.splitlines():
        match = METRIC_LINE.match(line)
        if match:
            counts[match.group(1)] = counts.get(match.group(1), 0) + float(match.group(2))
    return counts or None


def cpu_seconds(pid):
    """User plus system CPU seconds of a process so far, or None when it is gone."""
    try:
        with open("/proc/%s/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def count_requests(log_path, start, end):
    """Requests in the proxy log whose head arrived in [start, end), by "METHOD kind"."""
    counts = {}
    with open(log_path) as f:
        for line in f:
            fields = line.split()
            if len(fields) != 3:
                continue
            t = float(fields[0])
            if start <= t < end:
                key = fields[1] + " " + fields[2]
                counts[key] = counts.get(key, 0) + 1
    return counts


def percentile(sorted_values, p):
    """Nearest rank, so every reported value is one that was measured."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


def create_topic(bootstrap, topic, partitions):
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)],
                                  operation_timeout=30, request_timeout=30)
    futures[topic].result(timeout=60)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        metadata = admin.list_topics(topic, timeout=10)
        found = metadata.topics.get(topic)
        if found is not None and found.error is None and len(found.partitions) == partitions \
                and all(p.leader >= 0 for p in found.partitions.values()):
            return
        time.sleep(0.2)
    raise RuntimeError("topic %s did not show %d partitions with leaders within 30 s" % (topic, partitions))


def run_produce(args):
    from confluent_kafka import Producer, KafkaException

    create_topic(args.bootstrap, args.topic, args.partitions)
    config = {
        "bootstrap.servers": args.bootstrap,
        "acks": "all",
        # librdkafka's own defaults, as a confluent-kafka user has them (linger.ms 5, a million
        # requests in flight): librdkafka sends one partition per ProduceRequest, so a small
        # in-flight limit (Kafka's Java producer has 5, but batches all partitions per request)
        # would hold a many-partition topic to a few requests per flush and measure that queue.
        "linger.ms": 5,
        "message.timeout.ms": 120000,
        "queue.buffering.max.messages": 1000000,
    }
    for item in args.config or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit("--config takes NAME=VALUE, not '%s'" % item)
        config[name] = value
    producer = Producer(config)
    value = bytes((i * 131 + 17) % 251 for i in range(args.record_size))

    # The window is fixed in advance; the scrapes run on their own thread at its two edges so the
    # send loop keeps its pace, and the proxy log is cut at the wall-clock times of those scrapes.
    start = time.monotonic()
    window_start = start + args.warmup
    window_end = window_start + args.seconds
    edges = {}

    watched = dict(item.split("=", 1) for item in args.pids.split(",")) if args.pids else {}
    watched["producer"] = str(os.getpid())

    def scrape_at(name, when):
        time.sleep(max(0.0, when - time.monotonic()))
        edges[name] = (time.time(), scrape_object_requests(args.metrics),
                       {proc: cpu_seconds(pid) for proc, pid in watched.items()}, sent)

    sent = 0
    scrapers = [threading.Thread(target=scrape_at, args=(n, w), daemon=True)
                for n, w in (("start", window_start), ("end", window_end))]
    for thread in scrapers:
        thread.start()

    latencies = []  # ms, of records scheduled inside the window, from their scheduled send time
    state = {"acked_in_window": 0, "errors": 0, "first_error": None}

    def delivered(scheduled, err, _msg):
        now = time.monotonic()
        if err is not None:
            state["errors"] += 1
            state["first_error"] = state["first_error"] or str(err)
            return
        if window_start <= now < window_end:
            state["acked_in_window"] += 1
        if window_start <= scheduled < window_end:
            latencies.append((now - scheduled) * 1000.0)

    interval = 1.0 / args.rate
    while True:
        now = time.monotonic()
        if now >= window_end:
            break
        # Open loop: record i is due at start + i/rate whatever the broker did before, so a slow
        # acknowledgement shows as latency rather than as a pause in the load.
        while sent <= (now - start) * args.rate:
            scheduled = start + sent * interval
            try:
                producer.produce(args.topic, value, partition=sent % args.partitions,
                                 on_delivery=lambda err, msg, s=scheduled: delivered(s, err, msg))
            except BufferError:
                producer.poll(0.01)
                continue
            except KafkaException as e:
                state["errors"] += 1
                state["first_error"] = state["first_error"] or str(e)
            sent += 1
        # poll() takes whole milliseconds, so a wait under 1 ms would spin: serve the delivery
        # reports without waiting, then sleep until the next record is due.
        producer.poll(0)
        time.sleep(max(0.0, start + sent * interval - time.monotonic()))
    unacked = producer.flush(60)
    for thread in scrapers:
        thread.join(10)
    # The proxy flushes its log every 100 ms.
    time.sleep(0.3)

    result = {
        "partitions": args.partitions,
        "topic": args.topic,
        "rate": args.rate,
        "record_size": args.record_size,
        "seconds": args.seconds,
        "warmup": args.warmup,
        "records_sent": sent,
        "records_unacked": unacked,
        "errors": state["errors"],
        "client_config": args.config or [],
    }
    if state["first_error"]:
        result["first_error"] = state["first_error"]
    if "start" not in edges or "end" not in edges:
        result["failed"] = "the window's edges were not scraped"
        print(json.dumps(result))
        return 1
    (t0, m0, c0, s0), (t1, m1, c1, s1) = edges["start"], edges["end"]
    window = t1 - t0
    latencies.sort()
    result.update({
        "window_s": round(window, 3),
        "acked_per_s": round(state["acked_in_window"] / args.seconds, 1),
        # Below the rate when this process fell behind its schedule (starved of CPU, or its queue full).
        "sent_per_s": round((s1 - s0) / window, 1),
        "latency_p50_ms": percentile(latencies, 50),
        "latency_p99_ms": percentile(latencies, 99),
        "latency_max_ms": latencies[-1] if latencies else None,
        "latency_records": len(latencies),
        "s3_requests": count_requests(args.requests_log, t0, t1),
    })
    if args.broker_log:
        # The broker's own word on the store (it probes If-None-Match at start); older binaries say nothing.
        with open(args.broker_log, errors="replace") as f:
            text = f.read()
        if "ignores If-None-Match" in text:
            result["conditional_create"] = False
        elif "conditional create honoured" in text:
            result["conditional_create"] = True
    # Cores used over the window: shows whether s3rver or the proxy, not the broker, set the pace.
    result["cpu_cores"] = {proc: round((c1[proc] - c0[proc]) / window, 2)
                           for proc in c0 if c0[proc] is not None and c1.get(proc) is not None}
    if m0 is not None and m1 is not None:
        result["broker_requests"] = {op: m1.get(op, 0) - m0.get(op, 0) for op in sorted(set(m0) | set(m1))}
    print(json.dumps(result))
    return 0 if state["errors"] == 0 and unacked == 0 else 1


# ---- table ------------------------------------------------------------------------------------------

def classify(s3_requests):
    """PUT, GET and other request counts of a window: PUT and GET are those HTTP methods on objects
    (LIST is a GET on the bucket, and counted under other, as S3 bills it at the PUT price)."""
    put = get = other = 0
    for key, n in s3_requests.items():
        method, kind = key.split(" ", 1)
        if method == "PUT":
            put += n
        elif method == "GET" and kind in ("object", "range"):
            get += n
        else:
            other += n
    return put, get, other


def broker_equivalent(s3_requests):
    """The proxy's counts in the broker's op names (put, get, range, list, delete), to compare."""
    ops = {}
    names = {("PUT", "object"): "put", ("PUT", "upload-part"): "put", ("GET", "object"): "get",
             ("GET", "range"): "range", ("GET", "list"): "list", ("DELETE", "object"): "delete"}
    for key, n in s3_requests.items():
        method, kind = key.split(" ", 1)
        op = names.get((method, kind), key.lower().replace(" ", "-"))
        ops[op] = ops.get(op, 0) + n
    return ops


def fmt(value, pattern):
    return "n/a" if value is None else pattern % value


def run_table(args):
    rows = []
    notes = []
    with open(args.results) as f:
        results = [json.loads(line) for line in f if line.strip().startswith("{")]
    for r in results:
        p = r["partitions"]
        if "s3_requests" not in r:
            rows.append([str(p), "failed"] + [""] * 7)
            notes.append("%d partitions: %s" % (p, r.get("failed") or r.get("first_error") or "no result"))
            continue
        w = r["window_s"]
        put, get, other = classify(r["s3_requests"])
        put_s, get_s, other_s = put / w, get / w, other / w
        rows.append([
            str(p), "%.1f" % put_s, "%.1f" % get_s, "%.1f" % other_s,
            "${:,.2f}".format(put_s * SECONDS_PER_MONTH / 1000 * PUT_PRICE_PER_1000),
            "${:,.2f}".format(get_s * SECONDS_PER_MONTH / 1000 * GET_PRICE_PER_1000),
            fmt(r["latency_p50_ms"], "%.1f"), fmt(r["latency_p99_ms"], "%.1f"), "%.1f" % r["acked_per_s"],
        ])
        detail = ", ".join("%s %d" % (k, v) for k, v in sorted(r["s3_requests"].items())) or "none"
        notes.append("%d partitions: S3 requests in %.1f s: %s" % (p, w, detail))
        if r.get("sent_per_s") is not None and r["sent_per_s"] < 0.99 * r["rate"]:
            notes.append("%d partitions: the producer sent only %.1f records/s of the %g scheduled: it fell behind "
                         "(its latencies count from the schedule, so they include that delay)" % (p, r["sent_per_s"], r["rate"]))
        if r.get("acked_per_s") is not None and r["acked_per_s"] < 0.98 * r["rate"]:
            notes.append("%d partitions: the broker acknowledged only %.1f records/s of the %g sent: a backlog grew "
                         "during the window, so the latencies rose with it" % (p, r["acked_per_s"], r["rate"]))
        if r.get("cpu_cores"):
            notes.append("%d partitions: CPU cores used in the window: %s" % (
                p, ", ".join("%s %.2f" % kv for kv in sorted(r["cpu_cores"].items()))))
        if r.get("errors") or r.get("records_unacked"):
            notes.append("%d partitions: %d produce errors, %d records unacknowledged at the end%s" % (
                p, r.get("errors", 0), r.get("records_unacked", 0),
                (" (first: %s)" % r["first_error"]) if r.get("first_error") else ""))
        broker = r.get("broker_requests")
        if broker is None:
            notes.append("%d partitions: the broker publishes no kafscale_object_store_requests_total" % p)
        else:
            wire = broker_equivalent(r["s3_requests"])
            broker = {op: int(n) for op, n in broker.items() if n}
            # The broker counts a request when it completes, the proxy when it starts, so the two
            # windows are offset by one request's latency: a few requests either way are no disagreement.
            differ = sorted(op for op in set(broker) | set(wire)
                            if abs(broker.get(op, 0) - wire.get(op, 0)) > max(2, 0.02 * wire.get(op, 0)))
            if differ:
                notes.append("%d partitions: the broker's /metrics count differently: %s" % (p, "; ".join(
                    "%s %d at the broker, %d at the wire" % (op, broker.get(op, 0), wire.get(op, 0)) for op in differ)))
            else:
                notes.append("%d partitions: the broker's /metrics agree with the wire (within 2%%)" % p)
        if r.get("conditional_create") is False and r["s3_requests"].get("HEAD object"):
            notes.append("%d partitions: the broker found that s3rver ignores If-None-Match, so it sends a HEAD before "
                         "each create-if-absent PUT; a store that honours conditional writes sees no such HEADs" % p)

    header = ["partitions", "PUT/s", "GET/s", "other/s", "PUT $/month", "GET $/month",
              "p50 ms", "p99 ms", "acked/s"]
    widths = [max(len(header[i]), *(len(row[i]) for row in rows)) if rows else len(header[i]) for i in range(len(header))]
    lines = [args.title, ""]
    lines.append("  ".join(h.rjust(widths[i]) for i, h in enumerate(header)))
    for row in rows:
        lines.append("  ".join(c.rjust(widths[i]) for i, c in enumerate(row)))
    lines.append("")
    lines.extend(notes)
    print("\n".join(lines))
    if args.out:
        with open(args.out, "w") as f:
            f.write(args.title + "\n\n")
            f.write("| " + " | ".join(header) + " |\n")
            f.write("|" + "|".join("---:" for _ in header) + "|\n")
            for row in rows:
                f.write("| " + " | ".join(row) + " |\n")
            f.write("\n" + "".join("- %s\n" % n for n in notes))
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    proxy = sub.add_parser("proxy")
    proxy.add_argument("--listen", required=True)
    proxy.add_argument("--upstream", required=True)
    proxy.add_argument("--log", required=True)
    produce = sub.add_parser("produce")
    produce.add_argument("--bootstrap", required=True)
    produce.add_argument("--topic", required=True)
    produce.add_argument("--partitions", type=int, required=True)
    produce.add_argument("--rate", type=float, default=1188.0)
    produce.add_argument("--record-size", type=int, default=1024)
    produce.add_argument("--seconds", type=float, default=60.0)
    produce.add_argument("--warmup", type=float, default=5.0)
    produce.add_argument("--requests-log", required=True)
    produce.add_argument("--metrics", required=True)
    produce.add_argument("--broker-log")
    produce.add_argument("--config", action="append", help="a librdkafka producer setting NAME=VALUE (repeatable)")
    produce.add_argument("--pids", help="NAME=PID,... whose CPU use over the window is reported")
    table = sub.add_parser("table")
    table.add_argument("results")
    table.add_argument("--out")
    table.add_argument("--title", default="KafScale S3 request cost")
    args = parser.parse_args()
    return {"proxy": run_proxy, "produce": run_produce, "table": run_table}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
