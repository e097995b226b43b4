using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using KafScale.Storage;

namespace KafScale.Broker.Tests;

/// <summary>
/// Wraps a real <see cref="LocalDirectoryObjectStore"/> and injects the failures an object store
/// has in production: puts that fail (before or after the bytes land), puts that hang until the
/// test lets them go (so uploads can finish out of order), and conditional creates that find
/// the key already taken. Every put attempt is recorded, failed ones included.
/// </summary>
internal sealed class FaultInjectingObjectStore(LocalDirectoryObjectStore inner) : IObjectStore
{
    private readonly Lock _lock = new();
    private readonly List<FailRule> _failures = [];
    private readonly List<PutGate> _gates = [];
    private readonly List<TakenRule> _taken = [];
    private readonly ConcurrentQueue<PutAttempt> _attempts = new();

    public LocalDirectoryObjectStore Inner => inner;

    public string Kind => inner.Kind;
    public bool SupportsConditionalCreate => inner.SupportsConditionalCreate;

    /// <summary>Every put and create, in the order they were attempted (failed ones too).</summary>
    public IReadOnlyList<PutAttempt> Attempts => [.. _attempts];

    /// <summary>
    /// The next <paramref name="count"/> puts or creates whose key matches throw an IOException.
    /// With <paramref name="landAnyway"/> the bytes are written first, like a request whose
    /// response was lost. <paramref name="onFault"/> runs before each throw, on the writer's thread.
    /// </summary>
    public void FailNextPuts(int count, Func<string, bool>? match = null, bool landAnyway = false, Action<string>? onFault = null)
    {
        lock (_lock) _failures.Add(new FailRule(match ?? (_ => true), landAnyway, onFault) { Remaining = count });
    }

    /// <summary>Puts and creates whose key matches wait, once they arrive, until the gate is released.</summary>
    public PutGate Hold(Func<string, bool> match)
    {
        var gate = new PutGate(match);
        lock (_lock) _gates.Add(gate);
        return gate;
    }

    /// <summary>
    /// The next create of a matching key finds it taken: the store first writes the same bytes
    /// (an earlier attempt that did land) or, when <paramref name="identical"/> is false, bytes
    /// that differ in one place (another writer got there first), and the create returns false.
    /// </summary>
    public void ReportTaken(Func<string, bool> match, bool identical)
    {
        lock (_lock) _taken.Add(new TakenRule(match, identical));
    }

    /// <summary>Lets every held put go (used on dispose so no writer hangs forever).</summary>
    public void ReleaseAll()
    {
        lock (_lock) foreach (var g in _gates) g.Release();
    }

    public async Task PutAsync(string key, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        Record(key, data, create: false);
        await BeforeWriteAsync(key, data, cancellationToken).ConfigureAwait(false);
        await inner.PutAsync(key, data, cancellationToken).ConfigureAwait(false);
    }

    public async Task<bool> CreateIfAbsentAsync(string key, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        Record(key, data, create: true);
        await BeforeWriteAsync(key, data, cancellationToken).ConfigureAwait(false);
        TakenRule? taken = null;
        lock (_lock)
        {
            int i = _taken.FindIndex(r => r.Match(key));
            if (i >= 0) { taken = _taken[i]; _taken.RemoveAt(i); }
        }
        if (taken is not null)
        {
            byte[] occupant = data.ToArray();
            if (!taken.Identical) occupant[occupant.Length / 2] ^= 0xFF;
            await inner.PutAsync(key, occupant, cancellationToken).ConfigureAwait(false);
            return false;
        }
        return await inner.CreateIfAbsentAsync(key, data, cancellationToken).ConfigureAwait(false);
    }

    private void Record(string key, ReadOnlyMemory<byte> data, bool create) =>
        _attempts.Enqueue(new PutAttempt(key, data.ToArray(), create));

    private async Task BeforeWriteAsync(string key, ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        FailRule? fail = null;
        List<PutGate> gates;
        lock (_lock)
        {
            fail = _failures.Find(r => r.Remaining > 0 && r.Match(key));
            if (fail is not null) fail.Remaining--;
            gates = _gates.FindAll(g => !g.IsReleased && g.Match(key));
        }
        if (fail is not null)
        {
            if (fail.LandAnyway) await inner.PutAsync(key, data, ct).ConfigureAwait(false);
            fail.OnFault?.Invoke(key);
            throw new IOException($"injected failure writing '{key}'");
        }
        foreach (var gate in gates) await gate.PassAsync(key).ConfigureAwait(false);
    }

