namespace KafScale.Groups.Tests;

/// <summary>Groups map to shards and keys the same way on every broker.</summary>
public sealed class ShardingTests
{
    [Theory]
    [InlineData("hello", 64, 18)]          // Java: "hello".hashCode() == 99162322
    [InlineData("polygenelubricants", 64, 0)] // Java: hashCode() == Integer.MIN_VALUE
    [InlineData("", 64, 0)]
    [InlineData("a", 50, 47)]              // 97 % 50
    public void A_groups_shard_is_Javas_string_hash_made_non_negative_modulo_the_shard_count(string group, int shards, int expected) =>
        Assert.Equal(expected, GroupCoordinatorService.ShardOf(group, shards));

    [Theory]
    [InlineData("g", "orders", 0)]
    [InlineData("", "orders", 12)]
    [InlineData("team/app/offsets/x", "t.1_x-y", 3)]
    [InlineData("a/offsets/b", "c", 1)]
    public void Offset_keys_round_trip_even_for_group_ids_with_slashes(string group, string topic, int partition)
    {
        string key = GroupKeys.Offset(group, topic, partition);
        Assert.StartsWith("/kafscale/consumers/", key);
        Assert.True(GroupKeys.TryParseOffset(key, out var g, out var tp));
        Assert.Equal((group, topic, partition), (g, tp.Topic, tp.Partition));
    }

    [Theory]
    [InlineData("/kafscale/consumers/g/offsets/t/x")]
    [InlineData("/kafscale/consumers/g/offsets/t")]
    [InlineData("/kafscale/consumers/g/other/t/0")]
    [InlineData("/kafscale/topics/t/partitions/0/next_offset")]
    public void Keys_that_are_not_committed_offsets_are_not_taken_for_one(string key) =>
        Assert.False(GroupKeys.TryParseOffset(key, out _, out _));

    [Fact]
    public void State_keys_round_trip()
    {
        Assert.Equal("/kafscale/groups/my/group/state", GroupKeys.State("my/group"));
        Assert.True(GroupKeys.TryParseState("/kafscale/groups/my/group/state", out var group));
        Assert.Equal("my/group", group);
        Assert.False(GroupKeys.TryParseState("/kafscale/groups/my/group/other", out _));
    }
}
