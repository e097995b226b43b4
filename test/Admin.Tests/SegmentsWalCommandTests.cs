using System.Buffers.Binary;
using System.Globalization;
using System.Text.Json;
using KafScale.Common;
using KafScale.Records;
using KafScale.Storage;
using KafScale.Storage.Wal;
using KafScale.TestSupport;

namespace KafScale.Admin.Tests;

/// <summary>
/// <c>kafscale admin segments wal list | dump | verify</c> on WAL objects written with the
/// production WalObjectBuilder into a directory object store, run as the built binary.
/// </summary>
public sealed class SegmentsWalCommandTests : IDisposable
{
    private static readonly Guid OrdersId = Guid.Parse("00112233-4455-6677-8899-aabbccddeeff");
    private static readonly Guid PaymentsId = Guid.Parse("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");

    private readonly string _objects = Directory.CreateTempSubdirectory("kafscale-walcli-").FullName;

    /// <summary>The three objects written: key, broker, created, chunks, records.</summary>
    private readonly List<(string Key, int Broker, long Created, int Chunks, long Records)> _written = [];

    public void Dispose() => Directory.Delete(_objects, recursive: true);

    private static byte[] Batch(long baseOffset, int records)
    {
        using var b = new RecordBatchBuilder { BaseOffset = baseOffset };
        for (int i = 0; i < records; i++)
            b.Add(null, System.Text.Encoding.UTF8.GetBytes($"value-{baseOffset + i}"), 1_765_000_000_000 + baseOffset + i);
        return b.Build();
    }

    private async Task WriteObjectsAsync()
    {
        await using var store = new LocalDirectoryObjectStore(_objects);
        async Task Write(int broker, long created, long sequence, params (Guid Id, string Topic, int Partition, int Epoch, long First, int[] Batches)[] chunks)
        {
            var builder = new WalObjectBuilder(broker, created, sequence);
            long records = 0;
            foreach ((Guid id, string topic, int partition, int epoch, long first, int[] sizes) in chunks)
            {
                var batches = new List<ReadOnlyMemory<byte>>();
                long next = first;
                foreach (int n in sizes)
                {
                    batches.Add(Batch(next, n));
                    next += n;
                    records += n;
                }
                builder.AddChunk(id, topic, partition, epoch, batches);
            }
            string key = WalKeys.Key("default", created, sequence, broker);
            await store.PutAsync(key, builder.Build().Bytes, CancellationToken.None);
            _written.Add((key, broker, created, chunks.Length, records));
        }
        await Write(1, 1_765_000_000_000, 0, (OrdersId, "orders", 0, 3, 0, [2, 3]), (PaymentsId, "payments", 2, 4, 10, [1]));
        await Write(1, 1_765_000_001_000, 1, (OrdersId, "orders", 0, 3, 5, [4]), (OrdersId, "orders", 1, 3, 0, [2]), (PaymentsId, "payments", 2, 4, 11, [3]));
        await Write(2, 1_765_000_002_000, 0, (OrdersId, "orders", 0, 4, 9, [1, 1, 1]));
        // A segment in the same namespace: not a WAL object.
        await store.PutAsync(SegmentKeys.Segment("default", "orders", 0, 0), new byte[] { 1, 2, 3 }, CancellationToken.None);
    }

    private string[] Args(string verb, params string[] more) =>
        ["admin", "segments", "wal", verb, "--objects-dir", _objects, "--data-dir", _objects, .. more];

    private string Path(string key) => System.IO.Path.Combine(_objects, key);

    private static string Ms(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);

    private static async Task<ClientResult> OkAsync(string[] args)
    {
        ClientResult r = await AdminCli.RunAsync(args);
        r.EnsureSuccess();
        return r;
    }

