using System.Globalization;
using System.Text.RegularExpressions;
using KafScale.Integration.Harness;
using KafScale.Protocol;
using KafScale.Protocol.Messages;
using Xunit;

namespace KafScale.Integration.Groups;

/// <summary>
/// What the broker itself says about a group, read without any client library: committed
/// offsets (OffsetFetch), lag (/metrics), and the records a test produces for groups to read.
/// </summary>
public static partial class GroupChecks
{
    public const short OffsetFetchVersion = 7;

    /// <summary>The group's committed offset of each partition (-1 where nothing is committed).</summary>
    public static async Task<IReadOnlyDictionary<int, long>> CommittedAsync(BrokerProcess broker, string group, string topic, int partitions)
    {
        await using RawKafkaConnection connection = await RawKafkaConnection.ConnectAsync(broker.KafkaPort);
        var request = new OffsetFetchRequest
        {
            GroupId = group,
            Topics = [new OffsetFetchRequest.OffsetFetchRequestTopic { Name = topic, PartitionIndexes = Enumerable.Range(0, partitions).ToList() }],
        };
        OffsetFetchResponse response = await connection.SendAsync<OffsetFetchResponse>(ApiKeys.OffsetFetch, OffsetFetchVersion, request);
        Assert.True(response.ErrorCode == 0, $"OffsetFetch {group}: error {response.ErrorCode}");
        var committed = new Dictionary<int, long>();
        foreach (OffsetFetchResponse.OffsetFetchResponsePartition p in Assert.Single(response.Topics).Partitions)
        {
            Assert.True(p.ErrorCode == 0, $"OffsetFetch {group} {topic}/{p.PartitionIndex}: error {p.ErrorCode}");
            committed[p.PartitionIndex] = p.CommittedOffset;
        }

        return committed;
    }

    /// <summary>The high watermark of each partition.</summary>
    public static async Task<IReadOnlyDictionary<int, long>> HighWatermarksAsync(BrokerProcess broker, string topic, int partitions)
    {
        var result = new Dictionary<int, long>();
        for (int p = 0; p < partitions; p++)
        {
            result[p] = await RawRequests.ListOffsetAsync(broker, topic, p, -1);
        }

        return result;
    }

    /// <summary>kafka_consumergroup_lag samples of one group and topic, by partition, from /metrics.</summary>
    public static async Task<IReadOnlyDictionary<int, double>> LagMetricAsync(BrokerProcess broker, string group, string topic)
    {
        using var http = new HttpClient { BaseAddress = broker.HttpBase, Timeout = TimeSpan.FromSeconds(20) };
        string text = await http.GetStringAsync("metrics");
        var lags = new Dictionary<int, double>();
        foreach (Match m in LagSample().Matches(text))
        {
            var labels = Label().Matches(m.Groups["labels"].Value).ToDictionary(l => l.Groups["name"].Value, l => l.Groups["value"].Value);
            if (labels.GetValueOrDefault("group") == group && labels.GetValueOrDefault("topic") == topic)
            {
                lags[int.Parse(labels["partition"], CultureInfo.InvariantCulture)] = double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture);
            }
        }

        return lags;
    }

    /// <summary>
    /// Produces <paramref name="count"/> records with values "{prefix}-{i}", record i to partition
    /// i % partitions, one batch per partition; returns the values.
    /// </summary>
    public static async Task<IReadOnlyList<string>> ProduceAsync(BrokerProcess broker, string topic, int partitions, string prefix, int count)
    {
        await using RawKafkaConnection connection = await RawKafkaConnection.ConnectAsync(broker.KafkaPort);
        var values = new List<string>();
        for (int p = 0; p < partitions; p++)
        {
            int[] indexes = Enumerable.Range(0, count).Where(i => i % partitions == p).ToArray();
            if (indexes.Length == 0)
            {
                continue;
            }

            using var builder = new KafScale.Records.RecordBatchBuilder();
            long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            foreach (int i in indexes)
            {
                string value = $"{prefix}-{i}";
                builder.Add(System.Text.Encoding.UTF8.GetBytes($"k-{i}"), System.Text.Encoding.UTF8.GetBytes(value), now);
                values.Add(value);
            }

            ProduceResponse.PartitionProduceResponse response = await RawRequests.ProduceAsync(connection, topic, p, builder.Build());
            Assert.True(response.ErrorCode == 0, $"Produce {topic}/{p}: error {response.ErrorCode}");
        }

        return values;
    }

    /// <summary>Values read more than once, and expected values never read.</summary>
    public static (IReadOnlyList<string> Duplicates, IReadOnlyList<string> Missing) Compare(IEnumerable<string> expected, IEnumerable<string> read)
    {
        var counts = new Dictionary<string, int>();
        foreach (string v in read)
        {
            counts[v] = counts.GetValueOrDefault(v) + 1;
        }

        string[] duplicates = counts.Where(c => c.Value > 1).Select(c => $"{c.Key} x{c.Value}").Order().ToArray();
        string[] missing = expected.Where(v => !counts.ContainsKey(v)).ToArray();
        return (duplicates, missing);
    }

    [GeneratedRegex(@"^kafka_consumergroup_lag\{(?<labels>[^}]*)\}\s+(?<value>[-+0-9.eE]+|NaN)", RegexOptions.Multiline)]
    private static partial Regex LagSample();

    [GeneratedRegex(@"(?<name>[a-zA-Z_][a-zA-Z0-9_]*)=""(?<value>[^""]*)""")]
    private static partial Regex Label();
}
