using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using KafScale.Processor.Json;
using KafScale.Records;

namespace KafScale.Processor.Tables;

/// <summary>
/// Encodes records as rows of one column list (a <see cref="SchemaSnapshot"/>): the eight base
/// columns, then the columns taken from top-level JSON fields of the value and from the record
/// timestamp. One encoder per open data file; not thread-safe.
/// </summary>
public sealed class RowEncoder
{
    private readonly TableColumn[] _columns;
    private readonly Dictionary<string, int> _byField = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _byFieldSpan;
    private readonly HashSet<string> _ignored = new(StringComparer.Ordinal);
    private readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _ignoredSpan;
    private readonly int[] _timestampColumns;
    private readonly bool[] _done;
    private readonly byte[] _topic;
    private readonly byte[] _recordId;
    private readonly int _recordIdPrefix;
    private readonly ArrayBufferWriter<byte> _headers = new(256);
    private readonly Utf8JsonWriter _headerWriter;
    private readonly int _partition;
    private byte[] _scratch = new byte[256];

    public RowEncoder(SchemaSnapshot schema, TopicPartition tp)
    {
        Schema = schema;
        _columns = [.. schema.Columns];
        for (int i = 0; i < BaseColumns.Count; i++)
        {
            var expected = BaseColumns.All[i];
            if (i >= _columns.Length || _columns[i].Id != expected.Id || _columns[i].Name != expected.Name || _columns[i].Type != expected.Type)
                throw new InvalidOperationException($"the table's column {i + 1} is not the base column {expected}: the table was not created by a KafScale processor");
        }
        var timestamps = new List<int>();
        for (int i = BaseColumns.Count; i < _columns.Length; i++)
        {
            var c = _columns[i];
            if (c.Source == ColumnSourceKind.JsonField && c.JsonField is not null) _byField.TryAdd(c.JsonField, i);
            else if (c.Source == ColumnSourceKind.RecordTimestamp) timestamps.Add(i);
        }
        _timestampColumns = [.. timestamps];
        _byFieldSpan = _byField.GetAlternateLookup<ReadOnlySpan<char>>();
        _ignoredSpan = _ignored.GetAlternateLookup<ReadOnlySpan<char>>();
        _done = new bool[_columns.Length];
        _topic = Encoding.UTF8.GetBytes(tp.Topic);
        _partition = tp.Partition;
        string prefix = string.Create(CultureInfo.InvariantCulture, $"{tp.Topic}:{tp.Partition}:");
        _recordIdPrefix = Encoding.UTF8.GetByteCount(prefix);
        _recordId = new byte[_recordIdPrefix + 20];
        Encoding.UTF8.GetBytes(prefix, _recordId);
        _headerWriter = new Utf8JsonWriter(_headers, new JsonWriterOptions { SkipValidation = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
    }

    public SchemaSnapshot Schema { get; }

    /// <summary>Called once per field that stays out of the table, with the reason (for a log line).</summary>
    public Action<string, FieldRejection>? OnFieldRejected { get; set; }

    /// <summary>
    /// True when some field of the value has a column that this encoder's schema lacks (the
    /// tracker has it, or has just inferred it): the caller must continue in a new file with the
    /// tracker's newer snapshot.
    /// </summary>
    public bool NeedsNewerSchema(JsonFields fields, ReadOnlySpan<byte> json, SchemaTracker tracker)
    {
        bool newer = false;
        for (int i = 0; i < fields.Count; i++)
        {
            ReadOnlySpan<char> name = fields.Name(i);
            if (_byFieldSpan.ContainsKey(name) || _ignoredSpan.Contains(name)) continue;
            ref JsonField f = ref fields[i];
            if (f.Kind == JsonKind.Null) continue;
            string key = name.ToString();
            var column = tracker.Resolve(key, JsonValues.Infer(f, fields.Value(i, json)), out var rejection, out _);
            if (column is not null) newer = true;
            else if (rejection != FieldRejection.NullValue)
            {
                _ignored.Add(key);
                OnFieldRejected?.Invoke(key, rejection);
            }
        }
        return newer;
    }

    /// <summary>Column index of the JSON field named <paramref name="field"/>, or -1.</summary>
    public int ColumnOfField(string field) => _byField.TryGetValue(field, out int i) ? i : -1;

    /// <summary>Writes one row. Returns true when some field's value did not fit its column's type (it was written as null).</summary>
    public bool Write(IDataFileWriter w, in RecordView r, JsonFields? fields)
    {
        bool conflict = false;
        Array.Clear(_done);
        Utf8Formatter.TryFormat(r.Offset, _recordId.AsSpan(_recordIdPrefix), out int digits);
        w.WriteBytes(0, _recordId.AsSpan(0, _recordIdPrefix + digits));
        w.WriteBytes(1, _topic);
        w.WriteInt32(2, _partition);
        w.WriteInt64(3, r.Offset);
        w.WriteInt64(4, r.Timestamp);
        if (r.KeyIsNull) w.WriteNull(5); else w.WriteBytes(5, r.Key);
        if (r.ValueIsNull) w.WriteNull(6); else w.WriteBytes(6, r.Value);
        if (r.HeaderCount == 0) w.WriteNull(7); else w.WriteBytes(7, EncodeHeaders(r));
        foreach (int i in _timestampColumns)
        {
            WriteTimestamp(w, i, r.Timestamp);
            _done[i] = true;
        }
        if (fields is not null)
        {
            ReadOnlySpan<byte> json = r.Value;
            for (int f = 0; f < fields.Count; f++)
            {
                if (!_byFieldSpan.TryGetValue(fields.Name(f), out int i) || _done[i]) continue;
                _done[i] = true;
                if (WriteJson(w, i, in fields[f], fields.Value(f, json)) == ConvertResult.Conflict) conflict = true;
            }
        }
        for (int i = BaseColumns.Count; i < _columns.Length; i++)
            if (!_done[i]) w.WriteNull(i);
        w.EndRow();
        return conflict;
    }

    private void WriteTimestamp(IDataFileWriter w, int i, long timestampMs)
    {
        switch (_columns[i].Type)
        {
            case ColumnType.Long: w.WriteInt64(i, timestampMs); break;
            case ColumnType.Date: w.WriteInt32(i, (int)Math.Floor(timestampMs / 86_400_000.0)); break;
            default: w.WriteInt64(i, timestampMs * 1000); break;
        }
    }

    private ConvertResult WriteJson(IDataFileWriter w, int i, in JsonField f, ReadOnlySpan<byte> v)
    {
        if (f.Kind == JsonKind.Null)
        {
            w.WriteNull(i);
            return ConvertResult.Null;
        }
        var type = _columns[i].Type;
        bool ok;
        switch (type)
        {
            case ColumnType.Boolean:
                ok = f.Kind is JsonKind.True or JsonKind.False;
                if (ok) w.WriteBoolean(i, f.Kind == JsonKind.True);
                break;
            case ColumnType.Int:
                ok = f.Kind == JsonKind.Number && !f.IsFractional && JsonValues.TryLong(v, out long l32) && l32 is >= int.MinValue and <= int.MaxValue;
                if (ok) w.WriteInt32(i, (int)JsonValuesLong(v));
                break;
            case ColumnType.Long:
                ok = f.Kind == JsonKind.Number && !f.IsFractional && JsonValues.TryLong(v, out _);
                if (ok) w.WriteInt64(i, JsonValuesLong(v));
                break;
            case ColumnType.Float:
            case ColumnType.Double:
                ok = f.Kind == JsonKind.Number && JsonValues.TryDouble(v, out _);
                if (ok)
                {
                    JsonValues.TryDouble(v, out double d);
                    if (type == ColumnType.Float) w.WriteFloat(i, (float)d); else w.WriteDouble(i, d);
                }
                break;
            case ColumnType.String:
                ok = f.Kind is JsonKind.String or JsonKind.Object or JsonKind.Array;
                if (ok) w.WriteBytes(i, v);
                break;
            case ColumnType.Binary:
                ok = f.Kind == JsonKind.String && JsonValues.TryBase64(v, ref _scratch, out int n);
                if (ok)
                {
                    JsonValues.TryBase64(v, ref _scratch, out n);
                    w.WriteBytes(i, _scratch.AsSpan(0, n));
                }
                break;
            case ColumnType.Date:
            case ColumnType.Timestamp:
            case ColumnType.Timestamptz:
                var result = JsonValues.TryTemporal(f, v, type, out long t);
                ok = result == ConvertResult.Ok;
                if (ok)
                {
                    if (type == ColumnType.Date) w.WriteInt32(i, (int)t); else w.WriteInt64(i, t);
                }
                break;
            default:
                ok = false;
                break;
        }
        if (ok) return ConvertResult.Ok;
        w.WriteNull(i);
        return ConvertResult.Conflict;
    }

    private static long JsonValuesLong(ReadOnlySpan<byte> v)
    {
        JsonValues.TryLong(v, out long l);
        return l;
    }

    /// <summary>Headers as a JSON array of {"key","value"}; a value that is not UTF-8 goes as "value_base64", a null one as null.</summary>
    private ReadOnlySpan<byte> EncodeHeaders(in RecordView r)
    {
        _headers.ResetWrittenCount();
        _headerWriter.Reset(_headers);
        _headerWriter.WriteStartArray();
        foreach (RecordHeaderView h in r.Headers)
        {
            _headerWriter.WriteStartObject();
            if (Utf8.IsValid(h.Key)) _headerWriter.WriteString("key"u8, h.Key);
            else _headerWriter.WriteBase64String("key_base64"u8, h.Key);
            if (h.ValueIsNull) _headerWriter.WriteNull("value"u8);
            else if (Utf8.IsValid(h.Value)) _headerWriter.WriteString("value"u8, h.Value);
            else _headerWriter.WriteBase64String("value_base64"u8, h.Value);
            _headerWriter.WriteEndObject();
        }
        _headerWriter.WriteEndArray();
        _headerWriter.Flush();
        return _headers.WrittenSpan;
    }

    /// <summary>
    /// The day (days since 1970-01-01) a row belongs to for a day() partition on column
    /// <paramref name="c"/>, or null when the row has no usable value there.
    /// </summary>
    public static int? DayOf(TableColumn c, in RecordView r, JsonFields? fields)
    {
        if (c.Source == ColumnSourceKind.RecordTimestamp)
            return (int)Math.Floor(r.Timestamp / 86_400_000.0);
        if (fields is null || c.JsonField is null) return null;
        ReadOnlySpan<byte> json = r.Value;
        for (int f = 0; f < fields.Count; f++)
        {
            if (!fields.Name(f).SequenceEqual(c.JsonField)) continue;
            if (JsonValues.TryTemporal(fields[f], fields.Value(f, json), c.Type, out long t) != ConvertResult.Ok) return null;
            return c.Type == ColumnType.Date ? (int)t : JsonValues.DayOfMicros(t);
        }
        return null;
    }
}