    [Fact]
    public async Task List_shows_every_object_in_key_order_with_broker_time_size_and_chunks()
    {
        await WriteObjectsAsync();
        JsonElement json = AdminCli.Parse(await OkAsync(Args("list", "--output", "json")));
        var objects = json.GetProperty("wal_objects").EnumerateArray().ToList();
        Assert.Equal(_written.Select(w => w.Key), objects.Select(o => o.GetProperty("key").GetString()));
        for (int i = 0; i < objects.Count; i++)
        {
            Assert.Equal(_written[i].Broker, objects[i].GetProperty("broker_id").GetInt32());
            Assert.Equal(_written[i].Created, objects[i].GetProperty("created_ms").GetInt64());
            Assert.Equal(Ms(_written[i].Created), objects[i].GetProperty("created").GetString());
            Assert.Equal(_written[i].Chunks, objects[i].GetProperty("chunks").GetInt32());
            Assert.Equal(_written[i].Records, objects[i].GetProperty("records").GetInt64());
            Assert.Equal(new FileInfo(Path(_written[i].Key)).Length, objects[i].GetProperty("size_bytes").GetInt64());
            Assert.False(objects[i].TryGetProperty("problem", out _));
        }
        Assert.Equal(6, json.GetProperty("total_chunks").GetInt32());

        string text = (await OkAsync(Args("list"))).Stdout;
        // The table's rows, then the summary line.
        List<string[]> rows = [.. AdminCli.Table(text, "CREATED").Where(r => r[^1].StartsWith("default/!wal/", StringComparison.Ordinal))];
        Assert.Equal(3, rows.Count);
        Assert.Equal([Ms(_written[1].Created), "1", "1"], rows[1][..3]);
        Assert.Equal(_written[1].Key, rows[1][^1]);
        Assert.Contains($"3 WAL objects, 6 chunks, {_written.Sum(w => w.Records)} records", text);

        // --since lists from that millisecond on.
        JsonElement since = AdminCli.Parse(await OkAsync(Args("list", "--output", "json", "--since", Ms(_written[1].Created))));
        Assert.Equal(_written.Skip(1).Select(w => w.Key), since.GetProperty("wal_objects").EnumerateArray().Select(o => o.GetProperty("key").GetString()));
    }

    [Fact]
    public async Task Dump_prints_the_header_and_one_line_per_chunk()
    {
        await WriteObjectsAsync();
        string key = _written[1].Key;
        JsonElement json = AdminCli.Parse(await OkAsync(Args("dump", key, "--output", "json")));
        Assert.Equal(1, json.GetProperty("broker_id").GetInt32());
        Assert.Equal(1, json.GetProperty("sequence").GetInt64());
        Assert.Equal(_written[1].Created, json.GetProperty("created_ms").GetInt64());
        var chunks = json.GetProperty("chunks").EnumerateArray().ToList();
        Assert.Equal(["orders", "orders", "payments"], chunks.Select(c => c.GetProperty("topic").GetString()));
        Assert.Equal([0, 1, 2], chunks.Select(c => c.GetProperty("partition").GetInt32()));
        Assert.Equal([(5L, 8L), (0L, 1L), (11L, 13L)], chunks.Select(c => (c.GetProperty("first_offset").GetInt64(), c.GetProperty("last_offset").GetInt64())));
        Assert.Equal(PaymentsId, chunks[2].GetProperty("topic_id").GetGuid());
        Assert.Equal(4, chunks[2].GetProperty("leader_epoch").GetInt32());
        Assert.All(chunks, c => Assert.True(c.GetProperty("crc_ok").GetBoolean()));

        // By file name, in text.
        string text = (await OkAsync(Args("dump", key[(key.LastIndexOf('/') + 1)..]))).Stdout;
        Assert.Equal(key, AdminCli.Field(text, "key"));
        Assert.Equal("3", AdminCli.Field(text, "chunks"));
        List<string[]> rows = AdminCli.Table(text, "TOPIC");
        Assert.Equal(3, rows.Count);
        Assert.Equal(["payments", "2", "4", "11", "13", "3"], rows[2][..6]);
        Assert.All(rows, r => Assert.Equal("ok", r[^2]));
    }

