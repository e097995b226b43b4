using System.Diagnostics;
using System.Net;
using KafScale.Broker.Network;
using KafScale.Broker.Security;
using KafScale.Broker.Tests.Handlers;
using KafScale.Protocol;
using KafScale.Protocol.Messages;
using KafScale.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafScale.Broker.Tests.Security;

/// <summary>
/// A whole broker in this process with --authorizer acl and User:admin a super user. Requests go
/// straight to its real request dispatcher with a connection context whose principal the test
/// sets, which is what an authenticating listener will do; everything behind the dispatcher is
/// the real broker.
/// </summary>
public sealed class AclHarness : IAsyncLifetime
{
    public const string Admin = "User:admin";
    private string _root = "";
    private BrokerHost? _broker;
    private int _correlation;

    public BrokerHost Broker => _broker!;

    public async Task InitializeAsync()
    {
        _root = Path.Combine(Path.GetTempPath(), "kafscale-acl-handler-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_root);
        var config = new BrokerConfig
        {
            Listen = new IPEndPoint(IPAddress.Loopback, 0),
            Http = new IPEndPoint(IPAddress.Loopback, 0),
            DataDir = Path.Combine(_root, "data"),
            ObjectsDir = Path.Combine(_root, "objects"),
            GroupInitialRebalanceDelayMs = 0,
            AclAuthorizer = true,
            SuperUsers = [Admin],
        };
        _broker = await BrokerHost.StartAsync(config, NullLoggerFactory.Instance, CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        if (_broker is not null) await _broker.DisposeAsync();
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }

    /// <summary>Sends one request as <paramref name="principal"/> connecting from 127.0.0.1 and decodes the answer.</summary>
    public async Task<TResponse> SendAsync<TResponse>(string principal, IKafkaMessage request, short version)
        where TResponse : IKafkaMessage, new()
    {
        var client = new ClientContext("127.0.0.1:50000") { Principal = principal };
        int correlation = Interlocked.Increment(ref _correlation);
        byte[] frame = RawKafkaConnection.EncodeRequest(request.ApiKey, version, correlation, request, "acl-tests");
        using var response = await Broker.Dispatcher.DispatchAsync(client, frame)
            ?? throw new InvalidOperationException("no response");
        return RawKafkaConnection.DecodeResponse<TResponse>(response.Bytes[4..].ToArray(), request.ApiKey, version, correlation);
    }

    internal Task<CreateAclsResponse> CreateAsync(string principal, params AclBinding[] acls) =>
        SendAsync<CreateAclsResponse>(principal, new CreateAclsRequest
        {
            Creations = [.. acls.Select(a => new CreateAclsRequest.AclCreation
            {
                ResourceType = (sbyte)a.ResourceType,
                ResourceName = a.ResourceName,
                ResourcePatternType = (sbyte)a.PatternType,
                Principal = a.Principal,
                Host = a.Host,
                Operation = (sbyte)a.Operation,
                PermissionType = (sbyte)a.Permission,
            })],
        }, 3);

    /// <summary>Creates ACLs as the super user and checks every creation succeeded.</summary>
    internal async Task AllowAsync(params AclBinding[] acls)
    {
        var response = await CreateAsync(Admin, acls);
        Assert.All(response.Results, r => Assert.Equal(ErrorCodes.None, r.ErrorCode));
    }

    public async Task<string> CreateTopicAsync(string prefix)
    {
        string name = HandlerHarness.Unique(prefix);
        var request = new CreateTopicsRequest { TimeoutMs = 10_000, Topics = [new CreateTopicsRequest.CreatableTopic { Name = name, NumPartitions = 1, ReplicationFactor = -1 }] };
        var response = await SendAsync<CreateTopicsResponse>(Admin, request, 7);
        Assert.Equal(ErrorCodes.None, response.Topics.Single().ErrorCode);
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var metadata = await SendAsync<MetadataResponse>(Admin, new MetadataRequest { Topics = [new() { Name = name }], AllowAutoTopicCreation = false }, 12);
            if (metadata.Topics.Single().Partitions is [{ ErrorCode: 0 }]) return name;
            if (deadline.Elapsed > TimeSpan.FromSeconds(15)) throw new TimeoutException($"no leader for {name}");
            await Task.Delay(20);
        }
    }

    public static ProduceRequest Produce(string topic) => new()
    {
        Acks = -1,
        TimeoutMs = 10_000,
        TopicData = [new ProduceRequest.TopicProduceData { Name = topic, PartitionData = [new ProduceRequest.PartitionProduceData { Index = 0, Records = Batches.Make(2) }] }],
    };

    public static FetchRequest Fetch(string topic) => new()
    {
        MaxWaitMs = 0,
        MinBytes = 0,
        MaxBytes = 1 << 20,
        Topics = [new FetchRequest.FetchTopic { Topic = topic, Partitions = [new FetchRequest.FetchPartition { Partition = 0, FetchOffset = 0, PartitionMaxBytes = 1 << 20, CurrentLeaderEpoch = -1, LastFetchedEpoch = -1 }] }],
    };
}

public sealed class AclHandlerTests(AclHarness broker) : IClassFixture<AclHarness>
{
    private const AclResourceType Topic = AclResourceType.Topic;
    private const AclResourceType Group = AclResourceType.Group;
    private static string Alice() => "User:" + HandlerHarness.Unique("alice");

