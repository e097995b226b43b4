using System.Globalization;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Tests.Handlers;

/// <summary>
/// ElectLeaders, AlterPartitionReassignments and ListPartitionReassignments on a broker whose
/// partitions each have one replica, the lease holder: what Kafka answers where nothing needs doing.
/// </summary>
public sealed class LeadershipAdminHandlerTests(HandlerHarness broker) : IClassFixture<HandlerHarness>
{
    private static ElectLeadersRequest Elect(sbyte type, string? topic, params int[] partitions) => new()
    {
        ElectionType = type,
        TimeoutMs = 10_000,
        TopicPartitions = topic is null ? null : [new ElectLeadersRequest.TopicPartitionsData { Topic = topic, Partitions = [.. partitions] }],
    };

    private static AlterPartitionReassignmentsRequest Reassign(string topic, int partition, List<int>? replicas) => new()
    {
        TimeoutMs = 10_000,
        Topics =
        [
            new AlterPartitionReassignmentsRequest.ReassignableTopic
            {
                Name = topic,
                Partitions = [new AlterPartitionReassignmentsRequest.ReassignablePartition { PartitionIndex = partition, Replicas = replicas }],
            },
        ],
    };

    [Fact]
    public async Task ApiVersions_advertises_the_three_apis_in_the_versions_the_codec_has()
    {
        var response = await broker.SendAsync<ApiVersionsResponse>(new ApiVersionsRequest { ClientSoftwareName = "t", ClientSoftwareVersion = "1" }, 3);
        Assert.Contains(response.ApiKeys, k => k.ApiKey == ElectLeadersRequest.ApiKey && k.MinVersion == 0 && k.MaxVersion == 2);
        Assert.Contains(response.ApiKeys, k => k.ApiKey == AlterPartitionReassignmentsRequest.ApiKey && k.MinVersion == 0 && k.MaxVersion == 0);
        Assert.Contains(response.ApiKeys, k => k.ApiKey == ListPartitionReassignmentsRequest.ApiKey && k.MinVersion == 0 && k.MaxVersion == 0);
    }

