using KafScale.Metadata;
using KafScale.Protocol;
using Microsoft.Extensions.Logging;

namespace KafScale.Groups;

/// <summary>Committed offsets: OffsetCommit, OffsetFetch, OffsetDelete.</summary>
public sealed partial class GroupCoordinator
{
    /// <summary>
    /// OffsetCommit: one error per entry of <see cref="OffsetCommitInput.Offsets"/>, in order.
    /// Offsets are durable in the metadata store before this returns. A commit with generation
    /// -1 to a group that does not exist creates it (a "simple" group, offsets only).
    /// </summary>
    public async Task<ErrorCode[]> CommitOffsetsAsync(OffsetCommitInput input, CancellationToken ct = default)
    {
        var entries = input.Offsets;
        var errors = new ErrorCode[entries.Count];
        using var link = Link(ct, out var token);
        var (group, error) = await LockGroupAsync(input.GroupId, create: input.GenerationId < 0, token).ConfigureAwait(false);
        if (group is null)
        {
            Array.Fill(errors, error != ErrorCode.None ? error : input.MissingGroupIsNotFound ? ErrorCode.GroupIdNotFound : ErrorCode.IllegalGeneration);
            return errors;
        }
        try
        {
            error = ValidateOffsetCommit(group, input);
            if (error != ErrorCode.None)
            {
                Array.Fill(errors, error);
                return errors;
            }
            if (group.Members.TryGetValue(input.MemberId, out var member)) member.DeadlineMs = NowMs() + member.SessionTimeoutMs;

            var now = UtcNow();
            var accepted = new Dictionary<TopicPartition, CommittedOffset>();
            for (int i = 0; i < entries.Count; i++)
            {
                var e = entries[i];
                string metadata = e.Metadata ?? "";
                if (metadata.Length > _options.MaxOffsetMetadataBytes)
                {
                    errors[i] = ErrorCode.OffsetMetadataTooLarge;
                    continue;
                }
                // The same partition twice in one request: the last one wins, as in Kafka.
                accepted[new TopicPartition(e.Topic, e.Partition)] = new CommittedOffset(e.Offset, e.LeaderEpoch, metadata, now);
            }
            if (accepted.Count == 0) return errors;

            var ops = new List<TxnOp>(accepted.Count);
            foreach (var (tp, offset) in accepted) ops.Add(TxnOp.Put(GroupKeys.Offset(group.GroupId, tp.Topic, tp.Partition), OffsetValue(offset)));
            var stored = await WriteAsync(ops).ConfigureAwait(false);
            if (stored != ErrorCode.None)
            {
                for (int i = 0; i < errors.Length; i++)
                    if (errors[i] == ErrorCode.None) errors[i] = stored;
                return errors;
            }
            foreach (var (tp, offset) in accepted) group.Offsets[tp] = offset;
            return errors;
        }
        finally
        {
            RemoveIfUnused(group);
            group.Gate.Release();
        }
    }

    /// <summary>Who may commit (Kafka 4.0's rules for classic groups).</summary>
    private static ErrorCode ValidateOffsetCommit(ClassicGroup group, OffsetCommitInput input)
    {
        // Generation -1: the admin client, or a consumer assigning partitions itself. Allowed
        // while nobody is a member.
        if (input.GenerationId < 0 && group.State == GroupState.Empty) return ErrorCode.None;
        if (input.GenerationId >= 0 || input.MemberId.Length > 0 || input.GroupInstanceId is not null)
        {
            var error = group.ValidateMember(input.MemberId, input.GroupInstanceId);
            if (error != ErrorCode.None) return error;
            if (input.GenerationId != group.GenerationId) return ErrorCode.IllegalGeneration;
        }
        else if (group.State != GroupState.Empty)
        {
            // An anonymous commit while the group has members would overwrite their progress.
            return ErrorCode.UnknownMemberId;
        }
        // The member has the new generation from its JoinGroup but not its assignment yet.
        if (group.State == GroupState.CompletingRebalance) return ErrorCode.RebalanceInProgress;
        return ErrorCode.None;
    }

    /// <summary>
    /// OffsetFetch for one group: the requested partitions (null: every partition with a
    /// commit). A partition with no commit is answered with offset -1 and no error, as Kafka
    /// does; so is every partition of a group that does not exist.
    /// </summary>
    public Task<OffsetFetchResult> FetchOffsetsAsync(string groupId, IReadOnlyList<TopicPartition>? partitions, CancellationToken ct = default)
    {
        if (_unloaded) return Task.FromResult(new OffsetFetchResult(ErrorCode.NotCoordinator, []));
        // Offsets are read without the gate: a commit updates them (after its write) before it
        // answers, so a fetch never misses an acknowledged commit, and never waits behind one.
        _groups.TryGetValue(groupId, out var group);
        if (group?.State == GroupState.Dead) group = null;
        var result = new List<FetchedOffset>();
        if (partitions is null)
        {
            if (group is not null)
            {
                foreach (var (tp, o) in group.Offsets) result.Add(new FetchedOffset(tp.Topic, tp.Partition, o.Offset, o.LeaderEpoch, o.Metadata, ErrorCode.None));
                result.Sort(static (a, b) => a.Topic != b.Topic ? string.CompareOrdinal(a.Topic, b.Topic) : a.Partition.CompareTo(b.Partition));
            }
        }
        else
        {
            foreach (var tp in partitions)
            {
                if (group is not null && group.Offsets.TryGetValue(tp, out var o))
                    result.Add(new FetchedOffset(tp.Topic, tp.Partition, o.Offset, o.LeaderEpoch, o.Metadata, ErrorCode.None));
                else
                    result.Add(new FetchedOffset(tp.Topic, tp.Partition, -1, -1, "", ErrorCode.None));
            }
        }
        return Task.FromResult(new OffsetFetchResult(ErrorCode.None, result));
    }