    [Fact]
    public async Task Produce_without_WRITE_is_TOPIC_AUTHORIZATION_FAILED_and_with_it_appends()
    {
        string topic = await broker.CreateTopicAsync("acl-p");
        string alice = Alice();
        var denied = await broker.SendAsync<ProduceResponse>(alice, AclHarness.Produce(topic), 11);
        Assert.Equal(ErrorCodes.TopicAuthorizationFailed, denied.Responses.Single().PartitionResponses.Single().ErrorCode);
        // An unknown topic is refused the same way: the answer does not tell that it does not exist.
        var unknown = await broker.SendAsync<ProduceResponse>(alice, AclHarness.Produce(HandlerHarness.Unique("acl-none")), 11);
        Assert.Equal(ErrorCodes.TopicAuthorizationFailed, unknown.Responses.Single().PartitionResponses.Single().ErrorCode);

        await broker.AllowAsync(Acls.Allow(Topic, topic, alice, AclOperation.Write));
        var allowed = await broker.SendAsync<ProduceResponse>(alice, AclHarness.Produce(topic), 11);
        Assert.Equal((ErrorCodes.None, 0L), (allowed.Responses.Single().PartitionResponses.Single().ErrorCode, allowed.Responses.Single().PartitionResponses.Single().BaseOffset));
        // WRITE does not give READ.
        var fetch = await broker.SendAsync<FetchResponse>(alice, AclHarness.Fetch(topic), 12);
        Assert.Equal(ErrorCodes.TopicAuthorizationFailed, fetch.Responses.Single().Partitions.Single().ErrorCode);
    }

    [Fact]
    public async Task Fetch_and_ListOffsets_need_READ_and_DESCRIBE_and_a_DENY_takes_them_away()
    {
        string topic = await broker.CreateTopicAsync("acl-f");
        string alice = Alice();
        await broker.SendAsync<ProduceResponse>(AclHarness.Admin, AclHarness.Produce(topic), 11);
        var listOffsets = new ListOffsetsRequest { ReplicaId = -1, Topics = [new() { Name = topic, Partitions = [new() { PartitionIndex = 0, Timestamp = -1 }] }] };
        Assert.Equal(ErrorCodes.TopicAuthorizationFailed, (await broker.SendAsync<ListOffsetsResponse>(alice, listOffsets, 7)).Topics.Single().Partitions.Single().ErrorCode);

        await broker.AllowAsync(Acls.Allow(Topic, topic, alice, AclOperation.Read));
        var fetch = await broker.SendAsync<FetchResponse>(alice, AclHarness.Fetch(topic), 12);
        Assert.Equal(ErrorCodes.None, fetch.Responses.Single().Partitions.Single().ErrorCode);
        Assert.Equal(2, fetch.Responses.Single().Partitions.Single().HighWatermark);
        var offsets = await broker.SendAsync<ListOffsetsResponse>(alice, listOffsets, 7);
        Assert.Equal((ErrorCodes.None, 2L), (offsets.Topics.Single().Partitions.Single().ErrorCode, offsets.Topics.Single().Partitions.Single().Offset));

        await broker.AllowAsync(Acls.Deny(Topic, topic, "User:*", AclOperation.Read));
        Assert.Equal(ErrorCodes.TopicAuthorizationFailed, (await broker.SendAsync<FetchResponse>(alice, AclHarness.Fetch(topic), 12)).Responses.Single().Partitions.Single().ErrorCode);
        // The DENY names READ only, and a DENY implies nothing: the DESCRIBE that the ALLOW of READ implies stays.
        Assert.Equal(ErrorCodes.None, (await broker.SendAsync<ListOffsetsResponse>(alice, listOffsets, 7)).Topics.Single().Partitions.Single().ErrorCode);
        await broker.AllowAsync(Acls.Deny(Topic, topic, alice, AclOperation.Describe));
        Assert.Equal(ErrorCodes.TopicAuthorizationFailed, (await broker.SendAsync<ListOffsetsResponse>(alice, listOffsets, 7)).Topics.Single().Partitions.Single().ErrorCode);
    }

