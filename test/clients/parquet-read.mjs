// Reads a Parquet file with two independent readers and prints JSON lines for the tests:
//   {"type":"hyparquet", metadata summary, "rows": [[...], ...]}
//   {"type":"duckdb", "columns", "types", "rows", "metadata": parquet_metadata(), "schema": parquet_schema(), "file": parquet_file_metadata()}
// Values are printed in one canonical form so the C# test can compare both readers to what it wrote:
//   booleans and 32-bit ints as JSON; 64-bit ints, timestamps (microseconds) as decimal strings; dates as days;
//   floats and doubles as the hex of their little-endian IEEE bytes; binary as hex; strings as text;
//   strings and binaries longer than 1000 bytes as "sha256:<hex>:<length in bytes>". Null is null.
// Usage: node parquet-read.mjs FILE [--no-rows]
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { parquetMetadata, parquetReadObjects } from 'hyparquet'
import { compressors } from 'hyparquet-compressors'
import { DuckDBInstance } from '@duckdb/node-api'

const file = process.argv[2]
const withRows = !process.argv.includes('--no-rows')
const buf = readFileSync(file)
const arrayBuffer = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)

const big = (v) => (typeof v === 'bigint' ? v.toString() : v)
const hex = (bytes) => Buffer.from(bytes).toString('hex')
function bytesOut (bytes) {
  if (bytes.length > 1000) return `sha256:${createHash('sha256').update(bytes).digest('hex')}:${bytes.length}`
  return hex(bytes)
}
function textOut (s) {
  const bytes = Buffer.from(s, 'utf8')
  if (bytes.length > 1000) return `sha256:${createHash('sha256').update(bytes).digest('hex')}:${bytes.length}`
  return s
}
function floatOut (v, width) {
  const b = Buffer.alloc(width)
  if (width === 4) b.writeFloatLE(v); else b.writeDoubleLE(v)
  return hex(b)
}
const json = (o) => JSON.stringify(o, (_, v) => (typeof v === 'bigint' ? v.toString() : v))

// ---- hyparquet -----------------------------------------------------------------------------------
// hyparquet with the hyparquet-compressors package for ZSTD (and every other Parquet codec):
// both are independent of our writer.
const parsers = {
  timestampFromMicroseconds: (v) => ({ micros: BigInt(v).toString() }),
  dateFromDays: (v) => ({ days: Number(v) }),
  stringFromBytes: (b) => (b == null ? b : { text: Buffer.from(b).toString('utf8') }),
  jsonFromBytes: (b) => (b == null ? b : { text: Buffer.from(b).toString('utf8') }),
}
const meta = parquetMetadata(arrayBuffer)
const leaves = meta.schema.slice(1)
function hyValue (v, el) {
  if (v === null || v === undefined) return null
  if (v.micros !== undefined) return v.micros
  if (v.days !== undefined) return v.days
  if (v.text !== undefined) return textOut(v.text)
  switch (el.type) {
    case 'BOOLEAN': return v
    case 'INT32': return Number(v)
    case 'INT64': return big(BigInt(v))
    case 'FLOAT': return floatOut(v, 4)
    case 'DOUBLE': return floatOut(v, 8)
    case 'BYTE_ARRAY': return bytesOut(v)
    default: throw new Error(`unexpected type ${el.type}`)
  }
}
const hy = {
  type: 'hyparquet',
  version: meta.version,
  num_rows: big(meta.num_rows),
  created_by: meta.created_by,
  schema: meta.schema.map((s) => ({
    name: s.name, type: s.type ?? null, repetition_type: s.repetition_type ?? null, field_id: s.field_id ?? null,
    converted_type: s.converted_type ?? null, logical_type: s.logical_type ?? null, num_children: s.num_children ?? null,
  })),
  column_orders: meta.column_orders ?? null,
  row_groups: meta.row_groups.map((g) => ({
    num_rows: big(g.num_rows),
    total_byte_size: big(g.total_byte_size),
    columns: g.columns.map((c) => ({
      path: c.meta_data.path_in_schema.join('.'),
      codec: c.meta_data.codec,
      encodings: c.meta_data.encodings,
      encoding_stats: (c.meta_data.encoding_stats ?? []).map((e) => ({ page_type: e.page_type, encoding: e.encoding, count: e.count })),
      num_values: big(c.meta_data.num_values),
      null_count: big(c.meta_data.statistics?.null_count ?? null),
      data_page_offset: big(c.meta_data.data_page_offset),
      dictionary_page_offset: big(c.meta_data.dictionary_page_offset ?? null),
      total_compressed_size: big(c.meta_data.total_compressed_size),
    })),
  })),
}
if (withRows) {
  const rows = await parquetReadObjects({ file: arrayBuffer, compressors, parsers, utf8: false })
  hy.rows = rows.map((r) => leaves.map((el) => hyValue(r[el.name], el)))
}
console.log(json(hy))

// ---- DuckDB --------------------------------------------------------------------------------------
const instance = await DuckDBInstance.create(':memory:')
const conn = await instance.connect()
const path = file.replaceAll("'", "''")
function duckValue (v, type) {
  if (v === null || v === undefined) return null
  if (type === 'BOOLEAN') return v
  if (type === 'INTEGER') return Number(v)
  if (type === 'BIGINT') return big(v)
  if (type === 'FLOAT') return floatOut(v, 4)
  if (type === 'DOUBLE') return floatOut(v, 8)
  if (type === 'DATE') return v.days
  if (type.startsWith('TIMESTAMP')) return big(v.micros)
  if (type === 'BLOB') return bytesOut(v.bytes)
  return textOut(String(v))
}
const out = { type: 'duckdb' }
{
  const reader = await conn.runAndReadAll(`SELECT * FROM read_parquet('${path}')`)
  out.columns = reader.columnNames()
  out.types = reader.columnTypes().map(String)
  if (withRows) out.rows = reader.getRows().map((r) => r.map((v, i) => duckValue(v, out.types[i])))
  out.row_count = reader.currentRowCount
}
const toJson = async (sql) => (await conn.runAndReadAll(sql)).getRowObjectsJson()
out.metadata = await toJson(`SELECT row_group_id, row_group_num_rows, column_id, path_in_schema, type, num_values,
  file_offset, stats_min_value, stats_max_value, stats_null_count, compression, encodings, dictionary_page_offset, data_page_offset,
  min_is_exact, max_is_exact, total_compressed_size, total_uncompressed_size FROM parquet_metadata('${path}') ORDER BY row_group_id, column_id`)
out.schema = await toJson(`SELECT name, type, repetition_type, converted_type, logical_type, field_id FROM parquet_schema('${path}')`)
out.file = (await toJson(`SELECT created_by, num_rows, num_row_groups, format_version FROM parquet_file_metadata('${path}')`))[0]
console.log(json(out))
