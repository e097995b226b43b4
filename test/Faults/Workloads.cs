using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace KafScale.Faults;

/// <summary>A delivery report: record i of a producer is at partition p, offset o (-1: acknowledged without an offset); produce() was called at SentMs, the ack came at TimeMs (wall-clock ms).</summary>
public readonly record struct Ack(int Index, int Partition, long Offset, long SentMs, long TimeMs);

/// <summary>A record as a reader saw it.</summary>
public readonly record struct StoredRecord(string Topic, int Partition, long Offset, string Value);

/// <summary>
/// One Clients/faults_client.py process running in the background until its stop file appears;
/// every JSON line of its output is handed to the owner once, as it arrives.
/// </summary>
public sealed class BackgroundClient : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _stopFile;
    private readonly StringBuilder _stderr = new();
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static string Script => Path.Combine(RepoPaths.Root, "test", "Faults", "Clients", "faults_client.py");

    private BackgroundClient(IEnumerable<string> args, Action<JsonElement> onLine)
    {
        _stopFile = Path.Combine(Path.GetTempPath(), "kafscale-faults-stop-" + Guid.NewGuid().ToString("N"));
        _process = new Process { StartInfo = ClientRunner.StartInfo(ClientRunner.Python, [Script, .. args, "--stop-file", _stopFile]) };
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null || !e.Data.StartsWith('{')) return;
            try
            {
                using var doc = JsonDocument.Parse(e.Data);
                onLine(doc.RootElement);
                if (doc.RootElement.GetProperty("type").GetString() == "done") _done.TrySetResult();
            }
            catch (Exception x) when (x is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
            {
                // A line of a shape the suite does not know: kept for the report instead of ending the run.
                lock (_stderr) _stderr.Append("unreadable line: ").Append(e.Data).Append(" (").Append(x.Message).Append(")\n");
            }
        };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_stderr) _stderr.Append(e.Data).Append('\n'); };
    }

    public static BackgroundClient Start(IEnumerable<string> args, Action<JsonElement> onLine)
    {
        var client = new BackgroundClient(args, onLine);
        client._process.Start();
        client._process.BeginOutputReadLine();
        client._process.BeginErrorReadLine();
        client._process.StandardInput.Close();
        return client;
    }

    public bool HasExited => _process.HasExited;

    public string Stderr { get { lock (_stderr) return _stderr.ToString(); } }

    /// <summary>Asks the client to stop and waits for its last line ("done").</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        await File.WriteAllTextAsync(_stopFile, "stop");
        try { await _done.Task.WaitAsync(timeout); }
        catch (TimeoutException) { throw new TimeoutException($"{ClientRunner.CommandLine(_process.StartInfo)} did not finish within {timeout}\n{Stderr}"); }
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

/// <summary>A confluent-kafka producer (acks=all) writing "name-i" to partition i % partitions of one topic, logging every ack.</summary>
public sealed class ProducerWorkload : IAsyncDisposable
{
    private readonly List<Ack> _acks = [];
    private readonly List<string> _errors = [];
    private readonly List<string> _fatal = [];
    private BackgroundClient? _client;

    private ProducerWorkload(string name, string topic, bool idempotent)
    {
        Name = name;
        Topic = topic;
        Idempotent = idempotent;
    }

    public string Name { get; }
    public string Topic { get; }
    public bool Idempotent { get; }
    public int Produced { get; private set; }

    public static ProducerWorkload Start(string bootstrap, string name, string topic, int partitions, double rate, bool idempotent)
    {
        var workload = new ProducerWorkload(name, topic, idempotent);
        List<string> args = ["produce", "--bootstrap", bootstrap, "--name", name, "--topic", topic,
            "--partitions", partitions.ToString(CultureInfo.InvariantCulture), "--rate", rate.ToString(CultureInfo.InvariantCulture)];
        if (idempotent) args.Add("--idempotent");
        workload._client = BackgroundClient.Start(args, workload.OnLine);
        return workload;
    }