    /// <summary>From v15 the replica id is the ReplicaState tagged field at the very end of the request body.</summary>
    [Theory]
    [InlineData(12)]
    [InlineData(15)]
    [InlineData(17)]
    public async Task A_follower_fetch_needs_CLUSTER_ACTION_not_READ(short version)
    {
        string topic = await broker.CreateTopicAsync("acl-ff");
        string replica = Alice();
        await broker.AllowAsync(Acls.Allow(Topic, topic, replica, AclOperation.Read));
        var request = AclHarness.Fetch(topic);
        Assert.True(broker.Broker.Logs.TryGetTopic(topic, out var state));
        request.Topics[0].TopicId = state.Id;
        request.ReplicaId = 7;
        request.ReplicaState = new FetchRequest.ReplicaStateData { ReplicaId = 7, ReplicaEpoch = 3 };
        Assert.Equal(ErrorCodes.TopicAuthorizationFailed, (await broker.SendAsync<FetchResponse>(replica, request, version)).Responses.Single().Partitions.Single().ErrorCode);
        // As a consumer (replica id -1) the same principal reads with READ.
        var consumer = AclHarness.Fetch(topic);
        consumer.Topics[0].TopicId = state.Id;
        consumer.ReplicaState = new FetchRequest.ReplicaStateData { ReplicaId = -1, ReplicaEpoch = 3 };
        Assert.Equal(ErrorCodes.None, (await broker.SendAsync<FetchResponse>(replica, consumer, version)).Responses.Single().Partitions.Single().ErrorCode);
        await broker.AllowAsync(Acls.Allow(AclResourceType.Cluster, AclNames.ClusterName, replica, AclOperation.ClusterAction));
        Assert.Equal(ErrorCodes.None, (await broker.SendAsync<FetchResponse>(replica, request, version)).Responses.Single().Partitions.Single().ErrorCode);
    }

    [Fact]
    public async Task Metadata_lists_only_describable_topics_and_answers_29_for_a_named_one()
    {
        string visible = await broker.CreateTopicAsync("acl-mv");
        string hidden = await broker.CreateTopicAsync("acl-mh");
        string alice = Alice();
        await broker.AllowAsync(Acls.Allow(Topic, visible, alice, AclOperation.Write));

        var all = await broker.SendAsync<MetadataResponse>(alice, new MetadataRequest { Topics = null, IncludeTopicAuthorizedOperations = true }, 12);
        Assert.Equal([visible], all.Topics.Select(t => t.Name));
        // WRITE, and the DESCRIBE it implies: Kafka's bits 4 and 8.
        Assert.Equal((1 << 4) | (1 << 8), all.Topics.Single().TopicAuthorizedOperations);
        Assert.NotEmpty(all.Brokers);

        var named = await broker.SendAsync<MetadataResponse>(alice, new MetadataRequest { Topics = [new() { Name = hidden }, new() { Name = visible }], AllowAutoTopicCreation = false }, 12);
        Assert.Equal(ErrorCodes.TopicAuthorizationFailed, named.Topics.Single(t => t.Name == hidden).ErrorCode);
        Assert.Empty(named.Topics.Single(t => t.Name == hidden).Partitions);
        Assert.Equal(ErrorCodes.None, named.Topics.Single(t => t.Name == visible).ErrorCode);

        var admin = await broker.SendAsync<MetadataResponse>(AclHarness.Admin, new MetadataRequest { Topics = null, IncludeClusterAuthorizedOperations = true }, 10);
        Assert.Contains(hidden, admin.Topics.Select(t => t.Name));
        Assert.Equal(0b1_1111_1010_0000, admin.ClusterAuthorizedOperations);
    }

