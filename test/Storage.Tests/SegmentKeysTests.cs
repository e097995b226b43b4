namespace KafScale.Storage.Tests;

public class SegmentKeysTests
{
    [Fact]
    public void Segment_and_index_keys_use_the_20_digit_base_offset()
    {
        Assert.Equal("default/orders/0/segment-00000000000000000000.kfs", SegmentKeys.Segment("default", "orders", 0, 0));
        Assert.Equal("default/orders/12/segment-00000000000001234567.index", SegmentKeys.Index("default", "orders", 12, 1234567));
        Assert.Equal("default/orders/12/segment-00000000000001234567.index", SegmentKeys.IndexFor("default/orders/12/segment-00000000000001234567.kfs"));
        Assert.Equal("default/orders/3/", SegmentKeys.PartitionPrefix("default", "orders", 3));
        Assert.Equal("default/orders/", SegmentKeys.TopicPrefix("default", "orders"));
    }

    [Fact]
    public void Keys_parse_back_including_namespaces_with_slashes()
    {
        Assert.True(SegmentKeys.TryParse("prod/eu/my.topic-1_x/7/segment-09223372036854775807.kfs", out SegmentKey k));
        Assert.Equal(new SegmentKey("prod/eu", "my.topic-1_x", 7, long.MaxValue, SegmentObjectKind.Segment), k);
        Assert.Equal("prod/eu/my.topic-1_x/7/segment-09223372036854775807.kfs", k.ToString());

        Assert.True(SegmentKeys.TryParse(SegmentKeys.Index("default", "t", 0, 42), out k));
        Assert.Equal(SegmentObjectKind.Index, k.Kind);
        Assert.Equal(42, k.BaseOffset);
    }

    [Theory]
    [InlineData("")]
    [InlineData("orders/0/segment-00000000000000000000.kfs")]
    [InlineData("default/orders/0/segment-0000000000000000000.kfs")]
    [InlineData("default/orders/0/segment-000000000000000000000.kfs")]
    [InlineData("default/orders/0/segment-0000000000000000000x.kfs")]
    [InlineData("default/orders/x/segment-00000000000000000000.kfs")]
    [InlineData("default/orders/01/segment-00000000000000000000.kfs")]
    [InlineData("default/orders/0/segment-00000000000000000000.log")]
    [InlineData("default/orders/0/seg-00000000000000000000.kfs")]
    [InlineData("default//0/segment-00000000000000000000.kfs")]
    [InlineData("default/orders/0/segment-99999999999999999999.kfs")]
    public void Other_keys_do_not_parse(string key)
    {
        Assert.False(SegmentKeys.TryParse(key, out _));
    }

    [Fact]
    public void Ascending_key_order_is_ascending_offset_order()
    {
        long[] offsets = [0, 9, 10, 99, 100, 123456789, 1L << 40];
        string[] keys = offsets.Select(o => SegmentKeys.Segment("default", "t", 0, o)).ToArray();
        Assert.Equal(keys, keys.OrderBy(k => k, StringComparer.Ordinal));
    }

    [Fact]
    public void Bad_parts_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => SegmentKeys.Segment("default", "a/b", 0, 0));
        Assert.Throws<ArgumentException>(() => SegmentKeys.Segment("default", "..", 0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => SegmentKeys.Segment("default", "t", -1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => SegmentKeys.Segment("default", "t", 0, -1));
    }
}
