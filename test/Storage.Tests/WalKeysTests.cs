using KafScale.Storage.Wal;

namespace KafScale.Storage.Tests;

public class WalKeysTests
{
    [Fact]
    public void Keys_pad_time_sequence_and_broker_under_the_namespace_wal_directory()
    {
        Assert.Equal("default/!wal/00000001700000000123-00000000000000000007-0000000001.wal", WalKeys.Key("default", 1700000000123, 7, 1));
        Assert.Equal("default/!wal/", WalKeys.Prefix("default"));
        Assert.Equal("prod/eu/!wal/09223372036854775807-09223372036854775807-2147483647.wal", WalKeys.Key("prod/eu", long.MaxValue, long.MaxValue, int.MaxValue));
        Assert.Throws<ArgumentOutOfRangeException>(() => WalKeys.Key("default", -1, 0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => WalKeys.Key("default", 0, -1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => WalKeys.Key("default", 0, 0, -1));
        Assert.Throws<ArgumentException>(() => WalKeys.Prefix(""));
    }

    [Fact]
    public void Keys_parse_back_with_their_namespace()
    {
        Assert.True(WalKeys.TryParse("prod/eu/!wal/09223372036854775807-00000000000000000003-2147483647.wal", out string ns, out long created, out long sequence, out int broker));
        Assert.Equal(("prod/eu", long.MaxValue, 3L, int.MaxValue), (ns, created, sequence, broker));
        Assert.True(WalKeys.TryParse(WalKeys.Key("d", 5, 6, 7), out created, out sequence, out broker));
        Assert.Equal((5L, 6L, 7), (created, sequence, broker));
    }

    [Theory]
    [InlineData("")]
    [InlineData("!wal/00000001700000000123-00000000000000000007-0000000001.wal")]
    [InlineData("/!wal/00000001700000000123-00000000000000000007-0000000001.wal")]
    [InlineData("default/wal/00000001700000000123-00000000000000000007-0000000001.wal")]
    [InlineData("default/!wal/00000001700000000123-00000000000000000007-0000000001.kfs")]
    [InlineData("default/!wal/0000001700000000123-00000000000000000007-0000000001.wal")]
    [InlineData("default/!wal/00000001700000000123_00000000000000000007-0000000001.wal")]
    [InlineData("default/!wal/00000001700000000123-0000000000000000000x-0000000001.wal")]
    [InlineData("default/!wal/99999999999999999999-00000000000000000007-0000000001.wal")]
    [InlineData("default/!wal/00000001700000000123-00000000000000000007-2147483648.wal")]
    [InlineData("default/!wal/x/00000001700000000123-00000000000000000007-0000000001.wal")]
    [InlineData("default/orders/0/segment-00000000000000000000.kfs")]
    public void Other_keys_do_not_parse(string key) => Assert.False(WalKeys.TryParse(key, out _, out _, out _));

    [Fact]
    public void Key_order_is_creation_order()
    {
        (long Created, long Sequence, int Broker)[] made =
            [(0, 0, 0), (0, 1, 0), (0, 1, 5), (9, 0, 0), (10, 0, 0), (1700000000123, 2, 1), (1700000000123, 10, 0), (1800000000000, 0, 0)];
        string[] keys = [.. made.Select(m => WalKeys.Key("default", m.Created, m.Sequence, m.Broker))];
        Assert.Equal(keys, keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Start_after_skips_exactly_the_keys_created_earlier()
    {
        long[] times = [0, 1, 999, 1000, 1000, 1001, 5000];
        string[] keys = [.. times.Select((t, i) => WalKeys.Key("default", t, i, 1)).Order(StringComparer.Ordinal)];
        foreach (long since in new long[] { -5, 0, 1, 2, 1000, 1001, 5000, 5001 })
        {
            string after = WalKeys.StartAfter("default", since);
            Assert.StartsWith(WalKeys.Prefix("default"), after);
            string[] listed = [.. keys.Where(k => string.CompareOrdinal(k, after) > 0)];
            string[] expected = [.. keys.Where(k => WalKeys.TryParse(k, out long c, out _, out _) && c >= since)];
            Assert.Equal(expected, listed);
        }
    }

    [Fact]
    public async Task A_store_listing_with_start_after_returns_the_newer_objects()
    {
        string dir = Directory.CreateTempSubdirectory("kafscale-walkeys-").FullName;
        try
        {
            await using var store = new LocalDirectoryObjectStore(dir);
            foreach (long t in new long[] { 100, 200, 300 })
                await store.PutAsync(WalKeys.Key("default", t, 0, 1), new byte[] { 1 }, CancellationToken.None);
            await store.PutAsync(SegmentKeys.Segment("default", "orders", 0, 0), new byte[] { 1 }, CancellationToken.None);
            var listed = new List<string>();
            await foreach (ObjectInfo o in ((IObjectStore)store).ListAsync(WalKeys.Prefix("default"), WalKeys.StartAfter("default", 200), CancellationToken.None))
                listed.Add(o.Key);
            Assert.Equal([WalKeys.Key("default", 200, 0, 1), WalKeys.Key("default", 300, 0, 1)], listed);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Segment_keys_refuse_wal_keys()
    {
        Assert.False(SegmentKeys.TryParse(WalKeys.Key("default", 1700000000123, 7, 1), out _));
        Assert.False(SegmentKeys.TryParse(WalKeys.Key("prod/eu", 1, 2, 3), out _));
    }
}
