using KafScale.Protocol;
using KafScale.Protocol.Messages;
using KafScale.Records;

namespace KafScale.Cluster.Tests.Harness;

/// <summary>Produce and read with the repository's own codec, for steps a client library would hide (one request, its exact error).</summary>
public static class RawProduce
{
    public static byte[] Batch(params string[] values)
    {
        using var builder = new RecordBatchBuilder(CompressionType.None);
        long ts = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        foreach (string v in values) builder.Add(null, System.Text.Encoding.UTF8.GetBytes(v), ts);
        return builder.Build();
    }

    /// <summary>
    /// Produces like a client would to a broker that metadata names the leader: retries while it
    /// answers NOT_LEADER_OR_FOLLOWER or LEADER_NOT_AVAILABLE (it may still be opening the partition).
    /// </summary>
    public static async Task<(short Error, long BaseOffset)> ProduceToLeaderAsync(BrokerNode broker, string topic, int partition, params string[] values)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            var result = await ProduceAsync(broker, topic, partition, values);
            if (result.Error is not (5 or 6) || DateTime.UtcNow > deadline) return result;
            await Task.Delay(100);
        }
    }

    /// <summary>One acks=all produce request to one broker: the partition's error code and base offset.</summary>
    public static async Task<(short Error, long BaseOffset)> ProduceAsync(BrokerNode broker, string topic, int partition, params string[] values)
    {
        await using var connection = await RawKafkaConnection.ConnectAsync(broker.KafkaPort);
        var request = new ProduceRequest
        {
            Acks = -1,
            TimeoutMs = 60_000,
            TopicData = [new ProduceRequest.TopicProduceData { Name = topic, PartitionData = [new ProduceRequest.PartitionProduceData { Index = partition, Records = Batch(values) }] }],
        };
        int correlationId = connection.NextCorrelationId();
        await connection.SendFrameAsync(RawKafkaConnection.EncodeRequest(ApiKeys.Produce, 9, correlationId, request));
        byte[] frame = await connection.ReadFrameAsync(TimeSpan.FromSeconds(90)) ?? throw new IOException("the broker closed the connection");
        var response = RawKafkaConnection.DecodeResponse<ProduceResponse>(frame, ApiKeys.Produce, 9, correlationId);
        var p = response.Responses[0].PartitionResponses[0];
        return (p.ErrorCode, p.BaseOffset);
    }
}
