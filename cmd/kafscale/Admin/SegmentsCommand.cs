using System.Buffers.Binary;
using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using KafScale.Records;
using KafScale.Storage;
using Microsoft.Extensions.Logging;

namespace KafScale.Cli;

internal static partial class AdminCommand
{
    static partial void AddSegments(Command admin) => admin.Subcommands.Add(SegmentsCommand.Create(Output));
}

/// <summary>
/// <c>kafscale admin segments list | dump | verify --topic T --partition P</c> (and <c>segments wal</c>,
/// see <see cref="SegmentsWalCommand"/>): reads a
/// partition's <c>.kfs</c> and <c>.index</c> objects straight from the bucket (or directory)
/// with the broker's storage options; no broker is needed. Documented in docs/segments.md.
/// </summary>
internal static class SegmentsCommand
{
    /// <param name="output">admin's recursive --output, which these commands read too.</param>
    public static Command Create(Option<string> output)
    {
        var segments = new Command("segments", "Inspect a partition's segment objects straight from the object store (no broker needed).");
        // The broker's object-store options (the metadata is not read: no --etcd-* options),
        // recursive like admin's own, so they may come before or after list/dump/verify.
        var storage = new StorageOptions();
        foreach (Option option in storage.All)
        {
            if (storage.EtcdOnly.Contains(option)) continue;
            option.Recursive = true;
            segments.Options.Add(option);
        }
        segments.Subcommands.Add(Sub("list", "One line per segment: offsets, records, size, index entries, creation time.", Kind.List, storage, output));
        segments.Subcommands.Add(Sub("dump", "Print the batches and records of a partition: offsets, timestamps, codec, key and value previews.", Kind.Dump, storage, output));
        segments.Subcommands.Add(Sub("verify", "Check magic, CRC-32C, offset chain and index entries of every segment; exit 1 on any fault.", Kind.Verify, storage, output));
        segments.Subcommands.Add(SegmentsWalCommand.Create(storage, output));
        return segments;
    }

    private enum Kind { List, Dump, Verify }

    private sealed class Options(StorageOptions storage, Option<string> output)
    {
        public readonly StorageOptions Storage = storage;
        public readonly Option<string> Output = output;
        public readonly Option<string> Topic = new("--topic") { Description = "Topic name", Required = true };
        public readonly Option<int> Partition = new("--partition") { Description = "Partition number", Required = true };
        public readonly Option<long> FromOffset = new("--from-offset") { Description = "start at this offset [default: the first]" };
        public readonly Option<long> MaxRecords = new("--max-records") { Description = "stop after this many records [default: all]" };
        public readonly Option<int> PreviewBytes = new("--preview-bytes") { Description = "bytes of each key and value shown [default 64]" };
        public readonly Option<bool> BatchesOnly = new("--batches-only") { Description = "batches only, no records" };
    }

    private static Command Sub(string name, string description, Kind kind, StorageOptions storage, Option<string> output)
    {
        var o = new Options(storage, output);
        var command = new Command(name, description);
        command.Options.Add(o.Topic);
        command.Options.Add(o.Partition);
        if (kind == Kind.Dump)
        {
            command.Options.Add(o.FromOffset);
            command.Options.Add(o.MaxRecords);
            command.Options.Add(o.PreviewBytes);
            command.Options.Add(o.BatchesOnly);
        }
        command.SetAction((parse, ct) => RunAsync(parse, o, kind, ct));
        return command;
    }

