// Reads an Iceberg table the way an engine does, with independent readers:
//   metadata/version-hint.text -> metadata/vN.metadata.json -> the current snapshot's manifest
//   list (Avro, via avsc) -> its manifests (Avro) -> the live data files -> DuckDB read_parquet over
//   exactly those files (and hyparquet over each of them).
// Usage: node processor-table.mjs --table LOCATION [--metadata FILE] [--s3rver-dir DIR] [--query SQL]...
//   --metadata: the current metadata file a catalog names (else the table's version-hint.text).
//   LOCATION: the table directory (or file:///...), or s3://bucket/prefix/ns/table read from the
//   s3rver data directory given with --s3rver-dir. In --query, {files} is the list of live files.
// Prints one JSON line {"type":"table", ...}: counts, sums, distinct offsets, columns, field ids.
import fs from 'node:fs';
import path from 'node:path';
import avro from 'avsc';
import { DuckDBInstance } from '@duckdb/node-api';
import { parquetMetadataAsync, parquetReadObjects, asyncBufferFromFile } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';

const args = process.argv.slice(2);
let table = null;
let s3rverDir = null;
let metadataFile = null;
const queries = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--table') table = args[++i];
  else if (args[i] === '--s3rver-dir') s3rverDir = args[++i];
  else if (args[i] === '--query') queries.push(args[++i]);
  else if (args[i] === '--metadata') metadataFile = args[++i];
  else throw new Error(`unknown argument ${args[i]}`);
}
if (!table) throw new Error('--table is required');

// Maps a URI of the table (file:// or s3://) to a local file.
function localPath(uri) {
  if (uri.startsWith('file://')) return decodeURIComponent(new URL(uri).pathname);
  if (uri.startsWith('s3://') || uri.startsWith('s3a://')) {
    if (!s3rverDir) throw new Error(`${uri}: an s3:// location needs --s3rver-dir`);
    const rest = uri.slice(uri.indexOf('://') + 3);
    const parts = rest.split('/');
    const last = parts.pop();
    return path.join(s3rverDir, ...parts, `${last}._S3rver_object`);
  }
  if (uri.includes('://')) throw new Error(`unsupported URI ${uri}`);
  return uri;
}

const tableUri = table.includes('://') ? table.replace(/\/+$/, '') : 'file://' + path.resolve(table);
const read = (uri) => fs.readFileSync(localPath(uri));

// Iceberg ids (snapshot ids) use all 64 bits: read Avro longs as BigInt.
const longType = avro.types.LongType.__with({
  fromBuffer: (buf) => buf.readBigInt64LE(),
  toBuffer: (n) => { const b = Buffer.alloc(8); b.writeBigInt64LE(BigInt(n)); return b; },
  fromJSON: BigInt,
  toJSON: Number,
  isValid: (n) => typeof n === 'bigint',
  compare: (a, b) => (a === b ? 0 : a < b ? -1 : 1),
});

function readAvro(uri) {
  return new Promise((resolve, reject) => {
    const rows = [];
    let header = null;
    avro.createFileDecoder(localPath(uri), { parseHook: (schema) => avro.Type.forSchema(schema, { registry: { long: longType } }) })
      .on('metadata', (type, codec, h) => { header = h; })
      .on('data', (r) => rows.push(r))
      .on('end', () => resolve({ rows, meta: header?.meta ?? {} }))
      .on('error', reject);
  });
}

// A catalog (REST) names the current metadata file; the Hadoop layout points at it with version-hint.text.
const hint = metadataFile ? '0' : read(`${tableUri}/metadata/version-hint.text`).toString('utf8').trim();
const metadata = JSON.parse(read(metadataFile ?? `${tableUri}/metadata/v${hint}.metadata.json`).toString('utf8'));
const out = {
  type: 'table',
  version: Number(hint),
  format_version: metadata['format-version'],
  location: metadata.location,
  current_snapshot_id: metadata['current-snapshot-id'] ?? null,
  snapshots: (metadata.snapshots ?? []).length,
  schema: null,
  partition_spec: null,
  summary: null,
  manifests: 0,
  files: [],
  partitions: [],
  rows: 0,
};
const schema = metadata.schemas.find((s) => s['schema-id'] === metadata['current-schema-id']);
out.schema = schema.fields.map((f) => ({ id: f.id, name: f.name, type: f.type, required: f.required }));
const spec = metadata['partition-specs'].find((s) => s['spec-id'] === metadata['default-spec-id']);
out.partition_spec = spec.fields;

const snapshot = (metadata.snapshots ?? []).find((s) => s['snapshot-id'] === metadata['current-snapshot-id']);
if (snapshot) {
  out.summary = snapshot.summary;
  const list = await readAvro(snapshot['manifest-list']);
  for (const m of list.rows) {
    if (Number(m.content ?? 0) !== 0) continue;
    out.manifests++;
    const manifest = await readAvro(m.manifest_path);
    for (const e of manifest.rows) {
      if (Number(e.status) === 2) continue; // DELETED
      const df = e.data_file;
      if (Number(df.content ?? 0) !== 0) continue;
      out.files.push(df.file_path);
      out.partitions.push({ file: df.file_path, partition: df.partition, record_count: Number(df.record_count) });
    }
  }
}

const replacer = (_, v) => (typeof v === 'bigint' ? (Number.isSafeInteger(Number(v)) ? Number(v) : v.toString()) : v);
if (out.files.length > 0) {
  const local = out.files.map(localPath);
  const list = '[' + local.map((f) => `'${f.replaceAll("'", "''")}'`).join(',') + ']';
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  const all = async (sql) => (await conn.runAndReadAll(sql)).getRowObjects();
  const src = `read_parquet(${list}, union_by_name=true)`;
  const [stats] = await all(`SELECT count(*) AS rows, count(DISTINCT (partition, "offset")) AS distinct_offsets,
      count(DISTINCT record_id) AS distinct_record_ids, sum("offset") AS sum_offset, sum(octet_length(value)) AS value_bytes FROM ${src}`);
  Object.assign(out, stats);
  out.per_partition = await all(`SELECT partition, count(*) AS rows, min("offset") AS min_offset, max("offset") AS max_offset FROM ${src} GROUP BY partition ORDER BY partition`);
  out.columns = (await all(`DESCRIBE SELECT * FROM ${src}`)).map((r) => ({ name: r.column_name, type: r.column_type }));
  // Field ids as written in each file's Parquet schema.
  out.field_ids = {};
  for (const r of await all(`SELECT name, field_id FROM parquet_schema(${list}) WHERE field_id IS NOT NULL`)) out.field_ids[r.name] = r.field_id;
  out.queries = [];
  for (const q of queries) out.queries.push(await all(q.replaceAll('{files}', list).replaceAll('{src}', src)));
  // hyparquet (with hyparquet-compressors for zstd): an independent reader over each file.
  let hyRows = 0;
  let hyOffsetSum = 0n;
  for (const f of local) {
    const file = await asyncBufferFromFile(f);
    const meta = await parquetMetadataAsync(file);
    const rows = await parquetReadObjects({ file, metadata: meta, columns: ['offset'], compressors });
    hyRows += rows.length;
    for (const r of rows) hyOffsetSum += BigInt(r.offset);
  }
  out.hyparquet_rows = hyRows;
  out.hyparquet_sum_offset = hyOffsetSum;
}
console.log(JSON.stringify(out, replacer));
