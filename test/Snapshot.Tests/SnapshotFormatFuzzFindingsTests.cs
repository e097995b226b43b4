using System.Text;

namespace KafScale.Snapshot.Tests;

/// <summary>Snapshot files found by fuzzing the snapshot reader (scripts/fuzz.sh snapshot).</summary>
public sealed class SnapshotFormatFuzzFindingsTests
{
    private const string Header =
        "{\"format\":\"kafscale-metadata-snapshot\",\"version\":1,\"id\":\"s\",\"created\":\"2026-01-02T03:04:05.000Z\",\"source\":\"etcd\","
        + "\"source_detail\":\"\",\"revision\":3,\"prefix\":\"/kafscale/\",\"keys\":KEYS,\"excluded_leased\":0,\"excluded_derived\":0,\"while_open\":false}";

    private static byte[] File(string header, string rest = "{\"end\":true,\"keys\":0}\n") => Encoding.UTF8.GetBytes(header + "\n" + rest);

    [Fact]
    public void The_unchanged_header_reads()
    {
        SnapshotContent content = SnapshotFormat.Read(File(Header.Replace("KEYS", "0")));
        Assert.Equal("s", content.Header.Id);
        Assert.Empty(content.Entries);
    }

    [Fact]
    public void A_negative_key_count_is_a_malformed_header()
    {
        // It used to size the entry list: ArgumentOutOfRangeException.
        var e = Assert.Throws<SnapshotFormatException>(() => SnapshotFormat.Read(File(Header.Replace("KEYS", "-1"))));
        Assert.Contains("-1 keys", e.Message);
    }

    [Fact]
    public void A_huge_key_count_does_not_size_the_entry_list()
    {
        // It used to reserve room for a million entries (16 MB) for a file of a few hundred bytes.
        byte[] file = File(Header.Replace("KEYS", "9000000000000"));
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Throws<SnapshotFormatException>(() => SnapshotFormat.Read(file));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
    }

    [Theory]
    [InlineData("\"created\":\"2026-01-02T03:04:05.000Z\"", "\"created\":null")]
    [InlineData("\"id\":\"s\"", "\"id\":null")]
    [InlineData("\"source\":\"etcd\"", "\"source\":null")]
    [InlineData("\"prefix\":\"/kafscale/\"", "\"prefix\":null")]
    [InlineData("\"created\":\"2026-01-02T03:04:05.000Z\"", "\"created\":\"yesterday\"")]
    public void A_null_or_unreadable_header_field_is_a_malformed_header(string field, string replacement)
    {
        // "created": null used to reach DateTimeOffset.Parse (ArgumentNullException); the other
        // nulls became a header whose non-nullable strings were null.
        string header = Header.Replace("KEYS", "0").Replace(field, replacement);
        Assert.Throws<SnapshotFormatException>(() => SnapshotFormat.Read(File(header)));
        Assert.Throws<SnapshotFormatException>(() => SnapshotFormat.ReadHeader(File(header)));
    }
}
