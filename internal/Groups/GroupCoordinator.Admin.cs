using KafScale.Protocol;
using Microsoft.Extensions.Logging;

namespace KafScale.Groups;

/// <summary>Admin operations on groups: DescribeGroups and DeleteGroups (ListGroups reads <see cref="Listings"/>).</summary>
public sealed partial class GroupCoordinator
{
    public async Task<GroupDescription> DescribeGroupAsync(string groupId, CancellationToken ct = default)
    {
        using var link = Link(ct, out var token);
        var (group, error) = await LockGroupAsync(groupId, create: false, token).ConfigureAwait(false);
        if (group is null) return error == ErrorCode.None ? GroupDescription.Dead(groupId) : GroupDescription.Failed(groupId, error);
        try
        {
            bool stable = group.State == GroupState.Stable;
            string protocol = stable ? group.ProtocolName ?? "" : "";
            var members = new List<DescribedMember>(group.Members.Count);
            foreach (var m in group.Members.Values)
            {
                members.Add(new DescribedMember(m.MemberId, m.GroupInstanceId, m.ClientId, m.ClientHost,
                    stable ? m.MetadataFor(protocol) ?? [] : [],
                    stable ? m.Assignment : []));
            }
            return new GroupDescription(ErrorCode.None, group.GroupId, GroupStates.Name(group.State), group.ProtocolType ?? "", protocol, members);
        }
        finally
        {
            group.Gate.Release();
        }
    }

    /// <summary>DeleteGroups for one group: only an empty group can go, and its offsets go with it.</summary>
    public async Task<ErrorCode> DeleteGroupAsync(string groupId, CancellationToken ct = default)
    {
        using var link = Link(ct, out var token);
        var (group, error) = await LockGroupAsync(groupId, create: false, token).ConfigureAwait(false);
        if (group is null) return error != ErrorCode.None ? error : ErrorCode.GroupIdNotFound;
        try
        {
            if (group.State != GroupState.Empty) return ErrorCode.NonEmptyGroup;
            var stored = await DeleteStoredGroupAsync(group).ConfigureAwait(false);
            if (stored != ErrorCode.None) return stored;
            _log.LogInformation("group {Group} deleted with its {Count} committed offsets", group.GroupId, group.Offsets.Count);
            RemoveGroup(group);
            return ErrorCode.None;
        }
        finally
        {
            group.Gate.Release();
        }
    }
}
