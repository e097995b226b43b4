using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Xunit.Sdk;

namespace KafScale.Cluster.Tests.Harness;

/// <summary>A delivery report of the chaos producer: record i ("v-i") is at partition p, offset o, acknowledged at wall-clock time t (ms).</summary>
public readonly record struct Ack(int Index, int Partition, long Offset, long TimeMs);

/// <summary>A record as read back: its partition, offset and value.</summary>
public readonly record struct StoredRecord(int Partition, long Offset, string Value);

/// <summary>
/// Clients/chaos_client.py produce-loop (confluent-kafka, acks=all) running in the background;
/// every delivery report is parsed once, as it arrives.
/// </summary>
public sealed class ChaosProducer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _stopFile;
    private readonly List<Ack> _acks = [];
    private readonly List<string> _errors = [];
    private readonly List<string> _clientErrors = [];
    private readonly StringBuilder _stderr = new();
    private readonly TaskCompletionSource<int> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static string Script => Path.Combine(RepoPaths.Root, "test", "Cluster.Tests", "Clients", "chaos_client.py");

    private ChaosProducer(Process process, string stopFile)
    {
        _process = process;
        _stopFile = stopFile;
    }

    public static ChaosProducer Start(string bootstrap, string topic, int partitions, double rate = 200, bool idempotent = false)
    {
        string stopFile = Path.Combine(Path.GetTempPath(), "kafscale-chaos-stop-" + Guid.NewGuid().ToString("N"));
        var args = new List<string> { Script, "produce-loop", "--bootstrap", bootstrap, "--topic", topic,
            "--partitions", partitions.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--rate", rate.ToString(System.Globalization.CultureInfo.InvariantCulture), "--stop-file", stopFile };
        if (idempotent) args.Add("--idempotent");
        var info = ClientRunner.StartInfo(ClientRunner.Python, args);
        var process = new Process { StartInfo = info };
        var producer = new ChaosProducer(process, stopFile);
        process.OutputDataReceived += (_, e) => producer.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (producer._stderr) producer._stderr.Append(e.Data).Append('\n'); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.StandardInput.Close();
        return producer;
    }

    private void OnLine(string? line)
    {
        if (line is null || !line.StartsWith('{')) return;
        using var doc = JsonDocument.Parse(line);
        var e = doc.RootElement;
        switch (e.GetProperty("type").GetString())
        {
            case "ack":
                lock (_acks) _acks.Add(new Ack(e.GetProperty("i").GetInt32(), e.GetProperty("p").GetInt32(), e.GetProperty("o").GetInt64(), e.GetProperty("t").GetInt64()));
                break;
            case "error":
                lock (_errors) _errors.Add(line);
                break;
            case "client_error":
                lock (_clientErrors) _clientErrors.Add(line);
                break;
            case "done":
                _done.TrySetResult(e.GetProperty("produced").GetInt32());
                break;
        }
    }

    public Ack[] Acks { get { lock (_acks) return [.. _acks]; } }
    public int AckCount { get { lock (_acks) return _acks.Count; } }

    /// <summary>Delivery failures: records the client gave up on (it retries retriable errors until message.timeout.ms).</summary>
    public string[] Errors { get { lock (_errors) return [.. _errors]; } }

    /// <summary>Client-level events (a broker went away, ...): informational.</summary>
    public string[] ClientErrors { get { lock (_clientErrors) return [.. _clientErrors]; } }

    public string Stderr { get { lock (_stderr) return _stderr.ToString(); } }

    public async Task WaitForAcksAsync(int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (AckCount < count)
        {
            if (_process.HasExited) throw new XunitException($"the producer exited with code {_process.ExitCode} after {AckCount} acks\n{Stderr}");
            if (DateTime.UtcNow > deadline) throw new XunitException($"only {AckCount} of {count} acks within {timeout}\n{string.Join('\n', Errors.Take(20))}\n{Stderr}");
            await Task.Delay(50);
        }
    }

    /// <summary>The first acknowledgement of each partition at or after a wall-clock time.</summary>
    public Dictionary<int, Ack> FirstAcksAfter(long timeMs)
    {
        var first = new Dictionary<int, Ack>();
        foreach (var a in Acks)
            if (a.TimeMs >= timeMs && (!first.TryGetValue(a.Partition, out var f) || a.TimeMs < f.TimeMs)) first[a.Partition] = a;
        return first;
    }

    /// <summary>Asks the producer to stop, waits for it to flush what it has, and returns how many records it produced.</summary>
    public async Task<int> StopAsync(TimeSpan? timeout = null)
    {
        await File.WriteAllTextAsync(_stopFile, "stop");
        try { return await _done.Task.WaitAsync(timeout ?? TimeSpan.FromSeconds(150)); }
        catch (TimeoutException) { throw new XunitException($"the producer did not finish flushing\n{Stderr}"); }
    }

    public async ValueTask DisposeAsync()
    {
        try { File.Delete(_stopFile); } catch (IOException) { }
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}

/// <summary>Reads topics back and checks them against what was acknowledged.</summary>
public static class Ledger
{
    /// <summary>Every record of every partition, read with confluent-kafka from the beginning to the end offsets.</summary>
    public static async Task<List<StoredRecord>> ReadAllAsync(string bootstrap, string topic, int partitions)
    {
        var result = await ClientRunner.RunAsync(ClientRunner.Python,
            [ChaosProducer.Script, "consume", "--bootstrap", bootstrap, "--topic", topic, "--partitions", partitions.ToString(System.Globalization.CultureInfo.InvariantCulture), "--timeout-ms", "90000"],
            timeout: TimeSpan.FromSeconds(120));
        // confluent-kafka 1.7 sometimes aborts at interpreter shutdown after finishing: "done" counts.
        if (result.TimedOut || result.Lines("done").Count == 0) result.EnsureSuccess();
        return [.. result.Lines("record").Select(e => new StoredRecord(e.GetProperty("p").GetInt32(), e.GetProperty("o").GetInt64(), e.GetProperty("v").GetString()!))];
    }

    /// <summary>
    /// Every acknowledged record is stored at the offset it was acknowledged with, holding its own
    /// value; no offset appears twice within a read. Returns a one-line summary.
    /// </summary>
    public static string Verify(IReadOnlyList<Ack> acks, IReadOnlyList<StoredRecord> stored)
    {
        var at = new Dictionary<(int, long), string>();
        foreach (var r in stored)
        {
            if (at.TryGetValue((r.Partition, r.Offset), out var other) && other != r.Value)
                throw new XunitException($"offset {r.Partition}@{r.Offset} was read with two values: {other} and {r.Value}");
            at[(r.Partition, r.Offset)] = r.Value;
        }
        var problems = new List<string>();
        foreach (var a in acks)
        {
            if (!at.TryGetValue((a.Partition, a.Offset), out var value)) problems.Add($"v-{a.Index} acknowledged at {a.Partition}@{a.Offset} is missing");
            else if (value != $"v-{a.Index}") problems.Add($"v-{a.Index} acknowledged at {a.Partition}@{a.Offset} was overwritten by {value}");
        }
        if (problems.Count > 0) throw new XunitException($"{problems.Count} acknowledged records lost or overwritten, e.g.:\n{string.Join('\n', problems.Take(20))}");
        int distinct = stored.Select(r => r.Value).Distinct().Count();
        return $"{acks.Count} acknowledged records all stored at their offsets; {stored.Count} records read ({stored.Count - distinct} duplicates of unacknowledged retries)";
    }

    /// <summary>Two reads of the same topic never disagree about an offset they both hold.</summary>
    public static void SameWhereBothRead(IReadOnlyList<StoredRecord> first, IReadOnlyList<StoredRecord> second)
    {
        var at = first.ToDictionary(r => (r.Partition, r.Offset), r => r.Value);
        foreach (var r in second)
            if (at.TryGetValue((r.Partition, r.Offset), out var v) && v != r.Value)
                throw new XunitException($"offset {r.Partition}@{r.Offset} read as {v} first and as {r.Value} later");
    }
}