    [Fact]
    public async Task Auto_creation_needs_CREATE_on_the_cluster_or_the_topic()
    {
        string alice = Alice();
        string name = HandlerHarness.Unique("acl-auto");
        await broker.AllowAsync(Acls.Allow(Topic, name, alice, AclOperation.Describe));
        var refused = await broker.SendAsync<MetadataResponse>(alice, new MetadataRequest { Topics = [new() { Name = name }], AllowAutoTopicCreation = true }, 12);
        Assert.Equal(ErrorCodes.TopicAuthorizationFailed, refused.Topics.Single().ErrorCode);

        await broker.AllowAsync(Acls.Allow(Topic, name, alice, AclOperation.Create));
        var created = await broker.SendAsync<MetadataResponse>(alice, new MetadataRequest { Topics = [new() { Name = name }], AllowAutoTopicCreation = true }, 12);
        Assert.Equal(ErrorCodes.LeaderNotAvailable, created.Topics.Single().ErrorCode);
    }

    [Fact]
    public async Task CreateTopics_without_CREATE_is_refused_per_topic_and_CREATE_on_a_prefix_allows_exactly_those()
    {
        string alice = Alice();
        string prefix = HandlerHarness.Unique("acl-ct") + "-";
        await broker.AllowAsync(Acls.Allow(Topic, prefix, alice, AclOperation.Create, AclPatternType.Prefixed));
        var request = new CreateTopicsRequest
        {
            TimeoutMs = 10_000,
            Topics = [new() { Name = prefix + "a", NumPartitions = 1, ReplicationFactor = -1 }, new() { Name = "x" + prefix, NumPartitions = 1, ReplicationFactor = -1 }],
        };
        var response = await broker.SendAsync<CreateTopicsResponse>(alice, request, 7);
        var allowed = response.Topics.Single(t => t.Name == prefix + "a");
        Assert.Equal(ErrorCodes.None, allowed.ErrorCode);
        // Created, but its configs are withheld: alice has no DESCRIBE_CONFIGS on it.
        Assert.Equal(ErrorCodes.TopicAuthorizationFailed, allowed.TopicConfigErrorCode);
        Assert.Equal(ErrorCodes.TopicAuthorizationFailed, response.Topics.Single(t => t.Name == "x" + prefix).ErrorCode);
    }

    [Fact]
    public async Task Topic_admin_requests_need_DELETE_ALTER_and_the_config_operations()
    {
        string topic = await broker.CreateTopicAsync("acl-adm");
        string alice = Alice();
        var delete = new DeleteTopicsRequest { TimeoutMs = 10_000, TopicNames = [topic] };
        Assert.Equal(ErrorCodes.TopicAuthorizationFailed, (await broker.SendAsync<DeleteTopicsResponse>(alice, delete, 5)).Responses.Single().ErrorCode);
        var partitions = new CreatePartitionsRequest { TimeoutMs = 10_000, Topics = [new() { Name = topic, Count = 2, Assignments = null }] };
        Assert.Equal(ErrorCodes.TopicAuthorizationFailed, (await broker.SendAsync<CreatePartitionsResponse>(alice, partitions, 3)).Results.Single().ErrorCode);
        var describe = new DescribeConfigsRequest { Resources = [new() { ResourceType = 2, ResourceName = topic, ConfigurationKeys = null }, new() { ResourceType = 4, ResourceName = "", ConfigurationKeys = null }] };
        var described = await broker.SendAsync<DescribeConfigsResponse>(alice, describe, 4);
        Assert.Equal([ErrorCodes.TopicAuthorizationFailed, ErrorCodes.ClusterAuthorizationFailed], described.Results.Select(r => r.ErrorCode));
        var alter = new IncrementalAlterConfigsRequest { Resources = [new() { ResourceType = 2, ResourceName = topic, Configs = [new() { Name = "retention.ms", ConfigOperation = 0, Value = "1000" }] }] };
        Assert.Equal(ErrorCodes.TopicAuthorizationFailed, (await broker.SendAsync<IncrementalAlterConfigsResponse>(alice, alter, 1)).Responses.Single().ErrorCode);

        await broker.AllowAsync(Acls.Allow(Topic, topic, alice, AclOperation.AlterConfigs), Acls.Allow(Topic, topic, alice, AclOperation.Alter));
        Assert.Equal(ErrorCodes.None, (await broker.SendAsync<IncrementalAlterConfigsResponse>(alice, alter, 1)).Responses.Single().ErrorCode);
        // ALTER_CONFIGS implies DESCRIBE_CONFIGS.
        Assert.Equal(ErrorCodes.None, (await broker.SendAsync<DescribeConfigsResponse>(alice, describe, 4)).Results[0].ErrorCode);
        Assert.Equal(ErrorCodes.None, (await broker.SendAsync<CreatePartitionsResponse>(alice, partitions, 3)).Results.Single().ErrorCode);
    }

