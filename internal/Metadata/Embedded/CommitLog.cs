namespace KafScale.Metadata.Embedded;

/// <summary>
/// The write-ahead log with group commit. Mutations are framed into a pending buffer under the
/// store's lock (so the log is in revision order); one flusher thread writes whatever has
/// accumulated and fsyncs it once, so every mutation that arrived during the previous fsync
/// shares the next one. When the file passes the compaction threshold the flusher writes a
/// snapshot of the whole state and restarts the log.
/// </summary>
internal sealed class CommitLog
{
    private readonly object _gate;
    private readonly string _directory;
    private readonly FileStream _file;
    private readonly long _compactionThreshold;
    private readonly Func<SnapshotImage> _captureSnapshot;
    private readonly Action<List<WatchEvent>> _onDurable;
    private readonly Thread _thread;
    private readonly TaskCompletionSource _stopped = NewCompletion();

    private ByteWriter _pending = new();
    private ByteWriter _spare = new();
    private List<WatchEvent> _pendingEvents = [];
    private List<WatchEvent> _spareEvents = [];
    private TaskCompletionSource _pendingDurable = NewCompletion();
    private Task? _inflight;
    private int _frameStart = -1;
    private bool _stopping;
    private Exception? _fault;
    private long _fileLength;
    private long _nextCompactionAt;
    private int _compactions;
    private long _flushes;

    /// <param name="gate">The store's lock; every method except <see cref="StopAsync"/> is called holding it.</param>
    /// <param name="captureSnapshot">Called holding the gate: the current state.</param>
    /// <param name="onDurable">Called on the flusher thread, outside the gate, with the events of each durable batch in order.</param>
    public CommitLog(object gate, string directory, FileStream file, long compactionThreshold,
        Func<SnapshotImage> captureSnapshot, Action<List<WatchEvent>> onDurable)
    {
        _gate = gate;
        _directory = directory;
        _file = file;
        _fileLength = file.Length;
        _compactionThreshold = compactionThreshold;
        _nextCompactionAt = compactionThreshold;
        _captureSnapshot = captureSnapshot;
        _onDurable = onDurable;
        _thread = new Thread(Run) { IsBackground = true, Name = "kafscale-metadata-log" };
        _thread.Start();
    }

    /// <summary>Why the log stopped accepting writes, if it did.</summary>
    public Exception? Fault => _fault;

    public int Compactions => Volatile.Read(ref _compactions);

    public long Flushes => Interlocked.Read(ref _flushes);

    public bool InRevision => _frameStart >= 0;

    public void BeginRevision(long revision) => _frameStart = LogFormat.BeginFrame(_pending, revision);

    public void AddPut(KeyValue kv)
    {
        LogFormat.WritePut(_pending, kv.Key, kv.Lease, kv.Value);
        _pendingEvents.Add(new WatchEvent(WatchEventType.Put, kv));
    }

    public void AddDelete(string key, long revision)
    {
        LogFormat.WriteDelete(_pending, key);
        _pendingEvents.Add(new WatchEvent(WatchEventType.Delete, new KeyValue(key, [], 0, revision, 0, 0)));
    }

    /// <summary>Closes the revision's record; the task completes once it is on disk.</summary>
    public Task EndRevision()
    {
        LogFormat.EndFrame(_pending, _frameStart);
        _frameStart = -1;
        Monitor.Pulse(_gate);
        return _pendingDurable.Task;
    }

    /// <summary>Completes when everything appended so far is on disk; null when it already is.</summary>
    public Task? DurableTask() => _pending.Length > 0 ? _pendingDurable.Task : _inflight;

    /// <summary>Flushes what is pending and stops the flusher.</summary>
    public Task StopAsync()
    {
        lock (_gate)
        {
            _stopping = true;
            Monitor.Pulse(_gate);
        }
        return _stopped.Task;
    }

    public void CloseFile() => _file.Dispose();

    private void Run()
    {
        try
        {
            while (true)
            {
                ByteWriter batch;
                List<WatchEvent> events;
                TaskCompletionSource durable;
                lock (_gate)
                {
                    while (_pending.Length == 0 && !_stopping) Monitor.Wait(_gate);
                    if (_pending.Length == 0) break;
                    batch = _pending;
                    events = _pendingEvents;
                    durable = _pendingDurable;
                    _pending = _spare;
                    _pendingEvents = _spareEvents;
                    _pendingDurable = NewCompletion();
                    _inflight = durable.Task;
                }

                try
                {
                    _file.Write(batch.WrittenSpan);
                    _file.Flush(flushToDisk: true);
                    _fileLength += batch.Length;
                    Interlocked.Increment(ref _flushes);
                }
                catch (Exception ex)
                {
                    FailAll(ex, durable);
                    return;
                }

                // Watchers see a change only once it is durable, and before its writer is answered.
                _onDurable(events);
                lock (_gate)
                {
                    if (ReferenceEquals(_inflight, durable.Task)) _inflight = null;
                    batch.Clear();
                    events.Clear();
                    _spare = batch;
                    _spareEvents = events;
                }
                durable.TrySetResult();

                if (_fileLength >= _nextCompactionAt && !Compact()) return;
            }
        }
        catch (Exception ex)
        {
            FailAll(ex, null);
        }
        finally
        {
            _stopped.TrySetResult();
        }
    }

    /// <summary>False when the log is left in a state it cannot be appended to.</summary>
    private bool Compact()
    {
        SnapshotImage image;
        lock (_gate) image = _captureSnapshot();
        try
        {
            SnapshotFile.Write(_directory, image);
        }
        catch (Exception)
        {
            // The log is intact, so a failed snapshot (disk full, say) costs nothing now; retry after another threshold.
            TryDelete(Path.Combine(_directory, LogFormat.SnapshotTempFileName));
            _nextCompactionAt = _fileLength + _compactionThreshold;
            return true;
        }

        try
        {
            // The snapshot covers every record written so far and those still pending (replay skips
            // records at or below the snapshot's revision), so the log starts over.
            _file.SetLength(LogFormat.LogMagic.Length);
            _file.Position = LogFormat.LogMagic.Length;
            _file.Flush(flushToDisk: true);
            _fileLength = LogFormat.LogMagic.Length;
            _nextCompactionAt = _compactionThreshold;
            Interlocked.Increment(ref _compactions);
            return true;
        }
        catch (Exception ex)
        {
            FailAll(ex, null);
            return false;
        }
    }

    private void FailAll(Exception cause, TaskCompletionSource? inflight)
    {
        var fault = new MetadataStoreUnavailableException(
            $"Writing the metadata log in '{_directory}' failed ({cause.Message}); the embedded metadata store refuses "
            + "further work because memory and disk may now differ. Fix the disk and restart the process.", cause);
        TaskCompletionSource pending;
        lock (_gate)
        {
            _fault = fault;
            pending = _pendingDurable;
        }
        inflight?.TrySetException(fault);
        pending.TrySetException(fault);
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private static TaskCompletionSource NewCompletion() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
