using Microsoft.Extensions.Logging;

namespace KafScale.Broker.Log;

/// <summary>
/// Enforces retention.ms and retention.bytes on the partitions this broker leads (each leader
/// enforces its own) by moving the log start offset past whole segments, every
/// <see cref="CheckInterval"/>.
/// </summary>
internal sealed class RetentionSweeper(TopicRegistry topics, PartitionLifecycle partitions, PartitionStorage storage, ILogger log, TimeProvider time)
{
    /// <summary>Time between retention passes.</summary>
    public static TimeSpan CheckInterval { get; set; } = TimeSpan.FromSeconds(30);

    public async Task RunAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try { await Task.Delay(CheckInterval, time, ct).ConfigureAwait(false); } catch (OperationCanceledException) { break; }
            try { await SweepAsync(ct).ConfigureAwait(false); }
            catch (OperationCanceledException) { break; }
            catch (Exception ex) { log.LogWarning("retention pass failed: {Error}", ex.Message); }
        }
    }

    /// <summary>One pass over every open partition log.</summary>
    public async Task SweepAsync(CancellationToken ct)
    {
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var partition in topics.OpenLogs().ToList())
        {
            // Opened from the hint and still finding its older segments: next pass.
            if (!partition.OlderSegmentsLoaded.IsCompleted) continue;
            var config = partition.TopicState.Config;
            var segments = partition.SegmentsSnapshot();
            long newStart = partition.LogStartOffset;
            if (config.RetentionMsValue >= 0)
            {
                foreach (var s in segments)
                {
                    long ts = s.MaxTimestamp >= 0 ? s.MaxTimestamp : await storage.ReadMaxTimestampAsync(partition, s, ct).ConfigureAwait(false);
                    if (ts >= 0 && now - ts > config.RetentionMsValue) newStart = Math.Max(newStart, s.LastOffset + 1);
                    else break;
                }
            }
            if (config.RetentionBytesValue >= 0)
            {
                long total = 0;
                foreach (var s in segments) if (s.LastOffset >= newStart) total += s.Size;
                foreach (var s in segments)
                {
                    if (s.LastOffset < newStart) continue;
                    if (total <= config.RetentionBytesValue) break;
                    total -= s.Size;
                    newStart = s.LastOffset + 1;
                }
            }
            if (newStart > partition.LogStartOffset)
            {
                log.LogInformation("retention: {Topic}-{Partition} log start offset {Old} -> {New}", partition.Topic, partition.Partition, partition.LogStartOffset, newStart);
                await partitions.AdvanceLogStartAsync(partition, newStart, ct).ConfigureAwait(false);
            }
        }
    }
}