    private void OnLine(JsonElement e)
    {
        switch (e.GetProperty("type").GetString())
        {
            case "ack":
                var ack = new Ack(e.GetProperty("i").GetInt32(), e.GetProperty("p").GetInt32(),
                    // librdkafka acknowledges without an offset when the broker says the batch is a duplicate it already has.
                    e.GetProperty("o").ValueKind == JsonValueKind.Number ? e.GetProperty("o").GetInt64() : -1,
                    e.GetProperty("s").GetInt64(), e.GetProperty("t").GetInt64());
                lock (_acks) _acks.Add(ack);
                break;
            case "error":
                lock (_errors) _errors.Add(e.GetRawText());
                break;
            case "client_error" when e.TryGetProperty("fatal", out var fatal) && fatal.GetBoolean():
                lock (_fatal) _fatal.Add(e.GetRawText());
                break;
            case "done":
                Produced = e.GetProperty("produced").GetInt32();
                break;
        }
    }

    public Ack[] Acks { get { lock (_acks) return [.. _acks]; } }
    public int AckCount { get { lock (_acks) return _acks.Count; } }

    /// <summary>Records the client gave up on (after message.timeout.ms): not losses, but reported.</summary>
    public string[] Errors { get { lock (_errors) return [.. _errors]; } }

    /// <summary>Fatal client errors (an idempotent producer's sequence broke, ...).</summary>
    public string[] FatalErrors { get { lock (_fatal) return [.. _fatal]; } }

    public bool HasExited => _client!.HasExited;
    public string Stderr => _client!.Stderr;

    public Task StopAsync() => _client!.StopAsync(TimeSpan.FromSeconds(300));

    public ValueTask DisposeAsync() => _client?.DisposeAsync() ?? ValueTask.CompletedTask;
}

/// <summary>A confluent-kafka consumer-group member reading topics while the faults happen, recording what it reads.</summary>
public sealed class GroupWorkload : IAsyncDisposable
{
    private readonly List<StoredRecord> _reads = [];
    private BackgroundClient? _client;

    public static GroupWorkload Start(string bootstrap, string group, IEnumerable<string> topics)
    {
        var workload = new GroupWorkload();
        List<string> args = ["group", "--bootstrap", bootstrap, "--group", group];
        foreach (string t in topics) args.AddRange(["--topic", t]);
        workload._client = BackgroundClient.Start(args, workload.OnLine);
        return workload;
    }

    private void OnLine(JsonElement e)
    {
        if (e.GetProperty("type").GetString() != "read") return;
        var r = new StoredRecord(e.GetProperty("topic").GetString()!, e.GetProperty("p").GetInt32(),
                    // librdkafka acknowledges without an offset when the broker says the batch is a duplicate it already has.
                    e.GetProperty("o").ValueKind == JsonValueKind.Number ? e.GetProperty("o").GetInt64() : -1, e.GetProperty("v").GetString()!);
        lock (_reads) _reads.Add(r);
    }

    public StoredRecord[] Reads { get { lock (_reads) return [.. _reads]; } }

    public Task StopAsync() => _client!.StopAsync(TimeSpan.FromSeconds(60));

    public ValueTask DisposeAsync() => _client?.DisposeAsync() ?? ValueTask.CompletedTask;
}

/// <summary>A whole topic as one reader saw it: every record up to the end offsets taken when it started.</summary>
public sealed record TopicRead(string Label, string Topic, IReadOnlyList<StoredRecord> Records, IReadOnlyDictionary<int, long> EndOffsets)
{
    public static async Task<TopicRead> ReadAsync(string label, string bootstrap, string topic, int partitions)
    {
        var result = await ClientRunner.RunAsync(ClientRunner.Python,
            [BackgroundClient.Script, "read", "--bootstrap", bootstrap, "--topic", topic,
             "--partitions", partitions.ToString(CultureInfo.InvariantCulture), "--timeout-ms", "120000"],
            timeout: TimeSpan.FromSeconds(150));
        var done = result.Lines("done");
        // confluent-kafka sometimes aborts at interpreter shutdown after finishing: "done" counts.
        if (result.TimedOut || done.Count == 0) result.EnsureSuccess();
        var end = new Dictionary<int, long>();
        foreach (var p in done[0].GetProperty("end").EnumerateObject()) end[int.Parse(p.Name, CultureInfo.InvariantCulture)] = p.Value.GetInt64();
        List<StoredRecord> records = [.. result.Lines("record").Select(e => new StoredRecord(topic, e.GetProperty("p").GetInt32(),
                    // librdkafka acknowledges without an offset when the broker says the batch is a duplicate it already has.
                    e.GetProperty("o").ValueKind == JsonValueKind.Number ? e.GetProperty("o").GetInt64() : -1, e.GetProperty("v").GetString()!))];
        return new TopicRead(label, topic, records, end);
    }
}
