using System.Diagnostics;
using System.Globalization;
using KafScale.Common;

namespace KafScale.LoadGen;

/// <summary>
/// <c>loadgen disk-probe</c>: the latency of one durable small-file write the way a
/// directory object store makes a segment durable (write a temp file, fsync it, rename it over
/// the key, fsync the directory). It is the floor under acks=all latency on that disk.
/// </summary>
internal static class DiskProbeCommand
{
    public const string Usage = """
        loadgen disk-probe --dir DIR [options]
          --count N      writes                                  [200]
          --size B       bytes per write                         [16k]
        """;

    public static int Run(Arguments args)
    {
        string dir = Path.GetFullPath(args.Required("dir"));
        int count = args.Int("count", 200);
        int size = args.Bytes("size", 16 * 1024);
        args.ThrowIfUnread();
        string probe = Path.Combine(dir, "disk-probe-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        Directory.CreateDirectory(probe);
        byte[] data = new byte[size];
        Random.Shared.NextBytes(data);
        var latency = new LatencyRecorder();
        try
        {
            for (int i = 0; i < count; i++)
            {
                string path = Path.Combine(probe, $"object-{i}");
                string temp = path + ".tmp";
                long start = Stopwatch.GetTimestamp();
                using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0))
                {
                    file.Write(data);
                    file.Flush(flushToDisk: true);
                }

                File.Move(temp, path, overwrite: true);
                Posix.SyncDirectory(probe);
                latency.Record(Stopwatch.GetTimestamp() - start);
            }
        }
        finally
        {
            Directory.Delete(probe, recursive: true);
        }

        LatencySummary summary = LatencyRecorder.Summarize([latency]);
        var report = new Report("disk-probe")
        {
            ["writes"] = count,
            ["bytes"] = size,
            ["p50_ms"] = Math.Round(summary.P50Ms, 3),
            ["p99_ms"] = Math.Round(summary.P99Ms, 3),
            ["max_ms"] = Math.Round(summary.MaxMs, 3),
            ["mean_ms"] = Math.Round(summary.MeanMs, 3),
        };
        report.Write($"durable {size} B write (write, fsync, rename, fsync dir) in {dir}: p50 {summary.P50Ms:0.00} ms, p99 {summary.P99Ms:0.00} ms, max {summary.MaxMs:0.00} ms over {count}");
        return 0;
    }
}
