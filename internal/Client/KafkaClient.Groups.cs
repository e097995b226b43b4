using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Client;

/// <summary>A group as ListGroups reports it.</summary>
public sealed record GroupListing(string GroupId, string ProtocolType, string State, int CoordinatorId);

/// <summary>A member of a group and the partitions assigned to it (decoded when the protocol type is "consumer").</summary>
public sealed record GroupMember(string MemberId, string? GroupInstanceId, string ClientId, string ClientHost,
    IReadOnlyList<(string Topic, int Partition)> Assignment);

/// <summary>A group as DescribeGroups reports it.</summary>
public sealed record GroupDescription(string GroupId, string State, string ProtocolType, string Protocol, int CoordinatorId,
    IReadOnlyList<GroupMember> Members);

/// <summary>A committed offset of a group (-1 when the group has none for the partition).</summary>
public readonly record struct CommittedOffset(string Topic, int Partition, long Offset, string? Metadata);

public sealed partial class KafkaClient
{
    /// <summary>The node id of a group's coordinator (FindCoordinator, retried while the coordinator is loading).</summary>
    public async Task<int> FindCoordinatorAsync(string group, CancellationToken cancellationToken = default)
    {
        for (int attempt = 0; ; attempt++)
        {
            KafkaConnection connection = await GetAnyConnectionAsync(cancellationToken).ConfigureAwait(false);
            short version = connection.GetVersion(FindCoordinatorRequest.ApiKey);
            var request = new FindCoordinatorRequest { Key = group, KeyType = 0 };
            if (version >= 4)
            {
                request.CoordinatorKeys.Add(group);
            }

            FindCoordinatorResponse response;
            try
            {
                response = await connection.SendAsync<FindCoordinatorResponse>(request, version, cancellationToken).ConfigureAwait(false);
            }
            catch (KafkaConnectionException) when (attempt < _options.MaxRetries)
            {
                await BackoffAsync(attempt, cancellationToken).ConfigureAwait(false);
                continue;
            }

            (short error, string? message, int node) = version >= 4 && response.Coordinators.Count > 0
                ? (response.Coordinators[0].ErrorCode, response.Coordinators[0].ErrorMessage, response.Coordinators[0].NodeId)
                : (response.ErrorCode, response.ErrorMessage, response.NodeId);
            if (error == 0)
            {
                if (!Metadata.Brokers.ContainsKey(node))
                {
                    await RefreshMetadataAsync([], cancellationToken).ConfigureAwait(false);
                }

                return node;
            }

            if (!((ErrorCode)error).IsRetriable() || attempt >= _options.MaxRetries)
            {
                throw KafkaException.FromCode(error, $"FindCoordinator '{group}'", message);
            }

            await BackoffAsync(attempt, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Sends a group request to the group's coordinator; when <paramref name="errorOf"/> reports a
    /// coordinator error (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE, COORDINATOR_LOAD_IN_PROGRESS)
    /// or the connection breaks, finds the coordinator again and retries.
    /// </summary>
    public async Task<(TResponse Response, int CoordinatorId)> SendToCoordinatorAsync<TResponse>(string group, Func<KafkaConnection, IKafkaMessage> build,
        Func<TResponse, ErrorCode> errorOf, CancellationToken cancellationToken = default)
        where TResponse : IKafkaMessage, new()
    {
        for (int attempt = 0; ; attempt++)
        {
            int coordinator = await FindCoordinatorAsync(group, cancellationToken).ConfigureAwait(false);
            try
            {
                KafkaConnection connection = await GetConnectionAsync(coordinator, cancellationToken).ConfigureAwait(false);
                IKafkaMessage request = build(connection);
                TResponse response = await connection.SendAsync<TResponse>(request, cancellationToken).ConfigureAwait(false);
                ErrorCode error = errorOf(response);
                if (error is ErrorCode.NotCoordinator or ErrorCode.CoordinatorNotAvailable or ErrorCode.CoordinatorLoadInProgress && attempt < _options.MaxRetries)
                {
                    await BackoffAsync(attempt, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                return (response, coordinator);
            }
            catch (KafkaConnectionException) when (attempt < _options.MaxRetries)
            {
                await BackoffAsync(attempt, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Every group of the cluster: ListGroups on each broker (each lists the groups it coordinates).</summary>
    public async Task<IReadOnlyList<GroupListing>> ListGroupsAsync(CancellationToken cancellationToken = default)
    {
        ClusterMetadata metadata = await RefreshMetadataAsync([], cancellationToken).ConfigureAwait(false);
        var tasks = metadata.Brokers.Keys.Select(async node =>
        {
            KafkaConnection connection = await GetConnectionAsync(node, cancellationToken).ConfigureAwait(false);
            ListGroupsResponse response = await connection.SendAsync<ListGroupsResponse>(new ListGroupsRequest(), cancellationToken).ConfigureAwait(false);
            KafkaException.ThrowIfError(response.ErrorCode, $"ListGroups on broker {node}");
            return response.Groups.Select(g => new GroupListing(g.GroupId, g.ProtocolType, g.GroupState, node));
        }).ToList();
        var all = new Dictionary<string, GroupListing>(StringComparer.Ordinal);
        foreach (var listed in await Task.WhenAll(tasks).ConfigureAwait(false))
        {
            foreach (GroupListing group in listed)
            {
                all.TryAdd(group.GroupId, group);
            }
        }

        return [.. all.Values.OrderBy(g => g.GroupId, StringComparer.Ordinal)];
    }

    /// <summary>A group's state and members (GROUP_ID_NOT_FOUND or state "Dead" when it does not exist).</summary>
    public async Task<GroupDescription> DescribeGroupAsync(string group, CancellationToken cancellationToken = default)
    {
        (DescribeGroupsResponse response, int coordinator) = await SendToCoordinatorAsync<DescribeGroupsResponse>(group,
            _ => new DescribeGroupsRequest { Groups = [group] },
            r => r.Groups.Count > 0 ? (ErrorCode)r.Groups[0].ErrorCode : ErrorCode.None, cancellationToken).ConfigureAwait(false);
        var described = response.Groups.Find(g => g.GroupId == group)
            ?? throw new KafkaException(ErrorCode.UnknownServerError, $"DescribeGroups '{group}': the response left the group out");
        KafkaException.ThrowIfError(described.ErrorCode, $"DescribeGroups '{group}'");
        var members = new List<GroupMember>(described.Members.Count);
        foreach (var m in described.Members)
        {
            IReadOnlyList<(string, int)> assignment = described.ProtocolType == "consumer" ? DecodeAssignment(m.MemberAssignment) : [];
            members.Add(new GroupMember(m.MemberId, m.GroupInstanceId, m.ClientId, m.ClientHost, assignment));
        }

        return new GroupDescription(described.GroupId, described.GroupState, described.ProtocolType, described.ProtocolData, coordinator, members);
    }

    /// <summary>The partitions of a ConsumerProtocolAssignment (int16 version, then the struct); empty when it does not parse.</summary>
    public static IReadOnlyList<(string Topic, int Partition)> DecodeAssignment(byte[]? assignment)
    {
        if (assignment is null || assignment.Length < 2)
        {
            return [];
        }

        try
        {
            var reader = new KafkaReader(assignment);
            short version = reader.ReadInt16();
            if (version < 0)
            {
                return [];
            }

            var decoded = new ConsumerProtocolAssignment();
            decoded.Read(ref reader, Math.Min(version, ConsumerProtocolAssignment.HighestSupportedVersion));
            var result = new List<(string, int)>();
            foreach (var tp in decoded.AssignedPartitions)
            {
                foreach (int p in tp.Partitions)
                {
                    result.Add((tp.Topic, p));
                }
            }

            result.Sort();
            return result;
        }
        catch (KafkaProtocolException)
        {
            return [];
        }
    }

    /// <summary>Deletes a group (NON_EMPTY_GROUP while it has members, GROUP_ID_NOT_FOUND when absent).</summary>
    public async Task DeleteGroupAsync(string group, CancellationToken cancellationToken = default)
    {
        (DeleteGroupsResponse response, _) = await SendToCoordinatorAsync<DeleteGroupsResponse>(group,
            _ => new DeleteGroupsRequest { GroupsNames = [group] },
            r => r.Results.Count > 0 ? (ErrorCode)r.Results[0].ErrorCode : ErrorCode.None, cancellationToken).ConfigureAwait(false);
        foreach (var result in response.Results)
        {
            KafkaException.ThrowIfError(result.ErrorCode, $"DeleteGroups '{result.GroupId}'");
        }
    }

    /// <summary>The group's committed offsets: for every partition it has (topics null) or for the given topics.</summary>
    public async Task<IReadOnlyList<CommittedOffset>> FetchCommittedOffsetsAsync(string group, IReadOnlyDictionary<string, IReadOnlyList<int>>? topics = null,
        CancellationToken cancellationToken = default)
    {
        (OffsetFetchResponse response, _) = await SendToCoordinatorAsync<OffsetFetchResponse>(group, connection =>
        {
            short version = connection.GetVersion(OffsetFetchRequest.ApiKey);
            if (version >= 8)
            {
                var g = new OffsetFetchRequest.OffsetFetchRequestGroup { GroupId = group, Topics = topics is null ? null : [] };
                foreach ((string name, IReadOnlyList<int> partitions) in topics ?? new Dictionary<string, IReadOnlyList<int>>())
                {
                    g.Topics!.Add(new OffsetFetchRequest.OffsetFetchRequestTopics { Name = name, PartitionIndexes = [.. partitions] });
                }

                return new OffsetFetchRequest { Groups = [g] };
            }

            var request = new OffsetFetchRequest { GroupId = group, Topics = topics is null ? null : [] };
            foreach ((string name, IReadOnlyList<int> partitions) in topics ?? new Dictionary<string, IReadOnlyList<int>>())
            {
                request.Topics!.Add(new OffsetFetchRequest.OffsetFetchRequestTopic { Name = name, PartitionIndexes = [.. partitions] });
            }

            return request;
        }, r => (ErrorCode)(r.Groups.Count > 0 ? r.Groups[0].ErrorCode : r.ErrorCode), cancellationToken).ConfigureAwait(false);

        var result = new List<CommittedOffset>();
        if (response.Groups.Count > 0)
        {
            var g = response.Groups[0];
            KafkaException.ThrowIfError(g.ErrorCode, $"OffsetFetch '{group}'");
            foreach (var t in g.Topics)
            {
                foreach (var p in t.Partitions)
                {
                    KafkaException.ThrowIfError(p.ErrorCode, $"OffsetFetch '{group}' {t.Name}-{p.PartitionIndex}");
                    result.Add(new CommittedOffset(t.Name, p.PartitionIndex, p.CommittedOffset, p.Metadata));
                }
            }
        }
        else
        {
            KafkaException.ThrowIfError(response.ErrorCode, $"OffsetFetch '{group}'");
            foreach (var t in response.Topics)
            {
                foreach (var p in t.Partitions)
                {
                    KafkaException.ThrowIfError(p.ErrorCode, $"OffsetFetch '{group}' {t.Name}-{p.PartitionIndex}");
                    result.Add(new CommittedOffset(t.Name, p.PartitionIndex, p.CommittedOffset, p.Metadata));
                }
            }
        }

        result.Sort(static (a, b) => a.Topic != b.Topic ? string.CompareOrdinal(a.Topic, b.Topic) : a.Partition.CompareTo(b.Partition));
        return result;
    }

    /// <summary>
    /// Commits offsets for a group as an admin tool does: generation -1 and no member id, which
    /// the coordinator accepts only while the group has no active members.
    /// </summary>
    public async Task CommitOffsetsAsync(string group, IReadOnlyList<CommittedOffset> offsets, CancellationToken cancellationToken = default)
    {
        (OffsetCommitResponse response, _) = await SendToCoordinatorAsync<OffsetCommitResponse>(group, _ =>
        {
            var request = new OffsetCommitRequest { GroupId = group, GenerationIdOrMemberEpoch = -1, MemberId = "" };
            foreach (var byTopic in offsets.GroupBy(o => o.Topic))
            {
                var topic = new OffsetCommitRequest.OffsetCommitRequestTopic { Name = byTopic.Key };
                foreach (CommittedOffset o in byTopic)
                {
                    topic.Partitions.Add(new OffsetCommitRequest.OffsetCommitRequestPartition { PartitionIndex = o.Partition, CommittedOffset = o.Offset, CommittedMetadata = o.Metadata ?? "" });
                }

                request.Topics.Add(topic);
            }

            return request;
        }, r => r.Topics.SelectMany(t => t.Partitions).Select(p => (ErrorCode)p.ErrorCode).FirstOrDefault(e => e != ErrorCode.None), cancellationToken).ConfigureAwait(false);
        foreach (var t in response.Topics)
        {
            foreach (var p in t.Partitions)
            {
                KafkaException.ThrowIfError(p.ErrorCode, $"OffsetCommit '{group}' {t.Name}-{p.PartitionIndex}");
            }
        }
    }
}
