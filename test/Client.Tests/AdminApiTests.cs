using System.Text;
using KafScale.Protocol;

namespace KafScale.Client.Tests;

/// <summary>The client's admin calls (configs, groups, committed offsets) against the real broker.</summary>
public sealed class AdminApiTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private static string Name(string prefix) => $"{prefix}-{Guid.NewGuid().ToString("N")[..10]}";

    [Fact]
    public async Task Topic_configs_are_described_set_and_returned_to_their_defaults()
    {
        await using KafkaClient client = await KafkaClient.ConnectAsync(fixture.Broker.Bootstrap);
        string topic = Name("cfg");
        await client.CreateTopicsAsync([new NewTopic(topic, 1) { Configs = new Dictionary<string, string?> { ["retention.ms"] = "3600000" } }]);

        ConfigEntry retention = (await client.DescribeTopicConfigsAsync(topic)).Single(c => c.Name == "retention.ms");
        Assert.Equal(("3600000", false, "dynamic-topic"), (retention.Value, retention.IsDefault, retention.Source));

        await client.AlterTopicConfigsAsync(topic, [new ConfigChange("retention.ms", null), new ConfigChange("retention.bytes", "4096")]);
        var configs = await client.DescribeTopicConfigsAsync(topic);
        Assert.True(configs.Single(c => c.Name == "retention.ms").IsDefault);
        Assert.Equal("default", configs.Single(c => c.Name == "retention.ms").Source);
        Assert.Equal("4096", configs.Single(c => c.Name == "retention.bytes").Value);

        var missing = await Assert.ThrowsAsync<KafkaException>(() => client.DescribeTopicConfigsAsync(Name("absent")));
        Assert.Equal(ErrorCode.UnknownTopicOrPartition, missing.ErrorCode);
    }

    [Fact]
    public async Task Committed_offsets_are_listed_described_and_deleted_with_the_group()
    {
        await using KafkaClient client = await KafkaClient.ConnectAsync(fixture.Broker.Bootstrap);
        string topic = Name("grp"), group = Name("g");
        await client.CreateTopicsAsync([new NewTopic(topic, 2)]);
        await client.ProduceAsync(topic, 1, [new ProducerRecord(null, Encoding.UTF8.GetBytes("x"))]);

        IReadOnlyList<CommittedOffset> before = await client.FetchCommittedOffsetsAsync(group, new Dictionary<string, IReadOnlyList<int>> { [topic] = [0, 1] });
        Assert.All(before, o => Assert.Equal(-1, o.Offset));
        await client.CommitOffsetsAsync(group, [new CommittedOffset(topic, 0, 0, "m0"), new CommittedOffset(topic, 1, 1, null)]);

        IReadOnlyList<CommittedOffset> all = await client.FetchCommittedOffsetsAsync(group);
        Assert.Equal([(topic, 0, 0L, "m0"), (topic, 1, 1L, "")], all.Select(o => (o.Topic, o.Partition, o.Offset, o.Metadata ?? "")));

        GroupListing listed = (await client.ListGroupsAsync()).Single(g => g.GroupId == group);
        Assert.Equal("Empty", listed.State);
        GroupDescription described = await client.DescribeGroupAsync(group);
        Assert.Equal(("Empty", 0), (described.State, described.Members.Count));
        Assert.Equal(described.CoordinatorId, await client.FindCoordinatorAsync(group));

        await client.DeleteGroupAsync(group);
        Assert.DoesNotContain(await client.ListGroupsAsync(), g => g.GroupId == group);
        var gone = await Assert.ThrowsAsync<KafkaException>(() => client.DeleteGroupAsync(group));
        Assert.Equal(ErrorCode.GroupIdNotFound, gone.ErrorCode);
    }

    [Fact]
    public void Consumer_assignments_decode_and_garbage_decodes_to_nothing()
    {
        // ConsumerProtocolAssignment v0: int16 version, [topic string, [int32 partition]], user data bytes.
        byte[] bytes =
        [
            0, 0, // version
            0, 0, 0, 1, // one topic
            0, 1, (byte)'t', // "t"
            0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 1, // partitions 3, 1
            255, 255, 255, 255, // null user data
        ];
        Assert.Equal([("t", 1), ("t", 3)], KafkaClient.DecodeAssignment(bytes));
        Assert.Empty(KafkaClient.DecodeAssignment([0, 0, 0, 0, 0, 9]));
        Assert.Empty(KafkaClient.DecodeAssignment(null));
    }
}
