using System.Diagnostics;
using KafScale.Metadata.Embedded;

namespace KafScale.Metadata.Tests;

/// <summary>Logs found by fuzzing the embedded store's log readers (scripts/fuzz.sh metadata-log).</summary>
public class EmbeddedLogFuzzFindingsTests
{
    /// <summary>A log file: the magic, then one intact (CRC-checked) frame per revision.</summary>
    private static byte[] Log(params (long Revision, Action<ByteWriter> Ops)[] records)
    {
        var writer = new ByteWriter();
        writer.WriteRaw(LogFormat.LogMagic);
        foreach ((long revision, Action<ByteWriter> ops) in records)
        {
            int start = LogFormat.BeginFrame(writer, revision);
            ops(writer);
            LogFormat.EndFrame(writer, start);
        }
        return writer.WrittenSpan.ToArray();
    }

    private static void Put(ByteWriter w, string key) => LogFormat.WritePut(w, key, 0, [1, 2, 3]);

    [Fact]
    public async Task A_key_that_is_not_utf8_behind_a_good_checksum_is_malformed_data()
    {
        // Keys are written as UTF-8 only; 0xC3 0x28 is not UTF-8. The decoder's own exception
        // (an ArgumentException) used to escape both readers instead of their InvalidDataException.
        byte[] log = Log((2, w =>
        {
            w.WriteByte(LogFormat.PutOp);
            w.WriteBytes([0xC3, 0x28]);
            w.WriteInt64(0);
            w.WriteBytes([1]);
        }));
        using var directory = new TempDirectory();
        await File.WriteAllBytesAsync(Path.Combine(directory.Path, LogFormat.LogFileName), log);

        await Assert.ThrowsAsync<InvalidDataException>(() => EmbeddedStoreReader.ReadAsync(directory.Path, CancellationToken.None));
        await Assert.ThrowsAsync<InvalidDataException>(() => EmbeddedMetadataStore.OpenAsync(directory.Path, CancellationToken.None));
    }

    [Fact]
    public async Task A_log_that_skips_revisions_is_reported_damaged_without_twenty_retries()
    {
        // Revision 2, then 5: with the snapshot unchanged across the read no compaction explains
        // the gap. The reader used to retry 20 times (about 2 s) and then blame a compaction.
        byte[] log = Log((2, w => Put(w, "/kafscale/a")), (5, w => Put(w, "/kafscale/b")));
        using var directory = new TempDirectory();
        await File.WriteAllBytesAsync(Path.Combine(directory.Path, LogFormat.LogFileName), log);

        var watch = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => EmbeddedStoreReader.ReadAsync(directory.Path, CancellationToken.None));
        Assert.Contains("skips from revision 2", e.Message);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task A_log_without_gaps_still_reads()
    {
        byte[] log = Log((2, w => Put(w, "/kafscale/a")), (3, w => Put(w, "/kafscale/b")), (4, w => LogFormat.WriteDelete(w, "/kafscale/a")));
        using var directory = new TempDirectory();
        await File.WriteAllBytesAsync(Path.Combine(directory.Path, LogFormat.LogFileName), log);

        EmbeddedImage image = await EmbeddedStoreReader.ReadAsync(directory.Path, CancellationToken.None);
        Assert.Equal(4, image.Revision);
        Assert.Equal(["/kafscale/b"], image.Kvs.Select(kv => kv.Key));
    }
}