    [Fact]
    public async Task Group_requests_without_READ_on_the_group_are_GROUP_AUTHORIZATION_FAILED()
    {
        string alice = Alice();
        string group = HandlerHarness.Unique("acl-g");
        var join = GroupRequests.Join(group, "");
        Assert.Equal(ErrorCodes.GroupAuthorizationFailed, (await broker.SendAsync<JoinGroupResponse>(alice, join, 9)).ErrorCode);
        Assert.Equal(ErrorCodes.GroupAuthorizationFailed, (await broker.SendAsync<HeartbeatResponse>(alice, new HeartbeatRequest { GroupId = group, GenerationId = 1, MemberId = "m" }, 4)).ErrorCode);
        var find = await broker.SendAsync<FindCoordinatorResponse>(alice, new FindCoordinatorRequest { KeyType = 0, CoordinatorKeys = [group] }, 4);
        Assert.Equal(ErrorCodes.GroupAuthorizationFailed, find.Coordinators.Single().ErrorCode);
        var describe = await broker.SendAsync<DescribeGroupsResponse>(alice, new DescribeGroupsRequest { Groups = [group] }, 5);
        Assert.Equal(ErrorCodes.GroupAuthorizationFailed, describe.Groups.Single().ErrorCode);

        await broker.AllowAsync(Acls.Allow(Group, group, alice, AclOperation.Read));
        Assert.Equal(ErrorCodes.MemberIdRequired, (await broker.SendAsync<JoinGroupResponse>(alice, join, 9)).ErrorCode);
        Assert.Equal(ErrorCodes.None, (await broker.SendAsync<FindCoordinatorResponse>(alice, new FindCoordinatorRequest { KeyType = 0, CoordinatorKeys = [group] }, 4)).Coordinators.Single().ErrorCode);
        var described = await broker.SendAsync<DescribeGroupsResponse>(alice, new DescribeGroupsRequest { Groups = [group], IncludeAuthorizedOperations = true }, 5);
        Assert.Equal(ErrorCodes.None, described.Groups.Single().ErrorCode);
        Assert.Equal((1 << 3) | (1 << 8), described.Groups.Single().AuthorizedOperations);
    }

    [Fact]
    public async Task OffsetCommit_needs_READ_on_the_group_and_on_each_topic()
    {
        string topic = await broker.CreateTopicAsync("acl-oc");
        string other = await broker.CreateTopicAsync("acl-oc2");
        string alice = Alice();
        string group = HandlerHarness.Unique("acl-ocg");
        var commit = GroupRequests.Commit(group, topic, 0, 1);
        commit.Topics.Add(new OffsetCommitRequest.OffsetCommitRequestTopic { Name = other, Partitions = [new() { PartitionIndex = 0, CommittedOffset = 1, CommittedLeaderEpoch = -1, CommittedMetadata = "" }] });
        var refused = await broker.SendAsync<OffsetCommitResponse>(alice, commit, 8);
        Assert.All(refused.Topics.SelectMany(t => t.Partitions), p => Assert.Equal(ErrorCodes.GroupAuthorizationFailed, p.ErrorCode));

        await broker.AllowAsync(Acls.Allow(Group, group, alice, AclOperation.Read), Acls.Allow(Topic, topic, alice, AclOperation.Read));
        var partly = await broker.SendAsync<OffsetCommitResponse>(alice, commit, 8);
        Assert.Equal(ErrorCodes.None, partly.Topics.Single(t => t.Name == topic).Partitions.Single().ErrorCode);
        Assert.Equal(ErrorCodes.TopicAuthorizationFailed, partly.Topics.Single(t => t.Name == other).Partitions.Single().ErrorCode);

        // OffsetFetch of every partition leaves out the topic alice may not describe.
        var fetch = await broker.SendAsync<OffsetFetchResponse>(alice, new OffsetFetchRequest { Groups = [new() { GroupId = group, Topics = null }] }, 8);
        Assert.Equal([topic], fetch.Groups.Single().Topics.Select(t => t.Name));
    }

