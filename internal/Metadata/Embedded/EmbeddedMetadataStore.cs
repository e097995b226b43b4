using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace KafScale.Metadata.Embedded;

/// <summary>
/// The single-process metadata store with etcd's semantics, persisted in one directory:
/// an in-memory sorted map, a write-ahead log of mutations fsynced (group-committed) before any
/// call returns, and a snapshot that the log is compacted into. A LOCK file, held exclusively
/// while open, keeps a second store (in this process or another) out of the directory.
/// <para>Reads return only durable state: a read that sees a mutation still waiting for its
/// fsync waits for it too, so nothing observed can be lost by a crash.</para>
/// <para>Leases live in memory only. After a restart the leases of the previous incarnation are
/// gone and the keys bound to them are deleted at open (one revision), exactly as if they had
/// expired: a restarted process is a new broker incarnation and must claim again.</para>
/// <para>Watchers read a shared ring of recent durable events (see
/// <see cref="EmbeddedMetadataStoreOptions.WatchHistoryEvents"/>); writers never wait for them.
/// A watcher that falls behind by the whole ring, or asks for a revision older than the ring,
/// gets a <see cref="CompactedRevisionException"/> and must re-read and watch again.</para>
/// </summary>
public sealed partial class EmbeddedMetadataStore : IMetadataStore
{
    private const int WatchBatch = 256;

    /// <summary>
    /// Keys and values of one put or txn together. etcd's own limit is 1.5 MiB per request; this
    /// one only keeps a record far below what recovery accepts as a whole record.
    /// </summary>
    internal const long MaxRequestBytes = 32L << 20;

    private readonly object _gate = new();
    private readonly string _directory;
    private readonly FileStream _lockFile;
    private readonly EmbeddedMetadataStoreOptions _options;
    private readonly Dictionary<string, KeyValue> _kvs = new(StringComparer.Ordinal);
    private readonly SortedSet<string> _order = new(KeyOrder.Instance);
    private readonly Dictionary<long, Lease> _leases = [];
    private readonly CancellationTokenSource _leaseTimerStop = new();
    private WatchHistory _history = null!;
    private CommitLog _log = null!;
    private Task _leaseTimer = Task.CompletedTask;
    private long _revision = 1; // etcd's first revision: a fresh store reports 1, the first write gets 2
    private bool _disposed;

    private EmbeddedMetadataStore(string directory, FileStream lockFile, EmbeddedMetadataStoreOptions options)
    {
        _directory = directory;
        _lockFile = lockFile;
        _options = options;
    }

    public string Kind => "embedded";

    /// <summary>The directory the store lives in (absolute).</summary>
    public string Directory => _directory;

    /// <summary>What opening found on disk.</summary>
    public EmbeddedRecoveryInfo Recovery { get; private set; } = new(0, 0, 0, 0, 1);

    /// <summary>Snapshots written since open (for tests and diagnostics).</summary>
    internal int Compactions => _log.Compactions;

    /// <summary>fsyncs of the log since open (for tests of group commit).</summary>
    internal long Flushes => _log.Flushes;

    public static Task<EmbeddedMetadataStore> OpenAsync(string directory, CancellationToken cancellationToken) =>
        OpenAsync(directory, new EmbeddedMetadataStoreOptions(), cancellationToken);

    /// <summary>
    /// Opens (creating if needed) the store in directory, recovers its state, and deletes the keys
    /// of the previous incarnation's leases. Throws <see cref="MetadataStoreLockedException"/> when
    /// another open store holds the directory.
    /// </summary>
    public static async Task<EmbeddedMetadataStore> OpenAsync(string directory, EmbeddedMetadataStoreOptions options, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.CompactionThresholdBytes, 1024L, nameof(options.CompactionThresholdBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.WatchHistoryEvents, 1, nameof(options.WatchHistoryEvents));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.LeaseCheckInterval, TimeSpan.Zero, nameof(options.LeaseCheckInterval));

        string full = Path.GetFullPath(directory);
        System.IO.Directory.CreateDirectory(full);
        FileStream lockFile = AcquireLock(full);
        var store = new EmbeddedMetadataStore(full, lockFile, options);
        try
        {
            await store.RecoverAsync(cancellationToken).ConfigureAwait(false);
            return store;
        }
        catch
        {
            await store.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static FileStream AcquireLock(string directory)
    {
        string path = Path.Combine(directory, LogFormat.LockFileName);
        try
        {
            // On Unix, .NET takes flock(LOCK_EX) for FileShare.None: held per open file, so a second
            // open fails in this process as in any other, and the kernel drops it if we die.
            return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, bufferSize: 0);
        }
        catch (IOException ex) when (ex is not FileNotFoundException and not DirectoryNotFoundException and not PathTooLongException)
        {
            throw new MetadataStoreLockedException(directory, ex);
        }
    }

