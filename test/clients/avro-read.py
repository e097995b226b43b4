"""Reads Avro object container files with the python avro library (an independent Avro
implementation) and prints one JSON line per file: {"type":"file","path","codec","meta",
"schema","records"}. Bytes and fixed are printed as hex."""
import datetime
import json
import sys

from avro.datafile import DataFileReader
from avro.io import DatumReader


EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def plain(value):
    # Logical types come back converted: print them as Avro's underlying numbers again.
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        delta = value - EPOCH
        return (delta.days * 86400 + delta.seconds) * 1000000 + delta.microseconds
    if isinstance(value, datetime.date):
        return (value - EPOCH.date()).days
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def read(path):
    with open(path, "rb") as f:
        reader = DataFileReader(f, DatumReader())
        meta = {}
        schema = None
        for key, val in reader.meta.items():
            if key == "avro.schema":
                schema = json.loads(val.decode("utf-8"))
            else:
                meta[key] = val.decode("utf-8")
        codec = meta.get("avro.codec", "null")
        records = [plain(r) for r in reader]
        reader.close()
    return {"type": "file", "path": path, "codec": codec, "meta": meta, "schema": schema, "records": records}


def main():
    for path in sys.argv[1:]:
        try:
            print(json.dumps(read(path)))
        except Exception as e:  # noqa: BLE001 - report which file failed
            print(f"python avro could not read {path}: {e!r}", file=sys.stderr)
            sys.exit(1)


if __name__ == "__main__":
    main()
