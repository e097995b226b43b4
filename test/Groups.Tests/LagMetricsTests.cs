using KafScale.Observability;

namespace KafScale.Groups.Tests;

/// <summary>kafscale_consumer_lag, kafscale_consumer_lag_max and kafka_consumergroup_lag.</summary>
public sealed class LagMetricsTests
{
    [Fact]
    public async Task Lag_is_the_high_watermark_minus_the_committed_offset_per_group_and_partition()
    {
        await using var host = await GroupsHost.StartAsync();
        var registry = new MetricsRegistry();
        host.Groups.RegisterLagMetrics(registry, (topic, partition) => topic == "orders" ? 100 + partition : null, TimeSpan.FromMilliseconds(50));
        await host.Groups.CommitOffsetsAsync(GroupsHost.Commit("g1", -1, "", ("orders", 0, 40), ("orders", 1, 101), ("gone", 0, 5)));
        await host.Groups.CommitOffsetsAsync(GroupsHost.Commit("g2", -1, "", ("orders", 0, 10)));

        string text = registry.Render();
        Assert.Contains("kafka_consumergroup_lag{group=\"g1\",topic=\"orders\",partition=\"0\"} 60\n", text);
        Assert.Contains("kafka_consumergroup_lag{group=\"g1\",topic=\"orders\",partition=\"1\"} 0\n", text);
        Assert.Contains("kafka_consumergroup_lag{group=\"g2\",topic=\"orders\",partition=\"0\"} 90\n", text);
        Assert.DoesNotContain("topic=\"gone\"", text);
        Assert.Contains("kafscale_consumer_lag_max 90\n", text);
        Assert.Contains("# TYPE kafscale_consumer_lag histogram", text);
        await GroupsHost.EventuallyAsync(() => !registry.Render().Contains("kafscale_consumer_lag_count 0\n"), "a lag sample");
        Assert.Contains("kafscale_consumer_lag_bucket{le=\"100\"}", registry.Render());
    }
}