    /// <summary>Runs before every read (whole or ranged) reaches the directory store, with the key.</summary>
    public Func<string, Task>? BeforeRead { get; set; }

    public async Task<byte[]?> GetAsync(string key, CancellationToken cancellationToken)
    {
        _reads.Enqueue(key);
        if (BeforeRead is { } before) await before(key).ConfigureAwait(false);
        return await inner.GetAsync(key, cancellationToken).ConfigureAwait(false);
    }

    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _rangeReads = new();
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _reads = new();

    /// <summary>Keys of every ranged read (segment footers at recovery), in order.</summary>
    public IReadOnlyList<string> RangeReads => [.. _rangeReads];

    /// <summary>Keys of every read, ranged or whole, in order.</summary>
    public IReadOnlyList<string> Reads => [.. _reads];

    /// <summary>Forgets the reads so far (ranged and whole).</summary>
    public void ClearRangeReads()
    {
        _rangeReads.Clear();
        _reads.Clear();
    }

    public async Task<int> ReadRangeAsync(string key, long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        _rangeReads.Enqueue(key);
        _reads.Enqueue(key);
        if (BeforeRead is { } before) await before(key).ConfigureAwait(false);
        return await inner.ReadRangeAsync(key, offset, destination, cancellationToken).ConfigureAwait(false);
    }

    public Task<long?> GetSizeAsync(string key, CancellationToken cancellationToken) => inner.GetSizeAsync(key, cancellationToken);

    /// <summary>While set, listings wait for it before they return anything.</summary>
    public Task? ListGate { get; set; }

    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _listedPrefixes = new();

    /// <summary>Listings started so far whose prefix begins with <paramref name="prefix"/> (others, such as a background pass over segments, not counted).</summary>
    public int ListsUnder(string prefix) => _listedPrefixes.Count(p => p.StartsWith(prefix, StringComparison.Ordinal));

    public async IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        _listedPrefixes.Enqueue(prefix);
        if (ListGate is { } gate) await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        await foreach (var o in inner.ListAsync(prefix, cancellationToken).ConfigureAwait(false)) yield return o;
    }

    private readonly System.Collections.Concurrent.ConcurrentQueue<string?> _startAfters = new();

    /// <summary>The StartAfter of every listing that gave one (null for the others), in order.</summary>
    public IReadOnlyList<string?> ListStartAfters => [.. _startAfters];

    public async IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, string? startAfter, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        _startAfters.Enqueue(startAfter);
        await foreach (var o in ListAsync(prefix, cancellationToken).ConfigureAwait(false))
            if (startAfter is null || string.CompareOrdinal(o.Key, startAfter) > 0) yield return o;
    }

    public Task DeleteAsync(string key, CancellationToken cancellationToken) => inner.DeleteAsync(key, cancellationToken);

    public ValueTask DisposeAsync()
    {
        ReleaseAll();
        return inner.DisposeAsync();
    }

    private sealed record FailRule(Func<string, bool> Match, bool LandAnyway, Action<string>? OnFault)
    {
        public int Remaining { get; set; }
    }

    private sealed record TakenRule(Func<string, bool> Match, bool Identical);
}

/// <summary>One put or create as the store saw it.</summary>
internal sealed record PutAttempt(string Key, byte[] Data, bool IsCreate);

/// <summary>Holds matching puts until <see cref="Release"/>; <see cref="Arrived"/> says one is waiting.</summary>
internal sealed class PutGate(Func<string, bool> match)
{
    private readonly TaskCompletionSource<string> _arrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Func<string, bool> Match { get; } = match;

    /// <summary>Completes with the key of the first put that reached the gate.</summary>
    public Task<string> Arrived => _arrived.Task;

    public bool IsReleased => _released.Task.IsCompleted;

    public void Release() => _released.TrySetResult();

    internal Task PassAsync(string key)
    {
        _arrived.TrySetResult(key);
        return _released.Task;
    }
}