    public async Task<KeyValue?> GetAsync(string key, CancellationToken cancellationToken)
    {
        KeyEncoding.ValidateKey(key);
        cancellationToken.ThrowIfCancellationRequested();
        KeyValue? kv;
        Task? durable;
        lock (_gate)
        {
            ThrowIfUnusable();
            _kvs.TryGetValue(key, out kv);
            durable = _log.DurableTask();
        }
        if (durable is not null) await durable.WaitAsync(cancellationToken).ConfigureAwait(false);
        return kv;
    }

    public async Task<RangeResult> GetPrefixAsync(string prefix, CancellationToken cancellationToken)
    {
        KeyEncoding.ValidatePrefix(prefix);
        cancellationToken.ThrowIfCancellationRequested();
        RangeResult result;
        Task? durable;
        lock (_gate)
        {
            ThrowIfUnusable();
            result = new RangeResult(RangeLocked(prefix), _revision);
            durable = _log.DurableTask();
        }
        if (durable is not null) await durable.WaitAsync(cancellationToken).ConfigureAwait(false);
        return result;
    }

    public async Task<long> PutAsync(string key, byte[] value, long lease, CancellationToken cancellationToken)
    {
        KeyEncoding.ValidateKey(key);
        ArgumentNullException.ThrowIfNull(value);
        cancellationToken.ThrowIfCancellationRequested();
        CheckRequestSize((long)key.Length * 3 + value.Length);
        byte[] copy = value.Length == 0 ? [] : (byte[])value.Clone(); // the caller may reuse its buffer
        Task durable;
        long revision;
        lock (_gate)
        {
            ThrowIfUnusable();
            ReapExpiredLeases();
            if (lease != 0 && !_leases.ContainsKey(lease)) throw new LeaseNotFoundException(lease);
            WritePut(key, copy, lease);
            durable = CommitRevision()!;
            revision = _revision;
        }
        await durable.WaitAsync(cancellationToken).ConfigureAwait(false);
        return revision;
    }

    public Task<long> DeleteAsync(string key, CancellationToken cancellationToken)
    {
        KeyEncoding.ValidateKey(key);
        return DeleteCoreAsync(key, isPrefix: false, cancellationToken);
    }

    public Task<long> DeletePrefixAsync(string prefix, CancellationToken cancellationToken)
    {
        KeyEncoding.ValidatePrefix(prefix);
        return DeleteCoreAsync(prefix, isPrefix: true, cancellationToken);
    }

    private async Task<long> DeleteCoreAsync(string keyOrPrefix, bool isPrefix, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        long deleted;
        Task? durable;
        lock (_gate)
        {
            ThrowIfUnusable();
            ReapExpiredLeases();
            deleted = isPrefix ? WriteDeletePrefix(keyOrPrefix) : WriteDelete(keyOrPrefix) ? 1 : 0;
            durable = CommitRevision();
        }
        if (durable is not null) await durable.WaitAsync(cancellationToken).ConfigureAwait(false);
        return deleted;
    }

    public async Task<TxnResult> TxnAsync(TxnRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        cancellationToken.ThrowIfCancellationRequested();
        TxnValidation.ValidateShape(request);
        CheckRequestSize(request.Success.Concat(request.Failure).Sum(op => (long)op.Key.Length * 3 + (op.Value?.Length ?? 0)));
        TxnResult result;
        Task? durable;
        lock (_gate)
        {
            ThrowIfUnusable();
            ReapExpiredLeases();
            bool succeeded = true;
            foreach (Compare compare in request.Compares)
            {
                _kvs.TryGetValue(compare.Key, out KeyValue? kv);
                if (!TxnValidation.Evaluate(compare, kv)) { succeeded = false; break; }
            }
            IReadOnlyList<TxnOp> ops = succeeded ? request.Success : request.Failure;
            foreach (TxnOp op in ops)
            {
                if (op.Kind == TxnOpKind.Put && op.Lease != 0 && !_leases.ContainsKey(op.Lease)) throw new LeaseNotFoundException(op.Lease);
            }

            var gets = new List<IReadOnlyList<KeyValue>>();
            foreach (TxnOp op in ops)
            {
                switch (op.Kind)
                {
                    case TxnOpKind.Put:
                        WritePut(op.Key, op.Value!.Length == 0 ? [] : (byte[])op.Value.Clone(), op.Lease);
                        break;
                    case TxnOpKind.Delete:
                        WriteDelete(op.Key);
                        break;
                    case TxnOpKind.DeletePrefix:
                        WriteDeletePrefix(op.Key);
                        break;
                    case TxnOpKind.Get:
                        gets.Add(_kvs.TryGetValue(op.Key, out KeyValue? kv) ? [kv] : []);
                        break;
                    case TxnOpKind.GetPrefix:
                        gets.Add(RangeLocked(op.Key));
                        break;
                }
            }
            durable = CommitRevision();
            result = new TxnResult(succeeded, _revision, gets);
        }
        if (durable is not null) await durable.WaitAsync(cancellationToken).ConfigureAwait(false);
        return result;
    }

