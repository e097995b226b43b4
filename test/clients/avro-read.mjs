// Reads Avro object container files with avsc (an independent Avro implementation) and prints
// one JSON line per file: {"type":"file","path","codec","meta","schema","records"}.
// Longs are printed as decimal strings (exact beyond 2^53), bytes and fixed as hex.
import avro from 'avsc';

const longType = avro.types.LongType.__with({
  fromBuffer: (buf) => buf.readBigInt64LE(),
  toBuffer: (n) => { const buf = Buffer.alloc(8); buf.writeBigInt64LE(BigInt(n)); return buf; },
  fromJSON: (x) => BigInt(x),
  toJSON: (n) => n.toString(),
  isValid: (n) => typeof n === 'bigint',
  compare: (a, b) => (a === b ? 0 : a < b ? -1 : 1),
});

function plain(value) {
  if (typeof value === 'bigint') return value.toString();
  if (Buffer.isBuffer(value)) return value.toString('hex');
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = plain(v);
    return out;
  }
  return value;
}

function readFile(path) {
  return new Promise((resolve, reject) => {
    const records = [];
    let codec = null;
    let meta = {};
    let schema = null;
    avro.createFileDecoder(path, { parseHook: (s) => avro.Type.forSchema(s, { registry: { long: longType } }) })
      .on('metadata', (type, c, header) => {
        codec = c;
        for (const [k, v] of Object.entries(header.meta)) {
          if (k === 'avro.schema') schema = JSON.parse(v.toString('utf8'));
          else meta[k] = v.toString('utf8');
        }
      })
      .on('data', (record) => records.push(plain(record)))
      .on('error', reject)
      .on('end', () => resolve({ type: 'file', path, codec, meta, schema, records }));
  });
}

for (const path of process.argv.slice(2)) {
  try {
    console.log(JSON.stringify(await readFile(path)));
  } catch (err) {
    console.error(`avsc could not read ${path}: ${err.stack || err}`);
    process.exit(1);
  }
}
