using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using KafScale.Admin;
using KafScale.Storage;
using KafScale.Storage.Wal;

namespace KafScale.Cli;

/// <summary>
/// <c>kafscale admin segments wal list | dump KEY | verify</c>: the WAL objects of the namespace
/// (<c>&lt;ns&gt;/!wal/</c>), read straight from the bucket or directory with the segments
/// commands' storage options. Documented in docs/segments.md.
/// </summary>
internal static class SegmentsWalCommand
{
    private enum Kind { List, Dump, Verify }

    /// <param name="storage">segments' recursive storage options.</param>
    /// <param name="output">admin's recursive --output.</param>
    public static Command Create(StorageOptions storage, Option<string> output)
    {
        var wal = new Command("wal", "Inspect the write-ahead log objects (<namespace>/!wal/) that brokers write before sealing segments.");
        var since = new Option<string>("--since") { Description = "only objects created at or after this time (ISO 8601 or epoch milliseconds) [default: all]" };

        var list = new Command("list", "One line per WAL object: creation time, broker, sequence, size, chunks, records, key.");
        list.Options.Add(since);
        list.SetAction((parse, ct) => RunAsync(parse, storage, output, Kind.List, since, null, ct));

        var key = new Argument<string>("key") { Description = "the object's key, or its file name under <namespace>/!wal/" };
        var dump = new Command("dump", "Print a WAL object's header and one line per chunk: topic, partition, epoch, offsets, length, CRC ok/bad.");
        dump.Arguments.Add(key);
        dump.SetAction((parse, ct) => RunAsync(parse, storage, output, Kind.Dump, null, key, ct));

        var verify = new Command("verify", "Check trailer, footer CRC, chunk bounds, each chunk's CRC and batches of every WAL object; exit 1 on any fault.");
        verify.Options.Add(since);
        verify.SetAction((parse, ct) => RunAsync(parse, storage, output, Kind.Verify, since, null, ct));

        wal.Subcommands.Add(list);
        wal.Subcommands.Add(dump);
        wal.Subcommands.Add(verify);
        return wal;
    }

    private static async Task<int> RunAsync(ParseResult parse, StorageOptions o, Option<string> output, Kind kind, Option<string>? sinceOption, Argument<string>? keyArgument,
        CancellationToken ct)
    {
        string verb = "wal " + kind.ToString().ToLowerInvariant();
        StorageSettings storage;
        bool json;
        long? since = null;
        string? key = null;
        try
        {
            var s = new Settings(parse);
            storage = o.Resolve(s);
            json = OutputOption.Parse(s.String(output, "KAFSCALE_OUTPUT", "text"));
            if (sinceOption is not null && parse.GetResult(sinceOption) is { Implicit: false })
                since = AdminParsing.ParseTime(parse.GetValue(sinceOption) ?? "", "--since");
            if (keyArgument is not null)
            {
                string given = parse.GetValue(keyArgument) ?? "";
                key = given.Contains('/') ? given : WalKeys.Prefix(storage.Namespace) + given;
                if (!WalKeys.TryParse(key, out _, out _, out _))
                    throw new SettingException($"invalid value '{given}' for KEY: not a WAL object key (<namespace>/!wal/<20 digits>-<20 digits>-<10 digits>.wal, or that file name)");
            }
        }
        catch (Exception ex) when (ex is SettingException or AdminUsageException)
        {
            Console.Error.WriteLine($"kafscale admin segments {verb}: {ex.Message}");
            return 2;
        }

        return await SegmentsCommand.WithStoreAsync(verb, storage, (store, stdout) => kind switch
        {
            Kind.List => ListAsync(store, storage.Namespace, since, json, stdout, ct),
            Kind.Verify => VerifyAsync(store, storage.Namespace, since, json, stdout, ct),
            _ => DumpAsync(store, key!, json, stdout, ct),
        }, ct).ConfigureAwait(false);
    }