    public IAsyncEnumerable<WatchEvent> WatchAsync(string prefix, long fromRevision, CancellationToken cancellationToken)
    {
        KeyEncoding.ValidatePrefix(prefix);
        ArgumentOutOfRangeException.ThrowIfNegative(fromRevision);
        return WatchCoreAsync(prefix, fromRevision, cancellationToken);
    }

    private async IAsyncEnumerable<WatchEvent> WatchCoreAsync(string prefix, long fromRevision, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        WatchHistory.Cursor cursor = _history.Open(fromRevision);
        var batch = new List<WatchEvent>();
        while (true)
        {
            Task? more = _history.Read(cursor, prefix, batch, WatchBatch);
            if (more is not null)
            {
                await more.WaitAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }
            for (int i = 0; i < batch.Count; i++) yield return batch[i];
            batch.Clear();
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    /// <summary>Flushes the log and releases the directory. Leases are not revoked: the next open deletes their keys.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
        }
        _leaseTimerStop.Cancel();
        try
        {
            await _leaseTimer.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        if (_log is not null)
        {
            await _log.StopAsync().ConfigureAwait(false);
            _log.CloseFile();
        }
        _history?.Close();
        _lockFile.Dispose();
        _leaseTimerStop.Dispose();
    }

    private static void CheckRequestSize(long bytes)
    {
        if (bytes > MaxRequestBytes)
            throw new ArgumentException($"The request carries about {bytes} bytes of keys and values; the limit is {MaxRequestBytes}. Metadata values should be small.");
    }

    private void ThrowIfUnusable()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_log.Fault is { } fault) throw new MetadataStoreUnavailableException(fault.Message, fault);
    }

    // ---- state changes; all run holding _gate --------------------------------------------------

    private List<KeyValue> RangeLocked(string prefix)
    {
        var result = new List<KeyValue>();
        IEnumerable<string> keys = prefix.Length == 0 ? _order : _order.GetViewBetween(prefix, prefix + KeyOrder.MaxCodePoint);
        foreach (string key in keys)
        {
            if (key.StartsWith(prefix, StringComparison.Ordinal)) result.Add(_kvs[key]);
        }
        return result;
    }

    private long PendingRevision()
    {
        if (!_log.InRevision) _log.BeginRevision(_revision + 1);
        return _revision + 1;
    }

    /// <summary>Ends the revision being written, if any: its durability, else that of what came before.</summary>
    private Task? CommitRevision()
    {
        if (!_log.InRevision) return _log.DurableTask();
        _revision++;
        return _log.EndRevision();
    }

    private void WritePut(string key, byte[] value, long lease) => _log.AddPut(SetKey(key, value, lease, PendingRevision()));

    private bool WriteDelete(string key)
    {
        if (!_kvs.ContainsKey(key)) return false;
        long revision = PendingRevision();
        RemoveKey(key);
        _log.AddDelete(key, revision);
        return true;
    }

    private long WriteDeletePrefix(string prefix)
    {
        List<KeyValue> doomed = RangeLocked(prefix);
        foreach (KeyValue kv in doomed) WriteDelete(kv.Key);
        return doomed.Count;
    }

    private KeyValue SetKey(string key, byte[] value, long lease, long revision)
    {
        ref KeyValue? slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_kvs, key, out bool existed);
        KeyValue? old = slot;
        KeyValue kv = old is null
            ? new KeyValue(key, value, revision, revision, 1, lease)
            : new KeyValue(key, value, old.CreateRevision, revision, old.Version + 1, lease);
        slot = kv;
        if (!existed) _order.Add(key);
        if (old is not null && old.Lease != 0 && old.Lease != lease && _leases.TryGetValue(old.Lease, out Lease? previous))
            previous.Keys.Remove(key);
        if (lease != 0 && _leases.TryGetValue(lease, out Lease? current)) current.Keys.Add(key);
        return kv;
    }

    private void RemoveKey(string key)
    {
        if (!_kvs.Remove(key, out KeyValue? old)) return;
        _order.Remove(key);
        if (old.Lease != 0 && _leases.TryGetValue(old.Lease, out Lease? lease)) lease.Keys.Remove(key);
    }

    private SnapshotImage CaptureSnapshot() => new(_revision, [.. _kvs.Values]);

    private long Now() => _options.TimeProvider.GetTimestamp();
}
