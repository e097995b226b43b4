namespace KafScale.Groups;

/// <summary>The states of a classic group, as Kafka names them in DescribeGroups and ListGroups.</summary>
public enum GroupState
{
    /// <summary>No members; committed offsets may remain.</summary>
    Empty,
    /// <summary>A rebalance started: waiting for members to (re)join.</summary>
    PreparingRebalance,
    /// <summary>Joined: waiting for the leader's assignments in SyncGroup.</summary>
    CompletingRebalance,
    Stable,
    /// <summary>Deleted or unloaded; never handed to a request.</summary>
    Dead,
}

public static class GroupStates
{
    public static string Name(GroupState state) => state switch
    {
        GroupState.Empty => "Empty",
        GroupState.PreparingRebalance => "PreparingRebalance",
        GroupState.CompletingRebalance => "CompletingRebalance",
        GroupState.Stable => "Stable",
        _ => "Dead",
    };

    /// <summary>Parses a state name as ListGroups' states filter gives it (case-insensitive, as Kafka does).</summary>
    public static bool TryParse(string name, out GroupState state)
    {
        foreach (var s in (ReadOnlySpan<GroupState>)[GroupState.Empty, GroupState.PreparingRebalance, GroupState.CompletingRebalance, GroupState.Stable, GroupState.Dead])
        {
            if (string.Equals(Name(s), name, StringComparison.OrdinalIgnoreCase))
            {
                state = s;
                return true;
            }
        }
        state = GroupState.Dead;
        return false;
    }
}
