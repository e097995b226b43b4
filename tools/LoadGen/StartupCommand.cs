using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace KafScale.LoadGen;

/// <summary>
/// <c>loadgen startup</c>: starts <c>kafscale broker</c> several times, each in a fresh data
/// directory, and measures from just before the process is spawned to the first TCP connect that
/// the Kafka port accepts (a tight connect loop). Reports every sample and the median.
/// </summary>
internal static class StartupCommand
{
    public const string Usage = """
        loadgen startup --binary PATH [options]
          --runs N          number of starts                               [5]
          --timeout D       give up on one start after this long           [10s]
          --work-dir DIR    where the data directories go (removed after)  [a temp dir]
        """;

    public static async Task<int> RunAsync(Arguments args, CancellationToken cancellationToken)
    {
        string binary = Path.GetFullPath(args.Required("binary"));
        int runs = args.Int("runs", 5);
        TimeSpan timeout = args.Duration("timeout", TimeSpan.FromSeconds(10));
        string? workDir = args.String("work-dir");
        args.ThrowIfUnread();
        if (!File.Exists(binary))
        {
            throw new UsageException($"--binary {binary} does not exist");
        }

        string root = workDir ?? Path.Combine(Path.GetTempPath(), "kafscale-startup-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        Directory.CreateDirectory(root);
        var samples = new List<double>();
        try
        {
            for (int i = 0; i < runs; i++)
            {
                double? ms = await MeasureOnceAsync(binary, Path.Combine(root, $"run-{i}"), timeout, cancellationToken).ConfigureAwait(false);
                if (ms is null)
                {
                    Console.Error.WriteLine($"startup: run {i} did not accept connections within {timeout.TotalSeconds:0.#} s");
                    return 1;
                }

                samples.Add(ms.Value);
            }
        }
        finally
        {
            if (workDir is null)
            {
                TryDelete(root);
            }
        }

        double[] sorted = [.. samples.Order()];
        double median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
        var report = new Report("startup")
        {
            ["runs"] = runs,
            ["median_ms"] = Math.Round(median, 2),
            ["min_ms"] = Math.Round(sorted[0], 2),
            ["max_ms"] = Math.Round(sorted[^1], 2),
            ["samples_ms"] = samples.Select(s => Math.Round(s, 2)).ToArray(),
        };
        report.Write($"startup to listening: median {median:0.0} ms over {runs} starts (min {sorted[0]:0.0}, max {sorted[^1]:0.0}; {string.Join(", ", samples.Select(s => s.ToString("0.0", CultureInfo.InvariantCulture)))})");
        return 0;
    }

    private static async Task<double?> MeasureOnceAsync(string binary, string dataDir, TimeSpan timeout, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(dataDir);
        (int kafkaPort, int httpPort) = PortsCommand.FreePorts();
        var info = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in (string[])["broker", "--listen", $"127.0.0.1:{kafkaPort}", "--http", $"127.0.0.1:{httpPort}", "--data-dir", dataDir, "--log-level", "warn"])
        {
            info.ArgumentList.Add(arg);
        }

        var endpoint = new IPEndPoint(IPAddress.Loopback, kafkaPort);
        long start = Stopwatch.GetTimestamp();
        using Process process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {binary}");
        process.OutputDataReceived += static (_, _) => { };
        process.ErrorDataReceived += static (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            while (Stopwatch.GetElapsedTime(start) < timeout && !cancellationToken.IsCancellationRequested)
            {
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    socket.Connect(endpoint);
                    return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                }
                catch (SocketException)
                {
                    if (process.HasExited)
                    {
                        Console.Error.WriteLine($"startup: the broker exited with code {process.ExitCode} before listening");
                        return null;
                    }

                    Thread.SpinWait(100);
                }
            }

            return null;
        }
        finally
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
            }

            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