    private static async Task<int> RunAsync(ParseResult parse, Options o, Kind kind, CancellationToken ct)
    {
        string verb = kind.ToString().ToLowerInvariant();
        StorageSettings storage;
        string topic;
        int partition;
        bool json;
        long fromOffset = parse.GetValue(o.FromOffset);
        long maxRecords = parse.GetResult(o.MaxRecords) is { Implicit: false } ? parse.GetValue(o.MaxRecords) : long.MaxValue;
        int previewBytes = parse.GetResult(o.PreviewBytes) is { Implicit: false } ? parse.GetValue(o.PreviewBytes) : 64;
        try
        {
            var s = new Settings(parse);
            storage = o.Storage.Resolve(s);
            topic = parse.GetValue(o.Topic)!;
            partition = parse.GetValue(o.Partition);
            json = OutputOption.Parse(s.String(o.Output, "KAFSCALE_OUTPUT", "text"));
            if (topic.Length == 0 || topic.Contains('/') || topic is "." or "..")
                throw new SettingException($"invalid value '{topic}' for --topic: not a topic name");
            if (partition < 0) throw new SettingException($"invalid value '{partition}' for --partition: expected 0 or more");
            if (fromOffset < 0) throw new SettingException($"invalid value '{fromOffset}' for --from-offset: expected 0 or more");
            if (maxRecords < 0) throw new SettingException($"invalid value '{maxRecords}' for --max-records: expected 0 or more");
            if (previewBytes is < 0 or > 1 << 20) throw new SettingException($"invalid value '{previewBytes}' for --preview-bytes: expected 0 to 1048576");
        }
        catch (SettingException ex)
        {
            Console.Error.WriteLine($"kafscale admin segments {verb}: {ex.Message}");
            return 2;
        }

        return await WithStoreAsync(verb, storage, (store, stdout) => kind switch
        {
            Kind.List => ListAsync(store, storage.Namespace, topic, partition, json, stdout, ct),
            Kind.Verify => VerifyAsync(store, storage.Namespace, topic, partition, json, stdout, ct),
            _ => DumpAsync(store, storage.Namespace, topic, partition, json, fromOffset, maxRecords, previewBytes,
                parse.GetValue(o.BatchesOnly), stdout, ct),
        }, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Opens the object store the storage options name and runs one `segments` command on it:
    /// exit 1 with one line when the store cannot be opened or read, 130 when interrupted.
    /// </summary>
    internal static async Task<int> WithStoreAsync(string verb, StorageSettings storage, Func<IObjectStore, Stream, Task<int>> run, CancellationToken ct)
    {
        using var loggerFactory = Logging.Create(LogLevel.Warning, json: false);
        IObjectStore store;
        try
        {
            store = await storage.OpenObjectStoreAsync(loggerFactory.CreateLogger("kafscale.s3"), ct).ConfigureAwait(false);
        }
        catch (StorageOpenException ex)
        {
            Console.Error.WriteLine($"kafscale admin segments {verb}: {ex.Message}");
            return 1;
        }
        await using var _ = store;
        using var stdout = Console.OpenStandardOutput();
        try
        {
            return await run(store, stdout).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return 130;
        }
        catch (Exception ex) when (ex is IOException or Amazon.Runtime.AmazonServiceException or HttpRequestException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"kafscale admin segments {verb}: reading the object store failed: {ex.Message}");
            return 1;
        }
    }

    // ---- list ------------------------------------------------------------------------------------

    private static async Task<int> ListAsync(IObjectStore store, string ns, string topic, int partition, bool json, Stream stdout, CancellationToken ct)
    {
        (List<ObjectInfo> segments, Dictionary<long, ObjectInfo> indexes) = await PartitionVerifier.ListAsync(store, ns, topic, partition, ct).ConfigureAwait(false);
        var rows = new List<ListRow>();
        byte[] head = new byte[SegmentFormat.HeaderSize];
        byte[] tail = new byte[SegmentFormat.FooterSize];
        foreach (ObjectInfo o in segments)
        {
            SegmentKeys.TryParse(o.Key, out SegmentKey key);
            var row = new ListRow { Key = o.Key, BaseOffset = key.BaseOffset, Size = o.Size };
            try
            {
                if (o.Size >= SegmentFormat.MinimumSegmentSize
                    && await store.ReadRangeAsync(o.Key, 0, head, ct).ConfigureAwait(false) == head.Length
                    && await store.ReadRangeAsync(o.Key, o.Size - SegmentFormat.FooterSize, tail, ct).ConfigureAwait(false) == tail.Length)
                {
                    SegmentHeader h = SegmentHeader.Read(head);
                    SegmentFooter f = SegmentFooter.Read(tail);
                    row.Records = h.MessageCount;
                    row.LastOffset = f.LastOffset;
                    row.CreatedAtMs = h.CreatedAtMs;
                }
                else
                {
                    row.Problem = "too short";
                }
            }
            catch (SegmentCorruptException ex)
            {
                row.Problem = ex.Message;
            }
            catch (ObjectNotFoundException)
            {
                continue; // deleted by retention since the listing
            }
            if (indexes.TryGetValue(key.BaseOffset, out ObjectInfo idx))
                row.IndexEntries = idx.Size >= SegmentFormat.IndexHeaderSize ? (idx.Size - SegmentFormat.IndexHeaderSize) / SegmentFormat.IndexEntrySize : 0;
            rows.Add(row);
        }

        if (json)
        {
            using var w = new Utf8JsonWriter(stdout, new JsonWriterOptions { Indented = true });
            w.WriteStartObject();
            w.WriteString("namespace", ns);
            w.WriteString("topic", topic);
            w.WriteNumber("partition", partition);
            w.WriteStartArray("segments");
            foreach (ListRow r in rows)
            {
                w.WriteStartObject();
                w.WriteString("key", r.Key);
                w.WriteNumber("base_offset", r.BaseOffset);
                WriteNullable(w, "last_offset", r.LastOffset);
                WriteNullable(w, "records", r.Records);
                w.WriteNumber("size_bytes", r.Size);
                WriteNullable(w, "index_entries", r.IndexEntries);
                if (r.CreatedAtMs is long c) w.WriteString("created", Time(c)); else w.WriteNull("created");
                if (r.Problem is not null) w.WriteString("problem", r.Problem);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteNumber("total_records", rows.Sum(r => r.Records ?? 0));
            w.WriteNumber("total_bytes", rows.Sum(r => r.Size));
            w.WriteEndObject();
            w.Flush();
            stdout.Write("\n"u8);
            return 0;
        }

        var table = new AlignedTable("BASE_OFFSET", "LAST_OFFSET", "RECORDS", "SIZE_BYTES", "INDEX_ENTRIES", "CREATED", "KEY");
        foreach (ListRow r in rows)
        {
            table.Add(N(r.BaseOffset), N(r.LastOffset), N(r.Records), N(r.Size), r.IndexEntries is null ? "missing" : N(r.IndexEntries),
                r.CreatedAtMs is long c ? Time(c) : (r.Problem ?? "-"), r.Key);
        }
        var text = new StringBuilder();
        if (rows.Count == 0) text.Append(CultureInfo.InvariantCulture, $"no segments under {SegmentKeys.PartitionPrefix(ns, topic, partition)}\n");
        else
        {
            table.Render(text);
            text.Append(CultureInfo.InvariantCulture, $"{rows.Count} segments, {rows.Sum(r => r.Records ?? 0)} records, {rows.Sum(r => r.Size)} bytes\n");
        }
        await WriteAsync(stdout, text, ct).ConfigureAwait(false);
        return 0;
    }

    private sealed class ListRow
    {
        public required string Key;
        public long BaseOffset;
        public long? LastOffset;
        public long? Records;
        public long Size;
        public long? IndexEntries;
        public long? CreatedAtMs;
        public string? Problem;
    }

    // ---- verify ----------------------------------------------------------------------------------

    private static async Task<int> VerifyAsync(IObjectStore store, string ns, string topic, int partition, bool json, Stream stdout, CancellationToken ct)
    {
        PartitionReport report = await PartitionVerifier.VerifyAsync(store, ns, topic, partition, ct).ConfigureAwait(false);
        if (json)
        {
            using var w = new Utf8JsonWriter(stdout, new JsonWriterOptions { Indented = true });
            w.WriteStartObject();
            w.WriteString("namespace", ns);
            w.WriteString("topic", topic);
            w.WriteNumber("partition", partition);
            w.WriteBoolean("ok", report.IsClean);
            w.WriteNumber("segments_checked", report.Segments.Count);
            w.WriteNumber("records", report.Segments.Sum(s => s.Records));
            w.WriteStartArray("segments");
            foreach (SegmentSummary s in report.Segments)
            {
                w.WriteStartObject();
                w.WriteString("key", s.Key);
                w.WriteNumber("base_offset", s.BaseOffset);
                WriteNullable(w, "last_offset", s.LastOffset);
                w.WriteNumber("batches", s.Batches);
                w.WriteNumber("records", s.Records);
                w.WriteNumber("size_bytes", s.SizeBytes);
                w.WriteBoolean("index", s.HasIndex);
                w.WriteNumber("index_entries", s.IndexEntries);
                w.WriteBoolean("ok", s.Faults.Count == 0);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("faults");
            foreach (SegmentFault f in report.Faults)
            {
                w.WriteStartObject();
                w.WriteString("key", f.Key);
                w.WriteString("check", f.Check);
                WriteNullable(w, "batch", f.Batch);
                WriteNullable(w, "offset", f.Offset);
                WriteNullable(w, "position", f.Position);
                w.WriteString("message", f.Message);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
            w.Flush();
            stdout.Write("\n"u8);
        }
        else
        {
            var text = new StringBuilder();
            var table = new AlignedTable("BASE_OFFSET", "LAST_OFFSET", "BATCHES", "RECORDS", "SIZE_BYTES", "INDEX_ENTRIES", "STATUS", "KEY");
            foreach (SegmentSummary s in report.Segments)
            {
                table.Add(N(s.BaseOffset), N(s.LastOffset), N(s.Batches), N(s.Records), N(s.SizeBytes), s.HasIndex ? N(s.IndexEntries) : "missing",
                    s.Faults.Count == 0 ? "ok" : $"{s.Faults.Count} fault(s)", s.Key);
            }
            if (report.Segments.Count > 0) table.Render(text);
            if (report.Faults.Count > 0)
            {
                text.Append('\n');
                var faults = new AlignedTable("CHECK", "BATCH", "OFFSET", "POSITION", "OBJECT", "PROBLEM");
                foreach (SegmentFault f in report.Faults)
                    faults.Add(f.Check, N(f.Batch), N(f.Offset), N(f.Position), f.Key, f.Message);
                faults.Render(text);
            }
            string where = $"{topic}/{partition}";
            if (report.Segments.Count == 0 && report.Faults.Count == 0)
                text.Append(CultureInfo.InvariantCulture, $"{where}: no segments under {SegmentKeys.PartitionPrefix(ns, topic, partition)}\n");
            else if (report.IsClean)
                text.Append(CultureInfo.InvariantCulture, $"{where}: ok ({report.Segments.Count} segments, {report.Segments.Sum(s => s.Records)} records verified)\n");
            else
                text.Append(CultureInfo.InvariantCulture, $"{where}: {report.Faults.Count} fault(s) in {report.Faults.Select(f => f.Key).Distinct().Count()} object(s) of {report.Segments.Count} segments\n");
            await WriteAsync(stdout, text, ct).ConfigureAwait(false);
        }
        if (!report.IsClean)
            Console.Error.WriteLine($"kafscale admin segments verify: {topic}/{partition} has {report.Faults.Count} fault(s); first: {report.Faults[0].Key}: {report.Faults[0].Check}: {report.Faults[0].Message}");
        return report.IsClean ? 0 : 1;
    }

    // ---- dump ------------------------------------------------------------------------------------

    private static async Task<int> DumpAsync(IObjectStore store, string ns, string topic, int partition, bool json, long fromOffset, long maxRecords,
        int previewBytes, bool batchesOnly, Stream stdout, CancellationToken ct)
    {
        (List<ObjectInfo> segments, _) = await PartitionVerifier.ListAsync(store, ns, topic, partition, ct).ConfigureAwait(false);
        Utf8JsonWriter? w = null;
        if (json)
        {
            w = new Utf8JsonWriter(stdout, new JsonWriterOptions { Indented = true });
            w.WriteStartObject();
            w.WriteString("namespace", ns);
            w.WriteString("topic", topic);
            w.WriteNumber("partition", partition);
            w.WriteStartArray("segments");
        }
        long printed = 0;
        int exit = 0;
        for (int i = 0; i < segments.Count && printed < maxRecords; i++)
        {
            ObjectInfo o = segments[i];
            // Skip segments wholly below the start: the next segment's base offset bounds this one.
            if (i + 1 < segments.Count && SegmentKeys.TryParse(segments[i + 1].Key, out SegmentKey next) && next.BaseOffset <= fromOffset) continue;
            byte[]? data = await store.GetAsync(o.Key, ct).ConfigureAwait(false);
            if (data is null) continue;
            var text = new StringBuilder();
            string? problem = null;
            var batchTable = new AlignedTable("BASE_OFFSET", "LAST_OFFSET", "RECORDS", "CODEC", "SIZE_BYTES", "POSITION", "BASE_TIMESTAMP", "MAX_TIMESTAMP", "PRODUCER_ID", "CRC");
            var recordTable = new AlignedTable("OFFSET", "TIMESTAMP", "BATCH", "CODEC", "KEY", "VALUE", "HEADERS");
            if (w is not null)
            {
                w.WriteStartObject();
                w.WriteString("key", o.Key);
                w.WriteNumber("size_bytes", data.Length);
                w.WriteStartArray("batches");
            }
            int end = data.Length;
            if (data.Length >= SegmentFormat.MinimumSegmentSize && BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(data.Length - 4)) == SegmentFormat.FooterMagic)
                end = data.Length - SegmentFormat.FooterSize;
            else problem = "no END! footer: the segment is incomplete or damaged";
            int position = Math.Min(SegmentFormat.HeaderSize, data.Length);
            while (position < end && printed < maxRecords)
            {
                ReadOnlySpan<byte> rest = data.AsSpan(position, end - position);
                int size = RecordBatch.PeekTotalSize(rest);
                if (size < 0 || size > rest.Length || rest.Length < RecordBatch.HeaderSize)
                {
                    problem = $"the bytes at position {position} are not a whole record batch";
                    break;
                }
                var h = new RecordBatchHeader(rest);
                if (h.LastOffset < fromOffset)
                {
                    position += size;
                    continue;
                }
                bool crcOk = RecordBatch.IsCrcValid(rest[..size]);
                string codec = Codec(h.Compression);
                if (w is not null)
                {
                    w.WriteStartObject();
                    w.WriteNumber("base_offset", h.BaseOffset);
                    w.WriteNumber("last_offset", h.LastOffset);
                    w.WriteNumber("records", h.RecordCount);
                    w.WriteString("codec", codec);
                    w.WriteNumber("size_bytes", size);
                    w.WriteNumber("position", position);
                    w.WriteString("timestamp_type", h.TimestampType == TimestampType.LogAppend ? "log_append" : "create");
                    w.WriteNumber("base_timestamp", h.BaseTimestamp);
                    w.WriteNumber("max_timestamp", h.MaxTimestamp);
                    w.WriteNumber("producer_id", h.ProducerId);
                    w.WriteNumber("producer_epoch", h.ProducerEpoch);
                    w.WriteNumber("base_sequence", h.BaseSequence);
                    w.WriteNumber("partition_leader_epoch", h.PartitionLeaderEpoch);
                    w.WriteBoolean("crc_ok", crcOk);
                }
                else
                {
                    batchTable.Add(N(h.BaseOffset), N(h.LastOffset), N(h.RecordCount), codec, N(size), N(position), Time(h.BaseTimestamp), Time(h.MaxTimestamp),
                        N(h.ProducerId), crcOk ? "ok" : "BAD");
                }
                if (!batchesOnly)
                {
                    w?.WriteStartArray("records");
                    try
                    {
                        using var reader = new RecordBatchReader(rest[..size]);
                        while (printed < maxRecords && reader.TryReadNext(out RecordView r))
                        {
                            if (r.Offset < fromOffset) continue;
                            printed++;
                            if (w is not null)
                            {
                                w.WriteStartObject();
                                w.WriteNumber("offset", r.Offset);
                                w.WriteNumber("timestamp", r.Timestamp);
                                WritePreview(w, "key", r.Key, r.KeyIsNull, previewBytes);
                                WritePreview(w, "value", r.Value, r.ValueIsNull, previewBytes);
                                w.WriteStartArray("headers");
                                foreach (RecordHeaderView hv in r.Headers)
                                {
                                    w.WriteStartObject();
                                    w.WriteString("key", Encoding.UTF8.GetString(hv.Key));
                                    WritePreview(w, "value", hv.Value, hv.ValueIsNull, previewBytes);
                                    w.WriteEndObject();
                                }
                                w.WriteEndArray();
                                w.WriteEndObject();
                            }
                            else
                            {
                                recordTable.Add(N(r.Offset), Time(r.Timestamp), N(h.BaseOffset), codec,
                                    Preview(r.Key, r.KeyIsNull, previewBytes), Preview(r.Value, r.ValueIsNull, previewBytes), N(r.HeaderCount));
                            }
                        }
                    }
                    catch (Exception ex) when (ex is InvalidDataException or NotSupportedException or DllNotFoundException or EntryPointNotFoundException)
                    {
                        problem = $"batch at offset {h.BaseOffset} cannot be decoded: {ex.Message}";
                    }
                    w?.WriteEndArray();
                }
                else
                {
                    printed += h.RecordCount;
                }
                w?.WriteEndObject();
                position += size;
                if (problem is not null) break;
            }
            if (w is not null)
            {
                w.WriteEndArray();
                if (problem is not null) w.WriteString("problem", problem);
                w.WriteEndObject();
                await w.FlushAsync(ct).ConfigureAwait(false);
            }
            else
            {
                text.Append("segment ").Append(o.Key).Append('\n');
                if (batchesOnly) batchTable.Render(text);
                else recordTable.Render(text);
                if (problem is not null) text.Append("problem: ").Append(problem).Append('\n');
                text.Append('\n');
                await WriteAsync(stdout, text, ct).ConfigureAwait(false);
            }
            if (problem is not null)
            {
                Console.Error.WriteLine($"kafscale admin segments dump: {o.Key}: {problem} (run 'kafscale admin segments verify' for details)");
                exit = 1;
            }
        }
        if (w is not null)
        {
            w.WriteEndArray();
            w.WriteEndObject();
            await w.FlushAsync(ct).ConfigureAwait(false);
            await w.DisposeAsync().ConfigureAwait(false);
            stdout.Write("\n"u8);
        }
        else if (segments.Count == 0)
        {
            await WriteAsync(stdout, new StringBuilder($"no segments under {SegmentKeys.PartitionPrefix(ns, topic, partition)}\n"), ct).ConfigureAwait(false);
        }
        return exit;
    }

    // ---- formatting ------------------------------------------------------------------------------

    internal static string Codec(CompressionType c) => c switch
    {
        CompressionType.None => "none",
        CompressionType.Gzip => "gzip",
        CompressionType.Snappy => "snappy",
        CompressionType.Lz4 => "lz4",
        CompressionType.Zstd => "zstd",
        _ => "unknown(" + ((int)c).ToString(CultureInfo.InvariantCulture) + ")",
    };

    private static string N(long v) => v.ToString(CultureInfo.InvariantCulture);
    private static string N(long? v) => v is long x ? x.ToString(CultureInfo.InvariantCulture) : "-";
    private static string N(int v) => v.ToString(CultureInfo.InvariantCulture);
    private static string N(int? v) => v is int x ? x.ToString(CultureInfo.InvariantCulture) : "-";

    internal static string Time(long ms) => ms < 0 || ms > 253402300799999
        ? ms.ToString(CultureInfo.InvariantCulture)
        : DateTimeOffset.FromUnixTimeMilliseconds(ms).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);

    private static void WriteNullable(Utf8JsonWriter w, string name, long? value)
    {
        if (value is long v) w.WriteNumber(name, v);
        else w.WriteNull(name);
    }

    private static bool IsPrintableUtf8(ReadOnlySpan<byte> bytes, out string text)
    {
        text = "";
        try
        {
            text = new UTF8Encoding(false, true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
        foreach (char c in text)
        {
            if (char.IsControl(c) && c is not '\t') return false;
        }
        return true;
    }

    /// <summary>A key or value for a table cell: null, "text" (UTF-8) or 0xHEX, cut at max bytes with "...".</summary>
    internal static string Preview(ReadOnlySpan<byte> bytes, bool isNull, int max)
    {
        if (isNull) return "null";
        bool cut = bytes.Length > max;
        ReadOnlySpan<byte> shown = cut ? bytes[..max] : bytes;
        string more = cut ? $"...({bytes.Length} bytes)" : "";
        // A cut may split a UTF-8 sequence: trim to the last whole character before judging.
        if (cut) shown = TrimPartialUtf8(shown);
        if (IsPrintableUtf8(shown, out string text)) return "\"" + text + "\"" + more;
        return "0x" + Convert.ToHexStringLower(shown) + more;
    }

    private static void WritePreview(Utf8JsonWriter w, string name, ReadOnlySpan<byte> bytes, bool isNull, int max)
    {
        if (isNull)
        {
            w.WriteNull(name);
            w.WriteNumber(name + "_size", -1);
            return;
        }
        bool cut = bytes.Length > max;
        ReadOnlySpan<byte> shown = cut ? TrimPartialUtf8(bytes[..max]) : bytes;
        if (IsPrintableUtf8(shown, out string text))
        {
            w.WriteString(name, text);
            w.WriteString(name + "_encoding", "utf8");
        }
        else
        {
            w.WriteString(name, Convert.ToHexStringLower(cut ? bytes[..max] : bytes));
            w.WriteString(name + "_encoding", "hex");
        }
        w.WriteNumber(name + "_size", bytes.Length);
        w.WriteBoolean(name + "_truncated", cut);
    }

    private static ReadOnlySpan<byte> TrimPartialUtf8(ReadOnlySpan<byte> s)
    {
        int i = s.Length;
        int back = 0;
        while (i > 0 && back < 4 && (s[i - 1] & 0xC0) == 0x80) { i--; back++; }
        if (i > 0 && s[i - 1] >= 0xC0)
        {
            int need = s[i - 1] >= 0xF0 ? 4 : s[i - 1] >= 0xE0 ? 3 : 2;
            if (back + 1 < need) return s[..(i - 1)];
        }
        return s;
    }

    internal static async Task WriteAsync(Stream stdout, StringBuilder text, CancellationToken ct)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text.ToString());
        await stdout.WriteAsync(bytes, ct).ConfigureAwait(false);
        await stdout.FlushAsync(ct).ConfigureAwait(false);
    }
}

/// <summary>--output text|json, as every admin command takes it.</summary>
internal static class OutputOption
{
    /// <summary>True for json.</summary>
    public static bool Parse(string? value) => (value ?? "text").ToLowerInvariant() switch
    {
        "text" => false,
        "json" => true,
        _ => throw new SettingException($"invalid value '{value}' for --output: expected text or json"),
    };
}

/// <summary>
/// An aligned text table built row by row: rendered by the admin commands' own table writer, so
/// every admin and snapshot table has the same layout.
/// </summary>
internal sealed class AlignedTable(params string[] headers)
{
    private readonly List<string[]> _rows = [];

    public int Count => _rows.Count;

    public void Add(params string[] cells) => _rows.Add(cells);

    public void Render(StringBuilder output)
    {
        using var writer = new StringWriter(output, System.Globalization.CultureInfo.InvariantCulture);
        new KafScale.Admin.AdminOutput(json: false, writer).WriteTable(headers, _rows);
    }
}
