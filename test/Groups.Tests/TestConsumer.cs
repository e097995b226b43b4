using System.Text;

namespace KafScale.Groups.Tests;

/// <summary>
/// A consumer's side of the classic protocol, run in the background like a client's
/// coordinator loop: join (with the MEMBER_ID_REQUIRED round trip), assign when leader, sync,
/// then heartbeat and rejoin whenever the coordinator says so. The leader assigns each member
/// "&lt;member id&gt;@&lt;generation&gt;".
/// </summary>
internal sealed class TestConsumer : IAsyncDisposable
{
    private readonly GroupCoordinatorService _groups;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly byte[] _metadata;
    private volatile Snapshot _state = new(-1, "", "", [], 0);

    /// <summary>What the member last settled on: its generation, id, assignment, and how many members it saw as leader.</summary>
    public sealed record Snapshot(int Generation, string MemberId, string Assignment, IReadOnlyList<string> LeaderSaw, int Rebalances);

    public TestConsumer(GroupCoordinatorService groups, string groupId, string? instanceId = null, int sessionMs = 10_000, int rebalanceMs = 10_000,
        int heartbeatMs = 30, string[]? topics = null, bool skipAssignment = false)
    {
        _groups = groups;
        GroupId = groupId;
        InstanceId = instanceId;
        SessionMs = sessionMs;
        RebalanceMs = rebalanceMs;
        HeartbeatMs = heartbeatMs;
        SupportsSkipAssignment = skipAssignment;
        _metadata = GroupsHost.Subscription(topics ?? ["orders"]);
        _loop = Task.Run(() => RunAsync(_stop.Token));
    }

    public string GroupId { get; }
    public string? InstanceId { get; }
    public int SessionMs { get; }
    public int RebalanceMs { get; }
    public int HeartbeatMs { get; }
    public bool SupportsSkipAssignment { get; }
    public Snapshot State => _state;

    /// <summary>Heartbeats answered so far (a test driving a fake clock waits for the next one before moving it again).</summary>
    public int Heartbeats => Volatile.Read(ref _heartbeats);
    private int _heartbeats;
    public ErrorCode LastError { get; private set; }

    private async Task RunAsync(CancellationToken ct)
    {
        string memberId = "";
        int rebalances = 0;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var join = await _groups.JoinGroupAsync(GroupsHost.Join(GroupId, memberId, InstanceId, SessionMs, RebalanceMs, metadata: _metadata, skipAssignment: SupportsSkipAssignment), ct).WaitAsync(ct);
                LastError = join.Error;
                if (join.Error == ErrorCode.MemberIdRequired)
                {
                    memberId = join.MemberId;
                    continue;
                }
                if (join.Error is ErrorCode.UnknownMemberId or ErrorCode.IllegalGeneration)
                {
                    memberId = "";
                    continue;
                }
                if (join.Error == ErrorCode.FencedInstanceId) return;
                if (join.Error != ErrorCode.None)
                {
                    await Task.Delay(20, ct);
                    continue;
                }
                memberId = join.MemberId;
                bool leader = join.LeaderId == memberId;
                List<MemberAssignment> assignments = leader && !join.SkipAssignment
                    ? [.. join.Members.Select(m => new MemberAssignment(m.MemberId, Encoding.UTF8.GetBytes($"{m.MemberId}@{join.GenerationId}")))]
                    : [];
                var sync = await _groups.SyncGroupAsync(new SyncGroupInput(GroupId, join.GenerationId, memberId, InstanceId, "consumer", join.ProtocolName, assignments), ct).WaitAsync(ct);
                LastError = sync.Error;
                if (sync.Error != ErrorCode.None)
                {
                    if (sync.Error is ErrorCode.UnknownMemberId or ErrorCode.IllegalGeneration) memberId = "";
                    if (sync.Error == ErrorCode.FencedInstanceId) return;
                    continue;
                }
                rebalances++;
                IReadOnlyList<string> saw = leader ? [.. join.Members.Select(m => m.MemberId)] : [];
                _state = new Snapshot(join.GenerationId, memberId, Encoding.UTF8.GetString(sync.Assignment), saw, rebalances);

                while (true)
                {
                    await Task.Delay(HeartbeatMs, ct);
                    var hb = await _groups.HeartbeatAsync(GroupId, memberId, InstanceId, join.GenerationId, ct);
                    LastError = hb;
                    Interlocked.Increment(ref _heartbeats);
                    if (hb == ErrorCode.None) continue;
                    if (hb is ErrorCode.UnknownMemberId or ErrorCode.IllegalGeneration) memberId = "";
                    if (hb == ErrorCode.FencedInstanceId) return;
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Stops like a crashed client: no LeaveGroup, no more heartbeats.</summary>
    public async Task CrashAsync()
    {
        _stop.Cancel();
        await _loop;
    }

    /// <summary>Stops like a closing consumer: LeaveGroup.</summary>
    public async Task<LeaveGroupResult> LeaveAsync()
    {
        await CrashAsync();
        return await _groups.LeaveGroupAsync(GroupId, [new LeavingMember(_state.MemberId, InstanceId)]);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested) _stop.Cancel();
        try { await _loop; } catch (Exception) { }
    }
}