    /// <summary>
    /// OffsetDelete (KIP-496): deletes committed offsets of an empty group, or of topics a
    /// consumer group does not subscribe to (GROUP_SUBSCRIBED_TO_TOPIC for the others). Other
    /// groups with members get NON_EMPTY_GROUP. An empty group left with no offsets is deleted.
    /// </summary>
    public async Task<OffsetDeleteResult> DeleteOffsetsAsync(string groupId, IReadOnlyList<TopicPartition> partitions, CancellationToken ct = default)
    {
        if (groupId.Length == 0) return new OffsetDeleteResult(ErrorCode.InvalidGroupId, []);
        using var link = Link(ct, out var token);
        var (group, error) = await LockGroupAsync(groupId, create: false, token).ConfigureAwait(false);
        if (group is null) return new OffsetDeleteResult(error != ErrorCode.None ? error : ErrorCode.GroupIdNotFound, []);
        try
        {
            var results = new List<PartitionResult>(partitions.Count);
            var deletable = new List<TopicPartition>();
            if (group.State == GroupState.Empty)
            {
                deletable.AddRange(partitions);
            }
            else if (group.ProtocolType == ClassicGroup.ConsumerProtocolType)
            {
                foreach (var tp in partitions)
                {
                    if (group.IsSubscribedTo(tp.Topic)) results.Add(new PartitionResult(tp, ErrorCode.GroupSubscribedToTopic));
                    else deletable.Add(tp);
                }
            }
            else
            {
                return new OffsetDeleteResult(ErrorCode.NonEmptyGroup, []);
            }

            var ops = new List<TxnOp>();
            foreach (var tp in deletable)
                if (group.Offsets.ContainsKey(tp)) ops.Add(TxnOp.Delete(GroupKeys.Offset(group.GroupId, tp.Topic, tp.Partition)));
            var stored = ops.Count == 0 ? ErrorCode.None : await WriteAsync(ops).ConfigureAwait(false);
            // A coordinator that cannot write is the group's error: clients retry that one after
            // finding the coordinator again, while partition errors are reported as final.
            if (stored is ErrorCode.CoordinatorNotAvailable or ErrorCode.NotCoordinator) return new OffsetDeleteResult(stored, []);
            foreach (var tp in deletable)
            {
                if (stored == ErrorCode.None) group.Offsets.TryRemove(tp, out _);
                results.Add(new PartitionResult(tp, stored));
            }
            if (stored == ErrorCode.None && ops.Count > 0 && group.State == GroupState.Empty && group.Offsets.IsEmpty && group.Members.Count == 0 && group.PendingMembers.Count == 0)
            {
                if (!group.HasStoredState || await DeleteStoredGroupAsync(group).ConfigureAwait(false) == ErrorCode.None)
                {
                    _log.LogInformation("group {Group} is empty and its last offsets were deleted; it is removed", group.GroupId);
                    RemoveGroup(group);
                }
            }
            return new OffsetDeleteResult(ErrorCode.None, results);
        }
        finally
        {
            group.Gate.Release();
        }
    }

    /// <summary>
    /// Forgets every group's committed offsets for deleted topics, as Kafka does when a topic
    /// is deleted (a topic created again under the name starts with no commits).
    /// </summary>
    internal async Task DeleteTopicOffsetsAsync(IReadOnlySet<string> topics, CancellationToken ct)
    {
        foreach (var candidate in _groups.Values.ToArray())
        {
            if (!candidate.Offsets.Keys.Any(tp => topics.Contains(tp.Topic))) continue;
            var (group, _) = await LockGroupAsync(candidate.GroupId, create: false, ct).ConfigureAwait(false);
            if (group is null) continue;
            try
            {
                var gone = group.Offsets.Keys.Where(tp => topics.Contains(tp.Topic)).ToList();
                var ops = gone.ConvertAll(tp => TxnOp.Delete(GroupKeys.Offset(group.GroupId, tp.Topic, tp.Partition)));
                if (ops.Count == 0 || await WriteAsync(ops).ConfigureAwait(false) != ErrorCode.None) continue;
                foreach (var tp in gone) group.Offsets.TryRemove(tp, out _);
                _log.LogInformation("group {Group}: committed offsets of {Count} partitions of deleted topics removed", group.GroupId, gone.Count);
            }
            finally
            {
                group.Gate.Release();
            }
        }
    }
}