    [Fact]
    public async Task ListGroups_shows_only_groups_the_principal_may_describe()
    {
        string alice = Alice();
        string mine = HandlerHarness.Unique("acl-lg");
        string theirs = HandlerHarness.Unique("acl-lg");
        foreach (var g in new[] { mine, theirs })
            await broker.SendAsync<JoinGroupResponse>(AclHarness.Admin, GroupRequests.Join(g, ""), 3);
        await broker.AllowAsync(Acls.Allow(Group, mine, alice, AclOperation.Describe));
        var listed = await broker.SendAsync<ListGroupsResponse>(alice, new ListGroupsRequest(), 4);
        var names = listed.Groups.Select(g => g.GroupId).ToList();
        Assert.Contains(mine, names);
        Assert.DoesNotContain(theirs, names);
        var all = await broker.SendAsync<ListGroupsResponse>(AclHarness.Admin, new ListGroupsRequest(), 4);
        Assert.Contains(theirs, all.Groups.Select(g => g.GroupId));
    }

    [Fact]
    public async Task Cluster_requests_need_the_cluster_operation_Kafka_names()
    {
        string alice = Alice();
        Assert.Equal(ErrorCodes.ClusterAuthorizationFailed, (await broker.SendAsync<DescribeClusterResponse>(alice, new DescribeClusterRequest(), 1)).ErrorCode);
        var logDirs = await broker.SendAsync<DescribeLogDirsResponse>(alice, new DescribeLogDirsRequest { Topics = null }, 4);
        Assert.Equal(ErrorCodes.ClusterAuthorizationFailed, logDirs.ErrorCode);
        Assert.Empty(logDirs.Results);
        Assert.Equal(ErrorCodes.ClusterAuthorizationFailed, (await broker.SendAsync<DescribeAclsResponse>(alice, new DescribeAclsRequest { ResourceTypeFilter = 1, PatternTypeFilter = 1, Operation = 1, PermissionType = 1 }, 3)).ErrorCode);
        Assert.Equal(ErrorCodes.ClusterAuthorizationFailed, (await broker.CreateAsync(alice, Acls.Allow(Topic, "t", alice, AclOperation.Read))).Results.Single().ErrorCode);
        Assert.Equal(ErrorCodes.ClusterAuthorizationFailed, (await broker.SendAsync<DescribeClientQuotasResponse>(alice, new DescribeClientQuotasRequest(), 1)).ErrorCode);
        Assert.Equal(ErrorCodes.ClusterAuthorizationFailed, (await broker.SendAsync<InitProducerIdResponse>(alice, new InitProducerIdRequest { TransactionalId = null, TransactionTimeoutMs = 60_000, ProducerId = -1, ProducerEpoch = -1 }, 4)).ErrorCode);
        Assert.Equal(ErrorCodes.ClusterAuthorizationFailed, (await broker.SendAsync<ElectLeadersResponse>(alice, new ElectLeadersRequest { ElectionType = 0, TopicPartitions = null, TimeoutMs = 1000 }, 2)).ErrorCode);

        await broker.AllowAsync(Acls.Allow(AclResourceType.Cluster, AclNames.ClusterName, alice, AclOperation.Describe), Acls.Allow(Topic, "acl-w-", alice, AclOperation.Write, AclPatternType.Prefixed));
        var cluster = await broker.SendAsync<DescribeClusterResponse>(alice, new DescribeClusterRequest { IncludeClusterAuthorizedOperations = true }, 1);
        Assert.Equal(ErrorCodes.None, cluster.ErrorCode);
        Assert.Equal(1 << 8, cluster.ClusterAuthorizedOperations);
        Assert.Equal(ErrorCodes.None, (await broker.SendAsync<DescribeLogDirsResponse>(alice, new DescribeLogDirsRequest { Topics = null }, 4)).ErrorCode);
        // WRITE on some topic is enough for an idempotent producer's id, as in Kafka.
        Assert.Equal(ErrorCodes.None, (await broker.SendAsync<InitProducerIdResponse>(alice, new InitProducerIdRequest { TransactionalId = null, TransactionTimeoutMs = 60_000, ProducerId = -1, ProducerEpoch = -1 }, 4)).ErrorCode);
    }

