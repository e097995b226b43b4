#!/usr/bin/python3
"""Consumer-group timings for scripts/bench-groups.sh, over raw Kafka requests (no client
library between the clock and the broker). Prints one JSON line per measurement.

  rebalance --bootstrap B --topic T --members N --rounds R
      N members form a new group (join with MEMBER_ID_REQUIRED, the leader assigns the
      partitions round-robin, everyone syncs), then R rebalances of the stable group: the leader
      rejoins, the followers see REBALANCE_IN_PROGRESS on a heartbeat and rejoin, the leader
      assigns again. Measured each time: from the last JoinGroup sent to the last SyncGroup
      answer (every member holds its assignment). The first formation includes the broker's
      group.initial.rebalance.delay.ms.
  commits --bootstrap B --topic T --clients N --seconds S --mode one-group|own-groups
      N clients (one process each) commit one offset per OffsetCommit, waiting for each answer,
      for S seconds. one-group: the N clients are the members of one group (commits carry its
      generation); own-groups: each commits for a group of its own with no members.

Requests: JoinGroup v5, SyncGroup v3, Heartbeat v3, LeaveGroup v3, OffsetCommit v7 (the
newest non-flexible versions, so a header is the classic one).
"""

import argparse
import asyncio
import json
import multiprocessing
import statistics
import struct
import sys
import time

JOIN_GROUP, SYNC_GROUP, HEARTBEAT, LEAVE_GROUP, OFFSET_COMMIT = 11, 14, 12, 13, 8
VERSIONS = {JOIN_GROUP: 5, SYNC_GROUP: 3, HEARTBEAT: 3, LEAVE_GROUP: 3, OFFSET_COMMIT: 7}
NONE, REBALANCE_IN_PROGRESS, MEMBER_ID_REQUIRED = 0, 27, 79
SESSION_TIMEOUT_MS = 30000
REBALANCE_TIMEOUT_MS = 60000


# ---- encoding -------------------------------------------------------------------------------

def string(s):
    data = s.encode("utf-8")
    return struct.pack(">h", len(data)) + data


def nullable_string(s):
    return struct.pack(">h", -1) if s is None else string(s)


def byte_array(b):
    return struct.pack(">i", -1) if b is None else struct.pack(">i", len(b)) + b


def array(items):
    return struct.pack(">i", len(items)) + b"".join(items)


class Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, fmt):
        value = struct.unpack_from(fmt, self.data, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return value

    def int16(self):
        return self.take(">h")

    def int32(self):
        return self.take(">i")

    def string(self):
        n = self.int16()
        if n < 0:
            return None
        value = self.data[self.pos:self.pos + n].decode("utf-8")
        self.pos += n
        return value

    def bytes(self):
        n = self.int32()
        if n < 0:
            return None
        value = self.data[self.pos:self.pos + n]
        self.pos += n
        return value


def subscription(topic):
    # ConsumerProtocolSubscription v0: version, topics, user data.
    return struct.pack(">h", 0) + array([string(topic)]) + byte_array(None)


def assignment(topic, partitions):
    # ConsumerProtocolAssignment v0: version, [topic, [partition]], user data.
    return struct.pack(">h", 0) + array([string(topic) + array([struct.pack(">i", p) for p in partitions])]) + byte_array(None)


class Connection:
    """One connection; requests are answered in order, so one is in flight at a time."""

    def __init__(self, reader, writer, client_id):
        self.reader = reader
        self.writer = writer
        self.client_id = client_id
        self.correlation = 0

    @classmethod
    async def open(cls, bootstrap, client_id):
        host, port = bootstrap.rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        return cls(reader, writer, client_id)

    def send(self, api_key, body):
        self.correlation += 1
        header = struct.pack(">hhi", api_key, VERSIONS[api_key], self.correlation) + string(self.client_id)
        frame = header + body
        self.writer.write(struct.pack(">i", len(frame)) + frame)

    async def receive(self):
        size = struct.unpack(">i", await self.reader.readexactly(4))[0]
        frame = await self.reader.readexactly(size)
        reader = Reader(frame)
        reader.int32()  # correlation id: one request in flight
        return reader

    async def call(self, api_key, body):
        self.send(api_key, body)
        await self.writer.drain()
        return await self.receive()

    def close(self):
        self.writer.close()


# ---- group members --------------------------------------------------------------------------

class Member:
    def __init__(self, connection, group, topic):
        self.connection = connection
        self.group = group
        self.topic = topic
        self.member_id = ""
        self.generation = -1
        self.leader = None
        self.members = []

    def join_body(self):
        return (string(self.group) + struct.pack(">ii", SESSION_TIMEOUT_MS, REBALANCE_TIMEOUT_MS) + string(self.member_id)
                + nullable_string(None) + string("consumer") + array([string("range") + byte_array(subscription(self.topic))]))

    async def get_member_id(self):
        r = await self.connection.call(JOIN_GROUP, self.join_body())
        r.int32()
        error = r.int16()
        r.int32()
        r.string()
        r.string()
        member_id = r.string()
        if error != MEMBER_ID_REQUIRED:
            raise RuntimeError("first JoinGroup answered %d, expected MEMBER_ID_REQUIRED" % error)
        self.member_id = member_id

    def send_join(self):
        self.connection.send(JOIN_GROUP, self.join_body())

    async def joined(self):
        r = await self.connection.receive()
        r.int32()
        error = r.int16()
        if error != NONE:
            raise RuntimeError("JoinGroup: error %d" % error)
        self.generation = r.int32()
        r.string()
        self.leader = r.string()
        self.member_id = r.string()
        self.members = []
        for _ in range(r.int32()):
            self.members.append(r.string())
            r.string()
            r.bytes()

    async def sync(self, partitions):
        assignments = []
        if self.leader == self.member_id:
            ids = sorted(self.members)
            for i, member_id in enumerate(ids):
                assignments.append(string(member_id) + byte_array(assignment(self.topic, partitions[i::len(ids)])))
        body = (string(self.group) + struct.pack(">i", self.generation) + string(self.member_id) + nullable_string(None)
                + array(assignments))
        r = await self.connection.call(SYNC_GROUP, body)
        r.int32()
        error = r.int16()
        if error != NONE:
            raise RuntimeError("SyncGroup: error %d" % error)
        return r.bytes()

    async def heartbeat(self):
        body = string(self.group) + struct.pack(">i", self.generation) + string(self.member_id) + nullable_string(None)
        r = await self.connection.call(HEARTBEAT, body)
        r.int32()
        return r.int16()

    async def leave(self):
        body = string(self.group) + array([string(self.member_id) + nullable_string(None)])
        await self.connection.call(LEAVE_GROUP, body)


async def join_and_sync(members, partitions, first_joins):
    """Sends the JoinGroups (first_joins already went out), then syncs; returns (last join sent, all synced)."""
    for m in members:
        if m not in first_joins:
            m.send_join()
    await asyncio.gather(*(m.connection.writer.drain() for m in members))
    last_join = time.perf_counter()
    await asyncio.gather(*(m.joined() for m in members))
    await asyncio.gather(*(m.sync(partitions) for m in members))
    return last_join, time.perf_counter()


async def rebalance(args):
    partitions = list(range(args.partitions))
    group = "bench-rebalance-%d-%d" % (args.members, int(time.time() * 1000))
    members = []
    for i in range(args.members):
        members.append(Member(await Connection.open(args.bootstrap, "bench-member-%d" % i), group, args.topic))
    await asyncio.gather(*(m.get_member_id() for m in members))
    start, end = await join_and_sync(members, partitions, [])
    emit({"type": "formation", "members": args.members, "ms": (end - start) * 1000})

    times = []
    for _ in range(args.rounds):
        leader = next(m for m in members if m.member_id == m.leader)
        followers = [m for m in members if m is not leader]
        leader.send_join()
        await leader.connection.writer.drain()
        # As a consumer does: its heartbeat says the group rebalances, then it rejoins.
        if followers:
            while True:
                error = await followers[0].heartbeat()
                if error == REBALANCE_IN_PROGRESS:
                    break
                if error != NONE:
                    raise RuntimeError("Heartbeat: error %d" % error)
        start, end = await join_and_sync(members, partitions, [leader])
        times.append((end - start) * 1000)
    times.sort()
    emit({"type": "rebalance", "members": args.members, "rounds": len(times),
          "median_ms": statistics.median(times), "p90_ms": times[int(0.9 * (len(times) - 1))], "max_ms": times[-1]})
    await asyncio.gather(*(m.leave() for m in members))
    for m in members:
        m.connection.close()


# ---- offset commits -------------------------------------------------------------------------

def commit_body(group, generation, member_id, topic, partition, offset):
    partitions = array([struct.pack(">iqi", partition, offset, -1) + nullable_string(None)])
    return string(group) + struct.pack(">i", generation) + string(member_id) + nullable_string(None) + array([string(topic) + partitions])


async def commit_loop(connection, group, generation, member_id, topic, partition, until):
    count = 0
    errors = 0
    while time.perf_counter() < until:
        r = await connection.call(OFFSET_COMMIT, commit_body(group, generation, member_id, topic, partition, count))
        r.int32()
        for _ in range(r.int32()):
            r.string()
            for _ in range(r.int32()):
                r.int32()
                if r.int16() != NONE:
                    errors += 1
        count += 1
    return count, errors


def commit_client(args, index, group, generation, member_id, start_at, queue):
    async def run():
        connection = await Connection.open(args.bootstrap, "bench-committer-%d" % index)
        # Every client starts at the same moment, and runs for the same time.
        await asyncio.sleep(max(0, start_at - time.time()))
        begin = time.perf_counter()
        count, errors = await commit_loop(connection, group, generation, member_id, args.topic,
                                          index % args.partitions, begin + args.seconds)
        elapsed = time.perf_counter() - begin
        connection.close()
        return count, errors, elapsed
    queue.put(asyncio.run(run()))


async def form_group(args, group, n):
    members = [Member(await Connection.open(args.bootstrap, "bench-member-%d" % i), group, args.topic) for i in range(n)]
    await asyncio.gather(*(m.get_member_id() for m in members))
    await join_and_sync(members, list(range(args.partitions)), [])
    return members


def commits(args):
    stamp = int(time.time() * 1000)
    identities = []
    members = []
    loop = asyncio.new_event_loop()
    if args.mode == "one-group":
        group = "bench-commits-%d" % stamp
        members = loop.run_until_complete(form_group(args, group, args.clients))
        identities = [(group, m.generation, m.member_id) for m in members]
    else:
        identities = [("bench-commits-%d-%d" % (stamp, i), -1, "") for i in range(args.clients)]

    queue = multiprocessing.Queue()
    start_at = time.time() + 0.5
    processes = [multiprocessing.Process(target=commit_client, args=(args, i, g, gen, mid, start_at, queue))
                 for i, (g, gen, mid) in enumerate(identities)]
    for p in processes:
        p.start()
    # The group's members stay alive (heartbeats) while the others commit.
    if members:
        async def keep_alive(until):
            while time.time() < until:
                await asyncio.gather(*(m.heartbeat() for m in members))
                await asyncio.sleep(1)
        loop.run_until_complete(keep_alive(start_at + args.seconds))
    results = [queue.get(timeout=args.seconds + 60) for _ in processes]
    for p in processes:
        p.join()
    if members:
        async def leave_all():
            await asyncio.gather(*(m.leave() for m in members))
        loop.run_until_complete(leave_all())
    loop.close()
    total = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    elapsed = max(r[2] for r in results)
    emit({"type": "commits", "mode": args.mode, "clients": args.clients, "commits": total, "errors": errors,
          "seconds": elapsed, "per_second": total / elapsed, "mean_latency_ms": 1000 * elapsed * args.clients / max(total, 1)})
    return 0 if errors == 0 else 1


def create_topic(args):
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(bootstrap_servers=[args.bootstrap], client_id="bench-admin")
    try:
        admin.create_topics([NewTopic(args.topic, args.partitions, 1)])
    except TopicAlreadyExistsError:
        pass
    admin.close()


def emit(obj):
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["rebalance", "commits"])
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--partitions", type=int, default=32, help="partitions of the topic")
    p.add_argument("--members", type=int, default=3)
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--clients", type=int, default=1)
    p.add_argument("--seconds", type=float, default=5)
    p.add_argument("--mode", default="own-groups", choices=["one-group", "own-groups"])
    args = p.parse_args()
    create_topic(args)
    if args.command == "rebalance":
        asyncio.run(rebalance(args))
        return 0
    return commits(args)


if __name__ == "__main__":
    sys.exit(main())