    [Fact]
    public async Task Verify_passes_clean_objects_and_names_each_kind_of_damage()
    {
        await WriteObjectsAsync();
        ClientResult clean = await OkAsync(Args("verify"));
        Assert.Contains($"wal: ok (3 objects, 6 chunks, {_written.Sum(w => w.Records)} records verified)", clean.Stdout);
        JsonElement cleanJson = AdminCli.Parse(await OkAsync(Args("verify", "--output", "json")));
        Assert.True(cleanJson.GetProperty("ok").GetBoolean());
        Assert.Equal(3, cleanJson.GetProperty("objects_checked").GetInt32());

        // Object 0: a byte inside chunk 1 flipped (its CRC fails). Object 1: a batch CRC broken
        // with the chunk and footer CRCs recomputed (only the batch check sees it). Object 2: cut.
        byte[] first = File.ReadAllBytes(Path(_written[0].Key));
        WalFooter footer0 = WalReader.Open(first);
        first[footer0.Chunks[1].Position + 70] ^= 0x01;
        File.WriteAllBytes(Path(_written[0].Key), first);

        byte[] second = File.ReadAllBytes(Path(_written[1].Key));
        WalFooter footer1 = WalReader.Open(second);
        WalChunkInfo c0 = footer1.Chunks[0];
        second[c0.Position + RecordBatch.RecordsOffset + 2] ^= 0x01;
        uint chunkCrc = Crc32C.Compute(second.AsSpan((int)c0.Position, c0.Length));
        int footerLength = (int)BinaryPrimitives.ReadUInt32BigEndian(second.AsSpan(second.Length - 12));
        int footerStart = second.Length - 12 - footerLength;
        // Entry 0's CRC field: after the 16-byte id, the 2+6-byte name and 36 bytes of fields.
        BinaryPrimitives.WriteUInt32BigEndian(second.AsSpan(footerStart + 16 + 2 + 6 + 36), chunkCrc);
        BinaryPrimitives.WriteUInt32BigEndian(second.AsSpan(second.Length - 8), Crc32C.Compute(second.AsSpan(footerStart, footerLength)));
        File.WriteAllBytes(Path(_written[1].Key), second);

        byte[] third = File.ReadAllBytes(Path(_written[2].Key));
        File.WriteAllBytes(Path(_written[2].Key), third[..^5]);

        ClientResult failed = await AdminCli.RunAsync(Args("verify", "--output", "json"));
        Assert.Equal(1, failed.ExitCode);
        Assert.Single(failed.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        JsonElement json = AdminCli.Parse(failed);
        Assert.False(json.GetProperty("ok").GetBoolean());
        var faults = json.GetProperty("faults").EnumerateArray()
            .Select(f => (Key: f.GetProperty("key").GetString(), Check: f.GetProperty("check").GetString(), Chunk: f.GetProperty("chunk").ValueKind == JsonValueKind.Number ? f.GetProperty("chunk").GetInt32() : -1))
            .ToList();
        Assert.Contains((_written[0].Key, "crc", 1), faults);
        Assert.Contains((_written[1].Key, "batches", 0), faults);
        Assert.DoesNotContain(faults, f => f.Key == _written[1].Key && f.Check == "crc");
        Assert.Contains((_written[2].Key, "trailer", -1), faults);
        Assert.Equal(3, json.GetProperty("objects").EnumerateArray().Count(o => !o.GetProperty("ok").GetBoolean()));

        ClientResult text = await AdminCli.RunAsync(Args("verify"));
        Assert.Equal(1, text.ExitCode);
        Assert.Contains("in 3 of 3 objects", text.Stdout);
        Assert.Contains("WEND", text.Stdout);

        // dump says which chunk is bad and exits 1; list still lists, naming the cut object.
        ClientResult dump = await AdminCli.RunAsync(Args("dump", _written[0].Key));
        Assert.Equal(1, dump.ExitCode);
        Assert.Equal(["ok", "BAD"], AdminCli.Table(dump.Stdout, "TOPIC").Select(r => r[^2]));
        ClientResult cut = await AdminCli.RunAsync(Args("dump", _written[2].Key));
        Assert.Equal(1, cut.ExitCode);
        Assert.Contains("problem: ", cut.Stdout);
        JsonElement list = AdminCli.Parse(await OkAsync(Args("list", "--output", "json")));
        Assert.Contains("WEND", list.GetProperty("wal_objects")[2].GetProperty("problem").GetString());
    }

    [Fact]
    public async Task Bad_arguments_get_one_line_and_exit_two()
    {
        ClientResult key = await AdminCli.RunAsync(Args("dump", "default/orders/0/segment-00000000000000000000.kfs"));
        Assert.Equal(2, key.ExitCode);
        Assert.Contains("KEY", key.Stderr);
        Assert.Single(key.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        ClientResult since = await AdminCli.RunAsync(Args("list", "--since", "yesterday"));
        Assert.Equal(2, since.ExitCode);
        Assert.Contains("--since", since.Stderr);
        ClientResult missing = await AdminCli.RunAsync(Args("dump", "00000001765000000000-00000000000000000000-0000000009.wal"));
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("no object", missing.Stderr);
        ClientResult empty = await OkAsync(Args("verify"));
        Assert.Contains("wal: no WAL objects under default/!wal/", empty.Stdout);
    }
}
