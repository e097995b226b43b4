using System.Globalization;
using System.Text;
using System.Text.Json;
using Xunit.Sdk;

namespace KafScale.TestSupport;

/// <summary>
/// One real Kafka client, driven through its script in test/clients (or kcat's command line).
/// Consumption never uses a consumer group: partitions are assigned and read from the start.
/// </summary>
public abstract class KafkaClient
{
    public abstract string Name { get; }

    /// <summary>The compression codecs this client offers as installed here.</summary>
    public abstract IReadOnlyList<string> Codecs { get; }

    /// <summary>kafka-python 2.0.2 and kafkajs 2.2.4 refuse a null header value when producing.</summary>
    public virtual bool CanProduceNullHeaderValues => true;

    public override string ToString() => Name;

    public abstract Task<ClientResult> ProduceAsync(string bootstrap, string topic, IReadOnlyList<TestRecord> records,
        string acks = "all", string compression = "none");

    /// <summary>Reads every record from the beginning to the end offsets taken when it starts.</summary>
    public abstract Task<IReadOnlyList<ConsumedRecord>> ConsumeAsync(string bootstrap, string topic, IReadOnlyList<int>? partitions = null);

    public static KafkaClient ByName(string name) => name switch
    {
        "kcat" => new Kcat(),
        // kafka-python does snappy, lz4 and zstd only with python modules the distribution does not install.
        "kafka-python" => new ScriptClient("kafka-python", "kafka_python_client.py", ["gzip", "snappy", "lz4", "zstd"], nullHeaderValues: false),
        "confluent-kafka" => new ScriptClient("confluent-kafka", "confluent_kafka_client.py", ["gzip", "snappy", "lz4", "zstd"], nullHeaderValues: true),
        "kafkajs" => new ScriptClient("kafkajs", "kafkajs_client.js", ["gzip"], nullHeaderValues: false),
        _ => throw new ArgumentException($"unknown client {name}", nameof(name)),
    };

    public static ScriptClient Script(string name) => (ScriptClient)ByName(name);
}

/// <summary>kafka-python, confluent-kafka or kafkajs through its driver script.</summary>
public sealed class ScriptClient(string name, string script, IReadOnlyList<string> codecs, bool nullHeaderValues) : KafkaClient
{
    public override string Name => name;

    public override bool CanProduceNullHeaderValues => nullHeaderValues;

    public override IReadOnlyList<string> Codecs => codecs;

    public Task<ClientResult> RunAsync(string command, string bootstrap, string topic, IEnumerable<string> args, string? stdin = null)
    {
        string[] all = [command, "--bootstrap", bootstrap, "--topic", topic, .. args];
        return script.EndsWith(".js", StringComparison.Ordinal)
            ? ClientRunner.NodeAsync(script, all, stdin)
            : ClientRunner.PythonAsync(script, all, stdin);
    }

    public override Task<ClientResult> ProduceAsync(string bootstrap, string topic, IReadOnlyList<TestRecord> records,
        string acks = "all", string compression = "none")
    {
        var stdin = new StringBuilder();
        foreach (TestRecord r in records)
        {
            stdin.Append(r.ToJsonLine()).Append('\n');
        }

        return RunAsync("produce", bootstrap, topic, ["--acks", acks, "--compression", compression], stdin.ToString());
    }

    public override async Task<IReadOnlyList<ConsumedRecord>> ConsumeAsync(string bootstrap, string topic, IReadOnlyList<int>? partitions = null)
    {
        var args = new List<string>();
        foreach (int p in partitions ?? [])
        {
            args.Add("--partition");
            args.Add(p.ToString(CultureInfo.InvariantCulture));
        }

        ClientResult result = await RunAsync("consume", bootstrap, topic, args).ConfigureAwait(false);
        // confluent-kafka 1.7 sometimes aborts while the interpreter shuts down, after the
        // consumer has finished ("none_dealloc"): a run that printed its "done" line counts.
        if (result.TimedOut || result.Lines("done").Count == 0) result.EnsureSuccess();
        return result.Lines("record").Select(ConsumedRecord.FromDriverLine).ToArray();
    }

    /// <summary>An admin operation (create, delete, create-partitions, describe-configs, alter-configs, metadata).</summary>
    public async Task<JsonElement> AdminAsync(string bootstrap, string topic, string op, params string[] args)
    {
        ClientResult result = (await RunAsync("admin", bootstrap, topic, ["--op", op, .. args]).ConfigureAwait(false)).EnsureSuccess();
        IReadOnlyList<JsonElement> lines = result.Lines("result");
        if (lines.Count == 0)
        {
            throw new XunitException($"admin {op} printed no result: {result}");
        }

        return lines[0];
    }

    /// <summary>Earliest, latest and by-time offsets of each partition.</summary>
    public async Task<IReadOnlyList<JsonElement>> OffsetsAsync(string bootstrap, string topic, int partition, params long[] times)
    {
        var args = new List<string> { "--partition", partition.ToString(CultureInfo.InvariantCulture) };
        foreach (long t in times)
        {
            args.Add("--time");
            args.Add(t.ToString(CultureInfo.InvariantCulture));
        }

        ClientResult result = (await RunAsync("offsets", bootstrap, topic, args).ConfigureAwait(false)).EnsureSuccess();
        return result.Lines("result");
    }
}

