namespace KafScale.Admin.Tests;

/// <summary>In-process checks of the pieces with exact expected values.</summary>
public sealed class ParsingTests
{
    [Theory]
    // Kafka's own murmur2 test vectors (signed 32-bit results, as Java returns them); kafka-python's
    // murmur2 gives the same numbers unsigned.
    [InlineData("21", -973932308)]
    [InlineData("foobar", -790332482)]
    [InlineData("abc", 479470107)]
    [InlineData("a-little-bit-long-string", -985981536)]
    public void Murmur2_matches_kafkas_partitioner(string key, int expected)
    {
        Assert.Equal(expected, Partitioner.Murmur2(System.Text.Encoding.UTF8.GetBytes(key)));
    }

    [Theory]
    [InlineData("21", 5, 0)]
    [InlineData("foobar", 5, 1)]
    [InlineData("user1", 5, 4)]
    [InlineData("k", 5, 2)]
    public void Keyed_records_go_to_the_partition_kafka_python_computes(string key, int partitions, int expected)
    {
        Assert.Equal(expected, Partitioner.ForKey(System.Text.Encoding.UTF8.GetBytes(key), partitions));
    }

    [Theory]
    [InlineData("1714564800000", 1714564800000)]
    [InlineData("2024-05-01T12:00:00Z", 1714564800000)]
    [InlineData("2024-05-01T14:00:00+02:00", 1714564800000)]
    [InlineData("2024-05-01T12:00:00", 1714564800000)]
    [InlineData("2024-05-01T12:00:00.250Z", 1714564800250)]
    [InlineData("2024-05-01", 1714521600000)]
    public void Times_are_iso_8601_or_milliseconds(string text, long expected)
    {
        Assert.Equal(expected, AdminParsing.ParseTime(text, "--time"));
    }

    [Theory]
    [InlineData("yesterday")]
    [InlineData("-5")]
    [InlineData("")]
    public void Bad_times_name_the_flag(string text)
    {
        var error = Assert.Throws<AdminUsageException>(() => AdminParsing.ParseTime(text, "--to-datetime"));
        Assert.StartsWith($"invalid value '{text}' for --to-datetime", error.Message);
    }

    [Fact]
    public void Start_positions_parse()
    {
        Assert.IsType<StartPosition.Beginning>(StartPosition.Parse("beginning", "--from"));
        Assert.IsType<StartPosition.End>(StartPosition.Parse("end", "--from"));
        Assert.Equal(new StartPosition.AtOffset(42), StartPosition.Parse("42", "--from"));
        Assert.Equal(new StartPosition.AtTime(1714564800000), StartPosition.Parse("@2024-05-01T12:00:00Z", "--from"));
        Assert.Throws<AdminUsageException>(() => StartPosition.Parse("-1", "--from"));
    }

    [Fact]
    public void Topic_partition_lists_parse()
    {
        Assert.Equal(("orders", (IReadOnlyList<int>?)null), AdminParsing.ParseTopicPartitions("orders", "--topic"));
        var (topic, partitions) = AdminParsing.ParseTopicPartitions("orders:0,2", "--topic");
        Assert.Equal("orders", topic);
        Assert.Equal([0, 2], partitions!);
        Assert.Throws<AdminUsageException>(() => AdminParsing.ParseTopicPartitions("orders:", "--topic"));
        Assert.Throws<AdminUsageException>(() => AdminParsing.ParseTopicPartitions("orders:x", "--topic"));
    }
}