    [Fact]
    public async Task SCRAM_credentials_need_ALTER_and_DESCRIBE_on_the_cluster_and_a_refused_change_writes_nothing()
    {
        string alice = Alice();
        var upsert = new AlterUserScramCredentialsRequest
        {
            Upsertions = [new AlterUserScramCredentialsRequest.ScramCredentialUpsertion { Name = "mallory", Mechanism = 1, Iterations = 4096, Salt = new byte[16], SaltedPassword = new byte[32] }],
        };
        var everyone = new DescribeUserScramCredentialsRequest { Users = null };
        Assert.Equal(ErrorCodes.ClusterAuthorizationFailed, (await broker.SendAsync<AlterUserScramCredentialsResponse>(alice, upsert, 0)).Results.Single().ErrorCode);
        Assert.Equal(ErrorCodes.ClusterAuthorizationFailed, (await broker.SendAsync<DescribeUserScramCredentialsResponse>(alice, everyone, 0)).ErrorCode);

        await broker.AllowAsync(Acls.Allow(AclResourceType.Cluster, AclNames.ClusterName, alice, AclOperation.Describe));
        var described = await broker.SendAsync<DescribeUserScramCredentialsResponse>(alice, everyone, 0);
        Assert.Equal(ErrorCodes.None, described.ErrorCode);
        Assert.Empty(described.Results);

        await broker.AllowAsync(Acls.Allow(AclResourceType.Cluster, AclNames.ClusterName, alice, AclOperation.Alter));
        Assert.Equal(ErrorCodes.None, (await broker.SendAsync<AlterUserScramCredentialsResponse>(alice, upsert, 0)).Results.Single().ErrorCode);
        Assert.Equal("mallory", (await broker.SendAsync<DescribeUserScramCredentialsResponse>(alice, everyone, 0)).Results.Single().User);
    }

    [Fact]
    public async Task Describe_and_delete_ACLs_with_Kafkas_filters()
    {
        string alice = Alice();
        string name = HandlerHarness.Unique("acl-d");
        await broker.AllowAsync(
            Acls.Allow(Topic, name, alice, AclOperation.Read),
            Acls.Allow(Topic, name[..8], alice, AclOperation.Write, AclPatternType.Prefixed),
            Acls.Deny(Group, name, alice, AclOperation.Delete, host: "10.0.0.1"));

        var byPrincipal = new DescribeAclsRequest { ResourceTypeFilter = 1, ResourceNameFilter = null, PatternTypeFilter = 1, PrincipalFilter = alice, HostFilter = null, Operation = 1, PermissionType = 1 };
        var described = await broker.SendAsync<DescribeAclsResponse>(AclHarness.Admin, byPrincipal, 3);
        Assert.Equal(ErrorCodes.None, described.ErrorCode);
        Assert.Equal(3, described.Resources.Sum(r => r.Acls.Count));
        var match = new DescribeAclsRequest { ResourceTypeFilter = 2, ResourceNameFilter = name, PatternTypeFilter = 2, PrincipalFilter = alice, HostFilter = null, Operation = 1, PermissionType = 1 };
        var matched = await broker.SendAsync<DescribeAclsResponse>(AclHarness.Admin, match, 3);
        Assert.Equal([(sbyte)AclPatternType.Literal, (sbyte)AclPatternType.Prefixed], matched.Resources.Select(r => r.PatternType).Order());

        var delete = new DeleteAclsRequest
        {
            Filters =
            [
                new() { ResourceTypeFilter = 3, ResourceNameFilter = null, PatternTypeFilter = 1, PrincipalFilter = alice, HostFilter = null, Operation = 1, PermissionType = 2 },
                new() { ResourceTypeFilter = 0, ResourceNameFilter = null, PatternTypeFilter = 1, PrincipalFilter = null, HostFilter = null, Operation = 1, PermissionType = 1 },
            ],
        };
        var deleted = await broker.SendAsync<DeleteAclsResponse>(AclHarness.Admin, delete, 3);
        var acl = deleted.FilterResults[0].MatchingAcls.Single();
        Assert.Equal((name, "10.0.0.1", (sbyte)AclOperation.Delete), (acl.ResourceName, acl.Host, acl.Operation));
        Assert.Equal(ErrorCodes.InvalidRequest, deleted.FilterResults[1].ErrorCode);
        var after = await broker.SendAsync<DescribeAclsResponse>(AclHarness.Admin, byPrincipal, 3);
        Assert.Equal(2, after.Resources.Sum(r => r.Acls.Count));
    }