    [Theory]
    [InlineData((sbyte)0)]
    [InlineData((sbyte)1)]
    public async Task Electing_a_leader_of_a_led_partition_is_ELECTION_NOT_NEEDED_for_both_election_types(sbyte type)
    {
        string name = await broker.CreateTopicAsync("el-n", partitions: 2);
        var response = await broker.SendAsync<ElectLeadersResponse>(Elect(type, name, 0, 1), 2);
        Assert.Equal(ErrorCodes.None, response.ErrorCode);
        var result = Assert.Single(response.ReplicaElectionResults);
        Assert.Equal(name, result.Topic);
        Assert.Equal([0, 1], result.PartitionResult.Select(p => p.PartitionId));
        Assert.All(result.PartitionResult, p =>
        {
            Assert.Equal(ErrorCodes.ElectionNotNeeded, p.ErrorCode);
            Assert.Contains($"broker {broker.BrokerId}", p.ErrorMessage, StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task Version_0_elects_the_preferred_leader_and_answers_in_the_v0_layout()
    {
        string name = await broker.CreateTopicAsync("el-0");
        var response = await broker.SendAsync<ElectLeadersResponse>(Elect(0, name, 0), 0);
        Assert.Equal(ErrorCodes.ElectionNotNeeded, response.ReplicaElectionResults.Single().PartitionResult.Single().ErrorCode);
    }

    [Fact]
    public async Task Electing_for_an_unknown_topic_or_partition_is_UNKNOWN_TOPIC_OR_PARTITION()
    {
        string name = await broker.CreateTopicAsync("el-u");
        var unknownPartition = await broker.SendAsync<ElectLeadersResponse>(Elect(0, name, 5), 2);
        var unknownTopic = await broker.SendAsync<ElectLeadersResponse>(Elect(0, HandlerHarness.Unique("el-x"), 0), 2);
        Assert.Equal(ErrorCodes.UnknownTopicOrPartition, unknownPartition.ReplicaElectionResults.Single().PartitionResult.Single().ErrorCode);
        Assert.Equal(ErrorCodes.UnknownTopicOrPartition, unknownTopic.ReplicaElectionResults.Single().PartitionResult.Single().ErrorCode);
    }

    [Fact]
    public async Task Electing_for_every_partition_lists_each_topic_but_leaves_out_partitions_that_need_nothing()
    {
        string name = await broker.CreateTopicAsync("el-a", partitions: 3);
        var response = await broker.SendAsync<ElectLeadersResponse>(Elect(0, null), 2);
        Assert.Equal(ErrorCodes.None, response.ErrorCode);
        var result = Assert.Single(response.ReplicaElectionResults, r => r.Topic == name);
        Assert.Empty(result.PartitionResult);
    }

    [Fact]
    public async Task An_unknown_election_type_is_INVALID_REQUEST_at_the_top_and_for_every_partition()
    {
        string name = await broker.CreateTopicAsync("el-t");
        var response = await broker.SendAsync<ElectLeadersResponse>(Elect(2, name, 0), 2);
        Assert.Equal(ErrorCodes.InvalidRequest, response.ErrorCode);
        Assert.Equal(ErrorCodes.InvalidRequest, response.ReplicaElectionResults.Single().PartitionResult.Single().ErrorCode);
    }

    [Fact]
    public async Task Reassigning_a_partition_to_the_broker_holding_its_lease_is_a_successful_no_op()
    {
        string name = await broker.CreateTopicAsync("ra-s");
        var response = await broker.SendAsync<AlterPartitionReassignmentsResponse>(Reassign(name, 0, [broker.BrokerId]), 0);
        Assert.Equal(ErrorCodes.None, response.ErrorCode);
        Assert.Null(response.ErrorMessage);
        var p = response.Responses.Single().Partitions.Single();
        Assert.Equal(ErrorCodes.None, p.ErrorCode);
        Assert.Null(p.ErrorMessage);
        var listed = await broker.SendAsync<ListPartitionReassignmentsResponse>(new ListPartitionReassignmentsRequest { Topics = null }, 0);
        Assert.Empty(listed.Topics);
        await broker.WaitForLeadersAsync(name, 1);
    }

    [Theory]
    [InlineData("unknown broker")]
    [InlineData("twice")]
    [InlineData("empty")]
    public async Task A_replica_list_naming_no_broker_an_unknown_one_or_one_twice_is_INVALID_REPLICA_ASSIGNMENT(string kind)
    {
        string name = await broker.CreateTopicAsync("ra-i");
        List<int> replicas = kind switch
        {
            "unknown broker" => [broker.BrokerId + 1000],
            "twice" => [broker.BrokerId, broker.BrokerId],
            _ => [],
        };
        var response = await broker.SendAsync<AlterPartitionReassignmentsResponse>(Reassign(name, 0, replicas), 0);
        var p = response.Responses.Single().Partitions.Single();
        Assert.Equal(ErrorCodes.InvalidReplicaAssignment, p.ErrorCode);
        Assert.False(string.IsNullOrEmpty(p.ErrorMessage));
        Assert.Equal(ErrorCodes.None, response.ErrorCode);
    }

    [Fact]
    public async Task Cancelling_a_reassignment_is_NO_REASSIGNMENT_IN_PROGRESS()
    {
        string name = await broker.CreateTopicAsync("ra-c");
        var response = await broker.SendAsync<AlterPartitionReassignmentsResponse>(Reassign(name, 0, null), 0);
        Assert.Equal(ErrorCodes.NoReassignmentInProgress, response.Responses.Single().Partitions.Single().ErrorCode);
    }

    [Fact]
    public async Task Reassigning_an_unknown_topic_or_partition_is_UNKNOWN_TOPIC_OR_PARTITION()
    {
        string name = await broker.CreateTopicAsync("ra-u");
        var unknownPartition = await broker.SendAsync<AlterPartitionReassignmentsResponse>(Reassign(name, 1, [broker.BrokerId]), 0);
        var unknownTopic = await broker.SendAsync<AlterPartitionReassignmentsResponse>(Reassign(HandlerHarness.Unique("ra-x"), 0, [broker.BrokerId]), 0);
        Assert.Equal(ErrorCodes.UnknownTopicOrPartition, unknownPartition.Responses.Single().Partitions.Single().ErrorCode);
        Assert.Equal(ErrorCodes.UnknownTopicOrPartition, unknownTopic.Responses.Single().Partitions.Single().ErrorCode);
    }

    [Fact]
    public async Task Listing_reassignments_of_named_topics_known_or_not_answers_none_with_a_null_message()
    {
        string name = await broker.CreateTopicAsync("lr-n");
        var request = new ListPartitionReassignmentsRequest
        {
            TimeoutMs = 10_000,
            Topics =
            [
                new ListPartitionReassignmentsRequest.ListPartitionReassignmentsTopics { Name = name, PartitionIndexes = [0] },
                new ListPartitionReassignmentsRequest.ListPartitionReassignmentsTopics { Name = HandlerHarness.Unique("lr-x"), PartitionIndexes = [0] },
            ],
        };
        var response = await broker.SendAsync<ListPartitionReassignmentsResponse>(request, 0);
        Assert.Equal(ErrorCodes.None, response.ErrorCode);
        Assert.Null(response.ErrorMessage);
        Assert.Empty(response.Topics);
    }
}

/// <summary>CreatePartitions' checks of manual assignments, and Metadata's answer to the request that creates a topic.</summary>
public sealed class TopicAdminConformanceHandlerTests(HandlerHarness broker) : IClassFixture<HandlerHarness>
{
    private static CreatePartitionsRequest Grow(string name, int count, params List<int>[] assignments) => new()
    {
        TimeoutMs = 10_000,
        Topics =
        [
            new CreatePartitionsRequest.CreatePartitionsTopic
            {
                Name = name,
                Count = count,
                // None given is null on the wire: an empty list would be an assignment of nothing.
                Assignments = assignments.Length == 0 ? null : [.. assignments.Select(a => new CreatePartitionsRequest.CreatePartitionsAssignment { BrokerIds = a })],
            },
        ],
    };

    private async Task<int> PartitionCountAsync(string name)
    {
        var request = new MetadataRequest { Topics = [new MetadataRequest.MetadataRequestTopic { Name = name }], AllowAutoTopicCreation = false };
        return (await broker.SendAsync<MetadataResponse>(request, 12)).Topics.Single().Partitions.Count;
    }

    [Theory]
    [InlineData("unknown broker")]
    [InlineData("twice")]
    [InlineData("empty")]
    [InlineData("too few assignments")]
    [InlineData("too many assignments")]
    public async Task Bad_assignments_are_INVALID_REPLICA_ASSIGNMENT_with_a_message_and_add_no_partition(string kind)
    {
        string name = await broker.CreateTopicAsync("cpa-i");
        int self = broker.BrokerId;
        var request = kind switch
        {
            "unknown broker" => Grow(name, 3, [self], [self + 1000]),
            "twice" => Grow(name, 2, [self, self]),
            "empty" => Grow(name, 2, new List<int>()),
            "too few assignments" => Grow(name, 3, [self]),
            _ => Grow(name, 2, [self], [self]),
        };
        var result = (await broker.SendAsync<CreatePartitionsResponse>(request, 3)).Results.Single();
        Assert.Equal(ErrorCodes.InvalidReplicaAssignment, result.ErrorCode);
        Assert.False(string.IsNullOrEmpty(result.ErrorMessage));
        Assert.Equal(1, await PartitionCountAsync(name));
    }

    [Fact]
    public async Task An_assignment_to_a_live_broker_per_new_partition_grows_the_topic_with_a_null_message()
    {
        string name = await broker.CreateTopicAsync("cpa-s");
        var result = (await broker.SendAsync<CreatePartitionsResponse>(Grow(name, 3, [broker.BrokerId], [broker.BrokerId]), 3)).Results.Single();
        Assert.Equal(ErrorCodes.None, result.ErrorCode);
        Assert.Null(result.ErrorMessage);
        await broker.WaitForLeadersAsync(name, 3);
    }

    [Fact]
    public async Task A_count_that_is_no_increase_is_INVALID_PARTITIONS_before_the_assignments_are_looked_at()
    {
        string name = await broker.CreateTopicAsync("cpa-p", partitions: 2);
        var result = (await broker.SendAsync<CreatePartitionsResponse>(Grow(name, 2, [broker.BrokerId + 1000]), 3)).Results.Single();
        Assert.Equal(ErrorCodes.InvalidPartitions, result.ErrorCode);
    }

    [Fact]
    public async Task A_topic_named_twice_is_INVALID_REQUEST_for_the_second()
    {
        string name = await broker.CreateTopicAsync("cpa-d");
        var request = Grow(name, 2);
        request.Topics.Add(new CreatePartitionsRequest.CreatePartitionsTopic { Name = name, Count = 3, Assignments = null });
        var response = await broker.SendAsync<CreatePartitionsResponse>(request, 3);
        Assert.Equal([ErrorCodes.None, ErrorCodes.InvalidRequest], response.Results.Select(r => r.ErrorCode));
        await broker.WaitForLeadersAsync(name, 2);
    }

    [Theory]
    [InlineData((short)12)]
    [InlineData((short)4)]
    [InlineData((short)0)]
    public async Task The_Metadata_request_that_auto_creates_a_topic_gets_LEADER_NOT_AVAILABLE_and_the_next_one_describes_it(short version)
    {
        string name = HandlerHarness.Unique("md-c");
        var request = new MetadataRequest { Topics = [new MetadataRequest.MetadataRequestTopic { Name = name }], AllowAutoTopicCreation = true };
        var first = (await broker.SendAsync<MetadataResponse>(request, version)).Topics.Single();
        Assert.Equal(ErrorCodes.LeaderNotAvailable, first.ErrorCode);
        Assert.Equal(name, first.Name);
        Assert.Empty(first.Partitions);

        var next = (await broker.SendAsync<MetadataResponse>(request, version)).Topics.Single();
        Assert.Equal(ErrorCodes.None, next.ErrorCode);
        Assert.Equal(0, Assert.Single(next.Partitions).PartitionIndex);
    }
}

/// <summary>DescribeConfigs of topics and brokers, in the shape Kafka answers.</summary>
public sealed class DescribeConfigsConformanceHandlerTests(HandlerHarness broker) : IClassFixture<HandlerHarness>
{
    private const sbyte DynamicTopicConfig = 1, StaticBrokerConfig = 4, DefaultConfig = 5;
    private const sbyte TypeBoolean = 1, TypeString = 2, TypeInt = 3, TypeLong = 5, TypeList = 7;

    private static DescribeConfigsRequest Request(sbyte type, string name, List<string>? keys = null, bool synonyms = false, bool documentation = false) => new()
    {
        Resources = [new DescribeConfigsRequest.DescribeConfigsResource { ResourceType = type, ResourceName = name, ConfigurationKeys = keys }],
        IncludeSynonyms = synonyms,
        IncludeDocumentation = documentation,
    };

    private async Task<string> CreateTopicWithAsync(string prefix, string key, string value)
    {
        string name = HandlerHarness.Unique(prefix);
        var request = new CreateTopicsRequest { TimeoutMs = 10_000 };
        request.Topics.Add(new CreateTopicsRequest.CreatableTopic
        {
            Name = name,
            NumPartitions = 1,
            ReplicationFactor = -1,
            Configs = [new CreateTopicsRequest.CreatableTopicConfig { Name = key, Value = value }],
        });
        Assert.Equal(ErrorCodes.None, (await broker.SendAsync<CreateTopicsResponse>(request, 7)).Topics.Single().ErrorCode);
        return name;
    }

    [Fact]
    public async Task A_topic_without_requested_keys_answers_every_Kafka_topic_config_with_a_null_error_message()
    {
        string name = await broker.CreateTopicAsync("dcc-all");
        var result = (await broker.SendAsync<DescribeConfigsResponse>(Request(ConfigResources.Topic, name), 4)).Results.Single();
        Assert.Equal(ErrorCodes.None, result.ErrorCode);
        Assert.Null(result.ErrorMessage);
        string[] expected =
        [
            "cleanup.policy", "compression.type", "delete.retention.ms", "max.message.bytes", "message.timestamp.type",
            "min.insync.replicas", "retention.bytes", "retention.ms", "segment.bytes", "segment.ms", "unclean.leader.election.enable",
        ];
        Assert.All(expected, key => Assert.Contains(result.Configs, c => c.Name == key));
        Assert.True(result.Configs.Count >= 30, $"only {result.Configs.Count} topic configs");
        Assert.Equal(result.Configs.Count, result.Configs.Select(c => c.Name).Distinct().Count());
        Assert.All(result.Configs, c => Assert.Equal(DefaultConfig, c.ConfigSource));
        var minIsr = result.Configs.Single(c => c.Name == "min.insync.replicas");
        Assert.Equal("1", minIsr.Value);
        Assert.Equal(TypeInt, minIsr.ConfigType);
    }

    [Fact]
    public async Task Requested_keys_are_each_answered_with_the_override_or_the_default_and_keys_Kafka_lacks_are_left_out()
    {
        string name = await CreateTopicWithAsync("dcc-k", "retention.ms", "3600000");
        var result = (await broker.SendAsync<DescribeConfigsResponse>(
            Request(ConfigResources.Topic, name, ["compression.type", "retention.ms", "retention.ms", "not.a.kafka.config"]), 4)).Results.Single();
        Assert.Equal(["compression.type", "retention.ms"], result.Configs.Select(c => c.Name).Order(StringComparer.Ordinal));
        var compression = result.Configs.Single(c => c.Name == "compression.type");
        Assert.Equal("producer", compression.Value);
        Assert.Equal(DefaultConfig, compression.ConfigSource);
        Assert.Equal(TypeString, compression.ConfigType);
        var retention = result.Configs.Single(c => c.Name == "retention.ms");
        Assert.Equal("3600000", retention.Value);
        Assert.Equal(DynamicTopicConfig, retention.ConfigSource);
        Assert.Equal(TypeLong, retention.ConfigType);
        Assert.False(retention.ReadOnly);
    }

    [Fact]
    public async Task Synonyms_and_documentation_come_only_when_asked_for()
    {
        string name = await CreateTopicWithAsync("dcc-s", "retention.ms", "3600000");
        var plain = (await broker.SendAsync<DescribeConfigsResponse>(Request(ConfigResources.Topic, name, ["retention.ms"]), 4)).Results.Single().Configs.Single();
        Assert.Empty(plain.Synonyms);
        Assert.Null(plain.Documentation);

        var full = (await broker.SendAsync<DescribeConfigsResponse>(Request(ConfigResources.Topic, name, ["retention.ms"], synonyms: true, documentation: true), 4)).Results.Single().Configs.Single();
        Assert.False(string.IsNullOrEmpty(full.Documentation));
        Assert.Equal([("retention.ms", "3600000", DynamicTopicConfig), ("log.retention.ms", "604800000", DefaultConfig)],
            full.Synonyms.Select(s => (s.Name, s.Value, s.Source)));
    }

    [Fact]
    public async Task Version_1_carries_the_source_and_synonyms_but_not_the_type_or_documentation()
    {
        string name = await broker.CreateTopicAsync("dcc-v1");
        var entry = (await broker.SendAsync<DescribeConfigsResponse>(Request(ConfigResources.Topic, name, ["cleanup.policy"], synonyms: true, documentation: true), 1))
            .Results.Single().Configs.Single();
        Assert.Equal("delete", entry.Value);
        Assert.Equal(DefaultConfig, entry.ConfigSource);
        Assert.Equal(("log.cleanup.policy", "delete"), (entry.Synonyms.Single().Name, entry.Synonyms.Single().Value));
        Assert.Equal(0, entry.ConfigType);
        // Not on the wire before v3: the codec's default for the field.
        Assert.Equal("", entry.Documentation);
        var typed = (await broker.SendAsync<DescribeConfigsResponse>(Request(ConfigResources.Topic, name, ["cleanup.policy"]), 3)).Results.Single().Configs.Single();
        Assert.Equal(TypeList, typed.ConfigType);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_broker_by_its_id_or_by_the_empty_name_answers_its_settings_read_only(bool byId)
    {
        string resource = byId ? broker.BrokerId.ToString(CultureInfo.InvariantCulture) : "";
        var result = (await broker.SendAsync<DescribeConfigsResponse>(Request(ConfigResources.Broker, resource), 4)).Results.Single();
        Assert.Equal(ErrorCodes.None, result.ErrorCode);
        Assert.Null(result.ErrorMessage);
        Assert.Equal(resource, result.ResourceName);
        var configs = result.Configs.ToDictionary(c => c.Name);
        Assert.Equal("1", configs["num.partitions"].Value);
        Assert.Equal(DefaultConfig, configs["num.partitions"].ConfigSource);
        Assert.Equal("1", configs["default.replication.factor"].Value);
        Assert.Equal("1", configs["min.insync.replicas"].Value);
        Assert.Equal("true", configs["auto.create.topics.enable"].Value);
        Assert.Equal(TypeBoolean, configs["auto.create.topics.enable"].ConfigType);
        Assert.Equal("1048588", configs["message.max.bytes"].Value);
        Assert.Equal("604800000", configs["log.retention.ms"].Value);
        Assert.Equal(broker.BrokerId.ToString(CultureInfo.InvariantCulture), configs["node.id"].Value);
        // The harness starts its broker with --group-initial-rebalance-delay-ms 0, not the default 3000.
        Assert.Equal("0", configs["group.initial.rebalance.delay.ms"].Value);
        Assert.Equal(StaticBrokerConfig, configs["group.initial.rebalance.delay.ms"].ConfigSource);
        // The address Metadata gives clients.
        var self = (await broker.SendAsync<MetadataResponse>(new MetadataRequest { Topics = [], AllowAutoTopicCreation = false }, 12)).Brokers.Single(b => b.NodeId == broker.BrokerId);
        Assert.Equal($"PLAINTEXT://{self.Host}:{self.Port}", configs["advertised.listeners"].Value);
        Assert.All(result.Configs, c => Assert.True(c.ReadOnly, $"{c.Name} is not read-only"));
    }

    [Fact]
    public async Task A_broker_with_requested_keys_answers_only_those_it_has()
    {
        var request = Request(ConfigResources.Broker, broker.BrokerId.ToString(CultureInfo.InvariantCulture), ["num.partitions", "log.dirs.that.do.not.exist"], synonyms: true);
        var entry = (await broker.SendAsync<DescribeConfigsResponse>(request, 4)).Results.Single().Configs.Single();
        Assert.Equal("num.partitions", entry.Name);
        Assert.Equal(("num.partitions", "1", DefaultConfig), (entry.Synonyms.Single().Name, entry.Synonyms.Single().Value, entry.Synonyms.Single().Source));
    }

    [Theory]
    [InlineData("4711")]
    [InlineData("not-a-number")]
    public async Task Another_or_an_invalid_broker_id_is_INVALID_REQUEST_with_a_message(string resource)
    {
        var result = (await broker.SendAsync<DescribeConfigsResponse>(Request(ConfigResources.Broker, resource), 4)).Results.Single();
        Assert.Equal(ErrorCodes.InvalidRequest, result.ErrorCode);
        Assert.False(string.IsNullOrEmpty(result.ErrorMessage));
        Assert.Empty(result.Configs);
    }
}
