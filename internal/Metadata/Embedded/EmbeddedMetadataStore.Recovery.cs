using KafScale.Common;

namespace KafScale.Metadata.Embedded;

public sealed partial class EmbeddedMetadataStore
{
    private async Task RecoverAsync(CancellationToken cancellationToken)
    {
        string tempSnapshot = Path.Combine(_directory, LogFormat.SnapshotTempFileName);
        if (File.Exists(tempSnapshot)) File.Delete(tempSnapshot); // a compaction that died before its rename

        SnapshotImage? snapshot = await SnapshotFile.ReadAsync(_directory, cancellationToken).ConfigureAwait(false);
        long snapshotRevision = 0;
        if (snapshot is not null)
        {
            snapshotRevision = snapshot.Revision;
            _revision = snapshot.Revision;
            foreach (KeyValue kv in snapshot.Kvs)
            {
                _kvs.Add(kv.Key, kv);
                _order.Add(kv.Key);
            }
        }
        // Events up to the snapshot are gone; those in the log after it are replayed into the history.
        _history = new WatchHistory(_options.WatchHistoryEvents, snapshotRevision, _revision);

        string logPath = Path.Combine(_directory, LogFormat.LogFileName);
        byte[] log = File.Exists(logPath) ? await File.ReadAllBytesAsync(logPath, cancellationToken).ConfigureAwait(false) : [];
        int magicLength = LogFormat.LogMagic.Length;
        bool fresh = log.Length < magicLength;
        if (!fresh && !log.AsSpan(0, magicLength).SequenceEqual(LogFormat.LogMagic))
            throw new InvalidDataException($"'{logPath}' is not a kafscale metadata log. Move it away or use another --data-dir.");
        (int validEnd, int replayed) = fresh ? (0, 0) : Replay(log);
        long torn = log.Length - validEnd;

        var file = new FileStream(logPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, bufferSize: 0);
        try
        {
            if (fresh)
            {
                file.SetLength(0);
                file.Write(LogFormat.LogMagic);
                file.Flush(flushToDisk: true);
                Posix.SyncDirectory(_directory);
            }
            else if (torn > 0)
            {
                // Appends continue after the last whole record, never after the garbage.
                file.SetLength(validEnd);
                file.Flush(flushToDisk: true);
            }
            file.Position = file.Length;
        }
        catch
        {
            await file.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        _log = new CommitLog(_gate, _directory, file, _options.CompactionThresholdBytes, CaptureSnapshot, _history.Publish);
        _leaseTimer = RunLeaseTimerAsync(_leaseTimerStop.Token);

        int leasedKeys;
        Task? durable;
        lock (_gate)
        {
            string[] orphans = [.. _kvs.Values.Where(kv => kv.Lease != 0).Select(kv => kv.Key)];
            Array.Sort(orphans, KeyOrder.Instance);
            foreach (string key in orphans) WriteDelete(key);
            leasedKeys = orphans.Length;
            durable = CommitRevision();
        }
        if (durable is not null) await durable.WaitAsync(cancellationToken).ConfigureAwait(false);
        Recovery = new EmbeddedRecoveryInfo(snapshotRevision, replayed, torn, leasedKeys, _revision);
    }

    /// <summary>Applies the log's intact records; returns where the intact part ends.</summary>
    private (int ValidEnd, int Replayed) Replay(byte[] log)
    {
        int offset = LogFormat.LogMagic.Length;
        int replayed = 0;
        var events = new List<WatchEvent>();
        while (LogFormat.TryReadFrame(log, offset, out ReadOnlySpan<byte> payload))
        {
            if (ApplyRecord(payload, events))
            {
                replayed++;
                _history.Publish(events);
                events.Clear();
            }
            offset += LogFormat.FrameHeaderSize + payload.Length;
        }
        return (offset, replayed);
    }

    private bool ApplyRecord(ReadOnlySpan<byte> payload, List<WatchEvent> events)
    {
        var reader = new SpanReader(payload);
        if (reader.ReadByte() != LogFormat.RevisionRecord)
            throw new InvalidDataException("The metadata log holds a record of an unknown kind; it was written by a newer version.");
        long revision = reader.ReadInt64();
        if (revision <= _revision) return false; // already in the snapshot
        while (!reader.End)
        {
            byte op = reader.ReadByte();
            string key = reader.ReadString();
            if (op == LogFormat.PutOp)
            {
                long lease = reader.ReadInt64();
                byte[] value = reader.ReadBytes();
                events.Add(new WatchEvent(WatchEventType.Put, SetKey(key, value, lease, revision)));
            }
            else if (op == LogFormat.DeleteOp)
            {
                RemoveKey(key);
                events.Add(new WatchEvent(WatchEventType.Delete, new KeyValue(key, [], 0, revision, 0, 0)));
            }
            else
            {
                throw new InvalidDataException("The metadata log holds an operation of an unknown kind; it was written by a newer version.");
            }
        }
        _revision = revision;
        return true;
    }
}