/// <summary>
/// kcat 1.7 (librdkafka). Headers are per run, so records are produced in runs of consecutive
/// records with the same partition and headers; null values use -Z (an empty value is sent as null).
/// </summary>
public sealed class Kcat : KafkaClient
{
    public override string Name => "kcat";

    public override IReadOnlyList<string> Codecs { get; } = ["gzip", "snappy", "lz4", "zstd"];

    public override async Task<ClientResult> ProduceAsync(string bootstrap, string topic, IReadOnlyList<TestRecord> records,
        string acks = "all", string compression = "none")
    {
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        var commands = new List<string>();
        int exitCode = 0;
        foreach (List<TestRecord> run in Runs(records))
        {
            TestRecord first = run[0];
            if (first.Partition is null || first.Timestamp is not null)
            {
                throw new ArgumentException("kcat runs here need an explicit partition and no timestamp");
            }

            var args = new List<string>
            {
                "-P", "-b", bootstrap, "-t", topic, "-p", first.Partition.Value.ToString(CultureInfo.InvariantCulture),
                "-K", "\\t", "-Z",
                "-X", $"acks={(acks == "all" ? "-1" : acks)}",
                "-X", $"compression.codec={compression}",
            };
            foreach (Header h in first.Headers)
            {
                args.Add("-H");
                args.Add(h.Value is null ? h.Name : $"{h.Name}={h.Value}");
            }

            var input = new StringBuilder();
            foreach (TestRecord r in run)
            {
                if (r.Value == "" || r.Key == "" || (r.Value?.Contains('\n') ?? false) || (r.Key?.Contains('\t') ?? false))
                {
                    throw new ArgumentException("kcat cannot send empty strings, tabs in keys or newlines");
                }

                // No key delimiter means no key; an empty value after -Z is a null value.
                input.Append(r.Key is null ? "" : r.Key + "\t").Append(r.Value ?? "").Append('\n');
            }

            ClientResult result = await ClientRunner.KcatAsync(args, input.ToString()).ConfigureAwait(false);
            commands.Add(result.CommandLine);
            stdout.Append(result.Stdout);
            stderr.Append(result.Stderr);
            if (result.TimedOut || result.ExitCode != 0)
            {
                return result;
            }
        }

        return new ClientResult(string.Join("\n", commands), exitCode, stdout.ToString(), stderr.ToString(), TimedOut: false);
    }

    private static IEnumerable<List<TestRecord>> Runs(IReadOnlyList<TestRecord> records)
    {
        foreach (var byPartition in records.GroupBy(r => r.Partition))
        {
            List<TestRecord>? run = null;
            foreach (TestRecord r in byPartition)
            {
                if (run is not null && !run[0].Headers.SequenceEqual(r.Headers))
                {
                    yield return run;
                    run = null;
                }

                (run ??= new List<TestRecord>()).Add(r);
            }

            if (run is not null)
            {
                yield return run;
            }
        }
    }

    public override async Task<IReadOnlyList<ConsumedRecord>> ConsumeAsync(string bootstrap, string topic, IReadOnlyList<int>? partitions = null)
    {
        var records = new List<ConsumedRecord>();
        IEnumerable<int?> runs = partitions is null ? [null] : partitions.Select(p => (int?)p);
        foreach (int? partition in runs)
        {
            var args = new List<string> { "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-J", "-Z", "-q" };
            if (partition is int p)
            {
                args.Add("-p");
                args.Add(p.ToString(CultureInfo.InvariantCulture));
            }

            ClientResult result = (await ClientRunner.KcatAsync(args).ConfigureAwait(false)).EnsureSuccess();
            foreach (string line in result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                records.Add(FromJsonEnvelope(JsonDocument.Parse(line).RootElement));
            }
        }

        return records;
    }

    /// <summary>kcat -J: {"partition","offset","tstype","ts","headers":[name, value, ...],"key","payload"}.</summary>
    internal static ConsumedRecord FromJsonEnvelope(JsonElement e)
    {
        var headers = new List<Header>();
        if (e.TryGetProperty("headers", out JsonElement h) && h.ValueKind == JsonValueKind.Array)
        {
            JsonElement[] items = h.EnumerateArray().ToArray();
            for (int i = 0; i + 1 < items.Length; i += 2)
            {
                headers.Add(new Header(items[i].GetString()!, ConsumedRecord.NullableString(items[i + 1])));
            }
        }

        return new ConsumedRecord(
            e.GetProperty("partition").GetInt32(),
            e.GetProperty("offset").GetInt64(),
            ConsumedRecord.NullableString(e.GetProperty("key")),
            ConsumedRecord.NullableString(e.GetProperty("payload")),
            headers,
            e.GetProperty("ts").GetInt64(),
            e.GetProperty("tstype").GetString() is "logappend" or "log_append" or "LogAppendTime");
    }

    /// <summary>kcat -L -J: the cluster metadata as kcat sees it.</summary>
    public static async Task<JsonElement> MetadataAsync(string bootstrap, string? topic = null)
    {
        var args = new List<string> { "-L", "-J", "-b", bootstrap };
        if (topic is not null)
        {
            args.Add("-t");
            args.Add(topic);
        }

        ClientResult result = (await ClientRunner.KcatAsync(args).ConfigureAwait(false)).EnsureSuccess();
        return JsonDocument.Parse(result.Stdout).RootElement;
    }
}