    private static IAsyncEnumerable<ObjectInfo> List(IObjectStore store, string ns, long? since, CancellationToken ct) =>
        store.ListAsync(WalKeys.Prefix(ns), since is long t ? WalKeys.StartAfter(ns, t) : null, ct);

    // ---- list ------------------------------------------------------------------------------------

    private sealed class ListRow
    {
        public required string Key;
        public long Size;
        public long? CreatedAtMs;
        public long? Sequence;
        public int? BrokerId;
        public int? Chunks;
        public long? Records;
        public string? Problem;
    }

    private static async Task<int> ListAsync(IObjectStore store, string ns, long? since, bool json, Stream stdout, CancellationToken ct)
    {
        var rows = new List<ListRow>();
        await foreach (ObjectInfo o in List(store, ns, since, ct).ConfigureAwait(false))
        {
            var row = new ListRow { Key = o.Key, Size = o.Size };
            rows.Add(row);
            if (!WalKeys.TryParse(o.Key, out long created, out long sequence, out int broker))
            {
                row.Problem = "not a WAL object key";
                continue;
            }
            (row.CreatedAtMs, row.Sequence, row.BrokerId) = (created, sequence, broker);
            try
            {
                WalFooter footer = await ReadFooterAsync(store, o, created, sequence, broker, ct).ConfigureAwait(false);
                row.Chunks = footer.Chunks.Count;
                row.Records = footer.Chunks.Sum(c => (long)c.RecordCount);
            }
            catch (WalCorruptException ex)
            {
                row.Problem = ex.Message;
            }
            catch (ObjectNotFoundException)
            {
                rows.Remove(row); // deleted since the listing (sealed and cleaned up)
            }
        }

        if (json)
        {
            using var w = new Utf8JsonWriter(stdout, new JsonWriterOptions { Indented = true });
            w.WriteStartObject();
            w.WriteString("namespace", ns);
            w.WriteStartArray("wal_objects");
            foreach (ListRow r in rows)
            {
                w.WriteStartObject();
                w.WriteString("key", r.Key);
                WriteNullable(w, "broker_id", r.BrokerId);
                if (r.CreatedAtMs is long c) w.WriteString("created", SegmentsCommand.Time(c)); else w.WriteNull("created");
                WriteNullable(w, "created_ms", r.CreatedAtMs);
                WriteNullable(w, "sequence", r.Sequence);
                w.WriteNumber("size_bytes", r.Size);
                WriteNullable(w, "chunks", r.Chunks);
                WriteNullable(w, "records", r.Records);
                if (r.Problem is not null) w.WriteString("problem", r.Problem);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteNumber("total_chunks", rows.Sum(r => r.Chunks ?? 0));
            w.WriteNumber("total_records", rows.Sum(r => r.Records ?? 0));
            w.WriteNumber("total_bytes", rows.Sum(r => r.Size));
            w.WriteEndObject();
            w.Flush();
            stdout.Write("\n"u8);
            return 0;
        }

        var text = new StringBuilder();
        if (rows.Count == 0)
        {
            text.Append(CultureInfo.InvariantCulture, $"no WAL objects under {WalKeys.Prefix(ns)}\n");
        }
        else
        {
            var table = new AlignedTable("CREATED", "BROKER", "SEQUENCE", "SIZE_BYTES", "CHUNKS", "RECORDS", "KEY");
            foreach (ListRow r in rows)
            {
                table.Add(r.CreatedAtMs is long c ? SegmentsCommand.Time(c) : "-", N(r.BrokerId), N(r.Sequence), N(r.Size),
                    r.Problem is null ? N(r.Chunks) : "damaged", N(r.Records), r.Key);
            }
            table.Render(text);
            foreach (ListRow r in rows.Where(r => r.Problem is not null))
                text.Append(CultureInfo.InvariantCulture, $"problem: {r.Key}: {r.Problem} (run 'kafscale admin segments wal verify')\n");
            text.Append(CultureInfo.InvariantCulture, $"{rows.Count} WAL objects, {rows.Sum(r => r.Chunks ?? 0)} chunks, {rows.Sum(r => r.Records ?? 0)} records, {rows.Sum(r => r.Size)} bytes\n");
        }
        await SegmentsCommand.WriteAsync(stdout, text, ct).ConfigureAwait(false);
        return 0;
    }

    /// <summary>The footer the way a broker reads it: one ranged read of the tail, a second when the table is longer.</summary>
    private static async Task<WalFooter> ReadFooterAsync(IObjectStore store, ObjectInfo o, long created, long sequence, int broker, CancellationToken ct)
    {
        if (o.Size < WalFormat.MinimumObjectSize)
            throw new WalCorruptException(WalProblem.TooShort, $"a WAL object needs at least {WalFormat.MinimumObjectSize} bytes, this one has {o.Size}");
        byte[] tail = new byte[WalReader.TailReadSize(o.Size)];
        int read = await store.ReadRangeAsync(o.Key, o.Size - tail.Length, tail, ct).ConfigureAwait(false);
        if (read != tail.Length)
            throw new WalCorruptException(WalProblem.TooShort, $"the object is shorter than the {o.Size} bytes listed");
        (int footerLength, uint crc) = WalReader.ReadTrailer(tail);
        if (footerLength > o.Size - WalFormat.MinimumObjectSize)
            throw new WalCorruptException(WalProblem.BadFooter, $"the trailer gives a footer table of {footerLength} bytes, which does not fit a WAL object of {o.Size} bytes");
        if (footerLength + WalFormat.TrailerSize <= tail.Length)
            return WalReader.ParseFooter(tail.AsSpan(tail.Length - WalFormat.TrailerSize - footerLength, footerLength), crc, o.Size, broker, created, sequence);
        byte[] table = new byte[footerLength];
        if (await store.ReadRangeAsync(o.Key, o.Size - WalFormat.TrailerSize - footerLength, table, ct).ConfigureAwait(false) != footerLength)
            throw new WalCorruptException(WalProblem.TooShort, $"the object is shorter than the {o.Size} bytes listed");
        return WalReader.ParseFooter(table, crc, o.Size, broker, created, sequence);
    }

    // ---- dump ------------------------------------------------------------------------------------

    private static async Task<int> DumpAsync(IObjectStore store, string key, bool json, Stream stdout, CancellationToken ct)
    {
        byte[]? data = await store.GetAsync(key, ct).ConfigureAwait(false);
        if (data is null)
        {
            Console.Error.WriteLine($"kafscale admin segments wal dump: no object '{key}' (see 'kafscale admin segments wal list')");
            return 1;
        }
        WalKeys.TryParse(key, out long keyCreated, out long keySequence, out int keyBroker);
        WalObjectReport report = WalVerifier.Inspect(key, data);
        WalFooter? footer = report.Footer;
        int brokerId = footer?.BrokerId ?? keyBroker;
        long created = footer?.CreatedAtMs ?? keyCreated;
        long sequence = footer?.Sequence ?? keySequence;
        string? problem = footer is null ? report.Faults.FirstOrDefault(f => f.Check != "key")?.Message : null;
        var crcOk = new bool[footer?.Chunks.Count ?? 0];
        for (int i = 0; i < crcOk.Length; i++)
            crcOk[i] = WalReader.VerifyChunk(WalReader.ChunkBytes(data, footer!.Chunks[i]), footer.Chunks[i]);

        if (json)
        {
            using var w = new Utf8JsonWriter(stdout, new JsonWriterOptions { Indented = true });
            w.WriteStartObject();
            w.WriteString("key", key);
            w.WriteNumber("broker_id", brokerId);
            w.WriteString("created", SegmentsCommand.Time(created));
            w.WriteNumber("created_ms", created);
            w.WriteNumber("sequence", sequence);
            w.WriteNumber("size_bytes", data.Length);
            w.WriteStartArray("chunks");
            for (int i = 0; i < crcOk.Length; i++)
            {
                WalChunkInfo c = footer!.Chunks[i];
                w.WriteStartObject();
                w.WriteString("topic", c.Topic);
                w.WriteString("topic_id", c.TopicId);
                w.WriteNumber("partition", c.Partition);
                w.WriteNumber("leader_epoch", c.LeaderEpoch);
                w.WriteNumber("first_offset", c.FirstOffset);
                w.WriteNumber("last_offset", c.LastOffset);
                w.WriteNumber("records", c.RecordCount);
                w.WriteNumber("position", c.Position);
                w.WriteNumber("length", c.Length);
                w.WriteString("crc", c.Crc32C.ToString("x8", CultureInfo.InvariantCulture));
                w.WriteBoolean("crc_ok", crcOk[i]);
                w.WriteNumber("max_timestamp", c.MaxTimestamp);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            if (problem is not null) w.WriteString("problem", problem);
            w.WriteEndObject();
            w.Flush();
            stdout.Write("\n"u8);
        }
        else
        {
            var text = new StringBuilder();
            text.Append(CultureInfo.InvariantCulture, $"key         {key}\n");
            text.Append(CultureInfo.InvariantCulture, $"broker      {brokerId}\n");
            text.Append(CultureInfo.InvariantCulture, $"created     {SegmentsCommand.Time(created)}\n");
            text.Append(CultureInfo.InvariantCulture, $"sequence    {sequence}\n");
            text.Append(CultureInfo.InvariantCulture, $"size_bytes  {data.Length}\n");
            text.Append(CultureInfo.InvariantCulture, $"chunks      {(footer is null ? "-" : N(footer.Chunks.Count))}\n");
            if (crcOk.Length > 0)
            {
                text.Append('\n');
                var table = new AlignedTable("TOPIC", "PARTITION", "EPOCH", "FIRST_OFFSET", "LAST_OFFSET", "RECORDS", "POSITION", "LENGTH", "MAX_TIMESTAMP", "CRC", "TOPIC_ID");
                for (int i = 0; i < crcOk.Length; i++)
                {
                    WalChunkInfo c = footer!.Chunks[i];
                    table.Add(c.Topic, N(c.Partition), N(c.LeaderEpoch), N(c.FirstOffset), N(c.LastOffset), N(c.RecordCount), N(c.Position), N(c.Length),
                        SegmentsCommand.Time(c.MaxTimestamp), crcOk[i] ? "ok" : "BAD", c.TopicId.ToString());
                }
                table.Render(text);
            }
            if (problem is not null) text.Append("problem: ").Append(problem).Append('\n');
            await SegmentsCommand.WriteAsync(stdout, text, ct).ConfigureAwait(false);
        }

        if (problem is not null)
        {
            Console.Error.WriteLine($"kafscale admin segments wal dump: {key}: {problem}");
            return 1;
        }
        int bad = crcOk.Count(ok => !ok);
        if (bad > 0)
        {
            Console.Error.WriteLine($"kafscale admin segments wal dump: {key}: {bad} chunk(s) do not match their CRC-32C (run 'kafscale admin segments wal verify' for details)");
            return 1;
        }
        return 0;
    }

    // ---- verify ----------------------------------------------------------------------------------

    private static async Task<int> VerifyAsync(IObjectStore store, string ns, long? since, bool json, Stream stdout, CancellationToken ct)
    {
        var reports = new List<WalObjectReport>();
        await foreach (ObjectInfo o in List(store, ns, since, ct).ConfigureAwait(false))
        {
            // One whole object at a time: memory stays bounded by the largest one.
            byte[]? data = await store.GetAsync(o.Key, ct).ConfigureAwait(false);
            if (data is null) continue; // deleted since the listing
            reports.Add(WalVerifier.Inspect(o.Key, data));
        }
        List<WalFault> faults = [.. reports.SelectMany(r => r.Faults)];
        int chunks = reports.Sum(r => r.Footer?.Chunks.Count ?? 0);
        long records = reports.Sum(r => r.Footer?.Chunks.Sum(c => (long)c.RecordCount) ?? 0);

        if (json)
        {
            using var w = new Utf8JsonWriter(stdout, new JsonWriterOptions { Indented = true });
            w.WriteStartObject();
            w.WriteString("namespace", ns);
            w.WriteBoolean("ok", faults.Count == 0);
            w.WriteNumber("objects_checked", reports.Count);
            w.WriteNumber("chunks", chunks);
            w.WriteNumber("records", records);
            w.WriteStartArray("objects");
            foreach (WalObjectReport r in reports)
            {
                w.WriteStartObject();
                w.WriteString("key", r.Key);
                w.WriteNumber("size_bytes", r.Size);
                WriteNullable(w, "chunks", r.Footer?.Chunks.Count);
                WriteNullable(w, "records", r.Footer?.Chunks.Sum(c => (long)c.RecordCount));
                w.WriteBoolean("ok", r.IsClean);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("faults");
            foreach (WalFault f in faults)
            {
                w.WriteStartObject();
                w.WriteString("key", f.Key);
                w.WriteString("check", f.Check);
                WriteNullable(w, "chunk", f.Chunk);
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
            if (reports.Count > 0)
            {
                var table = new AlignedTable("CREATED", "BROKER", "CHUNKS", "RECORDS", "SIZE_BYTES", "STATUS", "KEY");
                foreach (WalObjectReport r in reports)
                {
                    bool parsed = WalKeys.TryParse(r.Key, out long created, out _, out int broker);
                    table.Add(parsed ? SegmentsCommand.Time(created) : "-", parsed ? N(broker) : "-", N(r.Footer?.Chunks.Count), N(r.Footer?.Chunks.Sum(c => (long)c.RecordCount)),
                        N(r.Size), r.IsClean ? "ok" : $"{r.Faults.Count} fault(s)", r.Key);
                }
                table.Render(text);
            }
            if (faults.Count > 0)
            {
                text.Append('\n');
                var table = new AlignedTable("CHECK", "CHUNK", "POSITION", "OBJECT", "PROBLEM");
                foreach (WalFault f in faults)
                    table.Add(f.Check, N(f.Chunk), N(f.Position), f.Key, f.Message);
                table.Render(text);
            }
            if (reports.Count == 0)
                text.Append(CultureInfo.InvariantCulture, $"wal: no WAL objects under {WalKeys.Prefix(ns)}\n");
            else if (faults.Count == 0)
                text.Append(CultureInfo.InvariantCulture, $"wal: ok ({reports.Count} objects, {chunks} chunks, {records} records verified)\n");
            else
                text.Append(CultureInfo.InvariantCulture, $"wal: {faults.Count} fault(s) in {reports.Count(r => !r.IsClean)} of {reports.Count} objects\n");
            await SegmentsCommand.WriteAsync(stdout, text, ct).ConfigureAwait(false);
        }
        if (faults.Count > 0)
            Console.Error.WriteLine($"kafscale admin segments wal verify: {faults.Count} fault(s); first: {faults[0].Key}: {faults[0].Check}: {faults[0].Message}");
        return faults.Count == 0 ? 0 : 1;
    }

    // ---- formatting ------------------------------------------------------------------------------

    private static string N(long v) => v.ToString(CultureInfo.InvariantCulture);
    private static string N(long? v) => v is long x ? x.ToString(CultureInfo.InvariantCulture) : "-";

    private static void WriteNullable(Utf8JsonWriter w, string name, long? value)
    {
        if (value is long v) w.WriteNumber(name, v);
        else w.WriteNull(name);
    }
}
