#!/usr/bin/python3
"""A TCP proxy that records the Kafka request frames passing through it.

    record_proxy.py --listen 127.0.0.1:PORT --upstream 127.0.0.1:BROKER_PORT --out DIR --prefix CLIENT

Every connection to --listen is relayed to --upstream. Each request frame (its 4-byte size prefix
included) is written to DIR/<prefix>-<api>-v<version>.bin the first time that api and version is
seen, and every frame is listed in DIR/<prefix>-requests.jsonl. Responses are relayed untouched.
Start the broker with --advertised-port PORT so that clients reconnect through the proxy after
reading Metadata. Stops on SIGTERM or SIGINT.
"""

import argparse
import json
import os
import signal
import socket
import struct
import sys
import threading

API_NAMES = {
    0: "produce", 1: "fetch", 2: "listoffsets", 3: "metadata", 8: "offsetcommit", 9: "offsetfetch",
    10: "findcoordinator", 11: "joingroup", 12: "heartbeat", 13: "leavegroup", 14: "syncgroup",
    18: "apiversions", 19: "createtopics", 20: "deletetopics", 22: "initproducerid", 32: "describeconfigs",
    33: "alterconfigs", 37: "createpartitions", 60: "describecluster",
}


def address(text):
    host, _, port = text.rpartition(":")
    return host, int(port)


class Recorder:
    def __init__(self, out_dir, prefix):
        self.out_dir = out_dir
        self.prefix = prefix
        self.lock = threading.Lock()
        self.seen = set()
        os.makedirs(out_dir, exist_ok=True)
        self.index = open(os.path.join(out_dir, "%s-requests.jsonl" % prefix), "a")

    def record(self, connection, frame):
        api_key, api_version, correlation_id = struct.unpack(">hhi", frame[4:12]) if len(frame) >= 12 else (-1, -1, -1)
        name = API_NAMES.get(api_key, "key%d" % api_key)
        path = os.path.join(self.out_dir, "%s-%s-v%d.bin" % (self.prefix, name, api_version))
        with self.lock:
            first = (api_key, api_version) not in self.seen
            if first:
                self.seen.add((api_key, api_version))
                with open(path, "wb") as f:
                    f.write(frame)
            self.index.write(json.dumps({"connection": connection, "api": name, "version": api_version,
                                         "correlation_id": correlation_id, "bytes": len(frame),
                                         "saved": os.path.basename(path) if first else None}) + "\n")
            self.index.flush()


def read_exactly(sock, n):
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def client_to_broker(client, broker, recorder, connection):
    try:
        while True:
            prefix = read_exactly(client, 4)
            if prefix is None:
                break
            (size,) = struct.unpack(">i", prefix)
            body = read_exactly(client, size) if size > 0 else b""
            if body is None:
                break
            recorder.record(connection, prefix + body)
            broker.sendall(prefix + body)
    except OSError:
        pass
    finally:
        for s in (client, broker):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def broker_to_client(client, broker):
    try:
        while True:
            chunk = broker.recv(65536)
            if not chunk:
                break
            client.sendall(chunk)
    except OSError:
        pass
    finally:
        try:
            client.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listen", required=True)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--prefix", required=True)
    args = parser.parse_args()

    recorder = Recorder(args.out, args.prefix)
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(address(args.listen))
    server.listen(64)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.stderr.write("record_proxy: %s -> %s, recording into %s\n" % (args.listen, args.upstream, args.out))
    sys.stderr.flush()
    connection = 0
    while True:
        client, _ = server.accept()
        connection += 1
        broker = socket.create_connection(address(args.upstream))
        threading.Thread(target=client_to_broker, args=(client, broker, recorder, connection), daemon=True).start()
        threading.Thread(target=broker_to_client, args=(client, broker), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
