#!/usr/bin/python3
"""Secured-listener driver for the integration tests (test/Integration/Security): with
confluent-kafka or kafka-python, produce --count records, then consume them in a consumer group
and commit. Prints one JSON object: {"produced": N, "values": [...], "committed": {partition: offset}}
or {"error": "..."} with exit code 1.

Security settings use Kafka's names: --protocol (security.protocol), --mechanism, --username,
--password, --ca, --cert, --key (PEM files); --token is the OAUTHBEARER token (with --mechanism
OAUTHBEARER: confluent-kafka's oauth_cb, kafka-python's token provider). --spread SECONDS spreads the produced records over that long (re-authentication tests)."""

import argparse
import json
import sys
import time


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("--client", required=True, choices=["confluent-kafka", "kafka-python"])
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--count", type=int, default=10)
    p.add_argument("--protocol", default="PLAINTEXT")
    p.add_argument("--mechanism")
    p.add_argument("--username")
    p.add_argument("--password")
    p.add_argument("--ca")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--token")
    p.add_argument("--spread", type=float, default=0)
    p.add_argument("--timeout", type=float, default=40)
    return p.parse_args()


def confluent(args):
    from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

    common = {"bootstrap.servers": args.bootstrap, "security.protocol": args.protocol,
              "client.id": "kafscale-secure-confluent"}
    if args.mechanism == "OAUTHBEARER":
        # The token the test signed, valid for an hour: librdkafka asks again at 80% of that.
        common.update({"sasl.mechanisms": "OAUTHBEARER",
                       "oauth_cb": lambda _config: (args.token, time.time() + 3600)})
    elif args.mechanism:
        common.update({"sasl.mechanisms": args.mechanism, "sasl.username": args.username,
                       "sasl.password": args.password})
    if args.ca:
        common["ssl.ca.location"] = args.ca
    if args.cert:
        common.update({"ssl.certificate.location": args.cert, "ssl.key.location": args.key})
    errors = []
    common["error_cb"] = lambda err: errors.append(str(err))

    producer = Producer(dict(common, acks="all", **{"message.timeout.ms": int(args.timeout * 1000)}))
    delivered = []
    for i in range(args.count):
        producer.produce(args.topic, value=f"value-{i}".encode(), key=f"k-{i}".encode(),
                         on_delivery=lambda err, msg: delivered.append(err))
        if args.spread:
            producer.flush(args.timeout)
            time.sleep(args.spread / args.count)
    producer.flush(args.timeout)
    failed = [str(e) for e in delivered if e is not None]
    if len(delivered) != args.count or failed:
        raise RuntimeError(f"produce: {len(delivered)} reports, failures {failed[:3]}, client errors {errors[:3]}")

    consumer = Consumer(dict(common, **{"group.id": args.group, "auto.offset.reset": "earliest",
                                        "enable.auto.commit": False}))
    consumer.subscribe([args.topic])
    values = []
    deadline = time.time() + args.timeout
    while len(values) < args.count and time.time() < deadline:
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        if msg.error():
            raise RuntimeError(f"consume: {msg.error()}")
        values.append(msg.value().decode())
    if len(values) < args.count:
        raise RuntimeError(f"consume: {len(values)} of {args.count} records; client errors {errors[:3]}")
    committed = consumer.commit(asynchronous=False)
    offsets = {str(tp.partition): tp.offset for tp in committed}
    check = consumer.committed([TopicPartition(args.topic, int(p)) for p in offsets], timeout=args.timeout)
    consumer.close()
    return values, {str(tp.partition): tp.offset for tp in check}


def token_provider(token):
    """kafka-python's OAUTHBEARER credential: an AbstractTokenProvider whose token() returns the
    test's token (kafka.oauth.abstract up to 2.0; kafka.sasl.oauth in later releases)."""
    try:
        from kafka.sasl.oauth import AbstractTokenProvider
    except ImportError:
        from kafka.oauth.abstract import AbstractTokenProvider

    class Provider(AbstractTokenProvider):
        def token(self):
            return token

    return Provider()


def kafka_python(args):
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    common = {"bootstrap_servers": args.bootstrap, "security_protocol": args.protocol,
              "client_id": "kafscale-secure-kafka-python", "api_version_auto_timeout_ms": 10000}
    if args.mechanism == "OAUTHBEARER":
        common.update({"sasl_mechanism": "OAUTHBEARER",
                       "sasl_oauth_token_provider": token_provider(args.token)})
    elif args.mechanism:
        common.update({"sasl_mechanism": args.mechanism, "sasl_plain_username": args.username,
                       "sasl_plain_password": args.password})
    if args.ca:
        common.update({"ssl_cafile": args.ca, "ssl_check_hostname": True})
    if args.cert:
        common.update({"ssl_certfile": args.cert, "ssl_keyfile": args.key})
    producer = KafkaProducer(acks="all", **common)
    futures = [producer.send(args.topic, value=f"value-{i}".encode(), key=f"k-{i}".encode())
               for i in range(args.count)]
    for f in futures:
        f.get(timeout=args.timeout)
    producer.close()

    consumer = KafkaConsumer(args.topic, group_id=args.group, auto_offset_reset="earliest",
                             enable_auto_commit=False, **common)
    values = []
    deadline = time.time() + args.timeout
    while len(values) < args.count and time.time() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            values.extend(r.value.decode() for r in records)
    if len(values) < args.count:
        raise RuntimeError(f"consume: {len(values)} of {args.count} records")
    consumer.commit()
    partitions = consumer.assignment()
    committed = {str(tp.partition): consumer.committed(TopicPartition(args.topic, tp.partition))
                 for tp in partitions}
    consumer.close()
    return values, committed


def main():
    args = parse()
    try:
        values, committed = (confluent if args.client == "confluent-kafka" else kafka_python)(args)
    except Exception as err:  # the test reads the message
        print(json.dumps({"error": f"{type(err).__name__}: {err}"}))
        return 1
    print(json.dumps({"produced": args.count, "values": values, "committed": committed}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
