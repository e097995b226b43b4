using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using KafScale.Metadata;
using KafScale.Storage;
using KafScale.Storage.Wal;
using Microsoft.Extensions.Logging;

namespace KafScale.Broker.Log;

/// <summary>
/// Collects the WAL objects their writers could not (docs/architecture.md, "The write path"):
/// a broker deletes its own objects once their chunks are sealed, but chunks of partitions it
/// gave up (a crash, a lost lease, a handover that ran out of time) are sealed by the next
/// leader, and a restarted broker has forgotten what it wrote. One broker, the controller,
/// sweeps every <see cref="Interval"/>: an object is deleted when every chunk in it belongs to a
/// topic that no longer exists or lies wholly below its partition's sealed segments. Torn or
/// corrupt objects, which recovery skips, go once they are an hour old.
/// </summary>
internal sealed class WalSweeper(IMetadataStore meta, TopicRegistry topics, PartitionStorage storage, ILogger log, TimeProvider time)
{
    /// <summary>Time between sweeps.</summary>
    public static TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Objects younger than this are left alone (their writer may still be sealing them).</summary>
    public static TimeSpan MinimumAge { get; set; } = TimeSpan.FromMinutes(1);

    private static readonly TimeSpan TornAge = TimeSpan.FromHours(1);

    /// <summary>True on the one broker that sweeps (the controller); always true without a cluster.</summary>
    public Func<bool> IsSweeper { get; set; } = static () => true;

    public async Task RunAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try { await Task.Delay(Interval, time, ct).ConfigureAwait(false); } catch (OperationCanceledException) { break; }
            if (!IsSweeper()) continue;
            try { await SweepAsync(ct).ConfigureAwait(false); }
            catch (OperationCanceledException) { break; }
            catch (Exception ex) { log.LogWarning("WAL sweep failed: {Error}; will try again", ex.Message); }
        }
    }

    /// <summary>One pass; returns the number of objects deleted.</summary>
    public async Task<int> SweepAsync(CancellationToken ct)
    {
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var objects = new List<ObjectInfo>();
        await foreach (var o in storage.Store.ListAsync(WalKeys.Prefix(storage.Namespace), ct).ConfigureAwait(false)) objects.Add(o);
        var sealedEnds = new Dictionary<(Guid Topic, int Partition), long>();
        int deleted = 0;
        foreach (var obj in objects)
        {
            if (!WalKeys.TryParse(obj.Key, out long createdAt, out _, out _) || now - createdAt < MinimumAge.TotalMilliseconds) continue;
            WalFooter? footer;
            try { footer = await storage.WalFooterAsync(obj, ct).ConfigureAwait(false); }
            catch (ObjectNotFoundException) { continue; } // deleted since the listing: nothing to sweep
            bool garbage;
            if (footer is null) garbage = now - createdAt >= TornAge.TotalMilliseconds;
            else
            {
                garbage = true;
                foreach (var chunk in footer.Chunks)
                {
                    if (await IsSealedAsync(chunk, sealedEnds, ct).ConfigureAwait(false)) continue;
                    garbage = false;
                    break;
                }
            }
            if (!garbage) continue;
            await storage.DeleteWalAsync(obj.Key).ConfigureAwait(false);
            deleted++;
        }
        if (deleted > 0) log.LogInformation("WAL sweep deleted {Count} objects whose chunks were all sealed", deleted);
        return deleted;
    }

    private async Task<bool> IsSealedAsync(WalChunkInfo chunk, Dictionary<(Guid, int), long> sealedEnds, CancellationToken ct)
    {
        var topic = topics.FindById(chunk.TopicId);
        // The topic was deleted (or deleted and created again: a new incarnation has a new id).
        if (topic is null) return true;
        if (!sealedEnds.TryGetValue((chunk.TopicId, chunk.Partition), out long end))
            sealedEnds[(chunk.TopicId, chunk.Partition)] = end = await SealedEndAsync(topic, chunk.Partition, ct).ConfigureAwait(false);
        return chunk.LastOffset < end;
    }

    /// <summary>
    /// Where the partition's sealed segments end, as far as can be proven: the leader's own
    /// knowledge when this broker leads it, else the newest segment the metadata store names
    /// (its footer read from the store; a hint is never ahead of the store) or the log start
    /// offset, whichever is higher. Errs low: an unproven chunk is kept.
    /// </summary>
    private async Task<long> SealedEndAsync(TopicState topic, int partition, CancellationToken ct)
    {
        if (partition < topic.Logs.Length && topic.Logs[partition] is { IsClosed: false } led) return led.SealedEnd;
        var keys = await meta.GetPrefixAsync(MetadataKeys.Partition(topic.Name, partition), ct).ConfigureAwait(false);
        long end = 0, lastSegment = -1;
        foreach (var kv in keys.Kvs)
        {
            if (kv.Key.EndsWith("/log_start_offset", StringComparison.Ordinal)) end = Math.Max(end, Parse(kv.Value));
            else if (kv.Key.EndsWith("/last_segment", StringComparison.Ordinal)) lastSegment = Parse(kv.Value);
        }
        if (lastSegment < 0) return end;
        string key = SegmentKeys.Segment(storage.Namespace, topic.Name, partition, lastSegment);
        long? size = await storage.Store.GetSizeAsync(key, ct).ConfigureAwait(false);
        if (size is not { } s || s < SegmentFormat.MinimumSegmentSize) return end;
        var tail = new byte[SegmentFormat.FooterSize];
        int n = await storage.Store.ReadRangeAsync(key, s - SegmentFormat.FooterSize, tail, ct).ConfigureAwait(false);
        if (n != tail.Length || BinaryPrimitives.ReadUInt32BigEndian(tail.AsSpan(12)) != SegmentFormat.FooterMagic) return end;
        return Math.Max(end, SegmentFooter.Read(tail).LastOffset + 1);
    }

    private static long Parse(byte[] value) =>
        long.TryParse(Encoding.ASCII.GetString(value), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l) ? l : -1;
}