    [Fact]
    public async Task Invalid_ACLs_are_refused_one_by_one_with_INVALID_REQUEST()
    {
        var response = await broker.CreateAsync(AclHarness.Admin,
            Acls.Allow(AclResourceType.Cluster, "not-the-cluster", "User:x", AclOperation.Alter),
            Acls.Allow(Topic, HandlerHarness.Unique("acl-ok"), "User:x", AclOperation.Read),
            Acls.Allow(Topic, "t", "nocolon", AclOperation.Read));
        Assert.Equal([ErrorCodes.InvalidRequest, ErrorCodes.None, ErrorCodes.InvalidRequest], response.Results.Select(r => r.ErrorCode));
        Assert.Contains("kafka-cluster", response.Results[0].ErrorMessage);
    }

    [Fact]
    public async Task Denials_are_counted_by_resource_type_and_operation()
    {
        string topic = await broker.CreateTopicAsync("acl-m");
        using var http = new HttpClient();
        string url = $"http://127.0.0.1:{broker.Broker.HttpEndPoint.Port}/metrics";
        static double Count(string metrics) => metrics.Split('\n')
            .Where(l => l.StartsWith("kafscale_authorization_denied_total{", StringComparison.Ordinal) && l.Contains("resource_type=\"TOPIC\"") && l.Contains("operation=\"WRITE\""))
            .Select(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture)).SingleOrDefault();
        double before = Count(await http.GetStringAsync(url));
        for (int i = 0; i < 3; i++) await broker.SendAsync<ProduceResponse>(Alice(), AclHarness.Produce(topic), 11);
        Assert.True(Count(await http.GetStringAsync(url)) >= before + 3);
    }
}

/// <summary>With --authorizer none (the handler harness's broker), the ACL APIs answer SECURITY_DISABLED as Kafka's do.</summary>
public sealed class AclApisWithoutAuthorizerTests(HandlerHarness broker) : IClassFixture<HandlerHarness>
{
    [Fact]
    public async Task The_ACL_APIs_are_advertised_and_answer_SECURITY_DISABLED()
    {
        var versions = await broker.SendAsync<ApiVersionsResponse>(new ApiVersionsRequest { ClientSoftwareName = "t", ClientSoftwareVersion = "1" }, 3);
        foreach (short key in new short[] { 29, 30, 31 })
            Assert.Equal(((short)1, (short)3), versions.ApiKeys.Where(k => k.ApiKey == key).Select(k => (k.MinVersion, k.MaxVersion)).Single());
        var describe = await broker.SendAsync<DescribeAclsResponse>(new DescribeAclsRequest { ResourceTypeFilter = 1, PatternTypeFilter = 1, Operation = 1, PermissionType = 1 }, 3);
        Assert.Equal(ErrorCodes.SecurityDisabled, describe.ErrorCode);
        var create = await broker.SendAsync<CreateAclsResponse>(new CreateAclsRequest { Creations = [new() { ResourceType = 2, ResourceName = "t", ResourcePatternType = 3, Principal = "User:a", Host = "*", Operation = 3, PermissionType = 3 }] }, 3);
        Assert.Equal(ErrorCodes.SecurityDisabled, create.Results.Single().ErrorCode);
        var delete = await broker.SendAsync<DeleteAclsResponse>(new DeleteAclsRequest { Filters = [new() { ResourceTypeFilter = 1, PatternTypeFilter = 1, Operation = 1, PermissionType = 1 }] }, 3);
        Assert.Equal(ErrorCodes.SecurityDisabled, delete.FilterResults.Single().ErrorCode);
    }
}
