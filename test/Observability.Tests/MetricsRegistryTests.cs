using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace KafScale.Observability.Tests;

public class MetricsRegistryTests
{
    [Fact]
    public void Counters_gauges_and_labelled_families_render_in_prometheus_text_format()
    {
        var r = new MetricsRegistry();
        r.Counter("kafscale_test_total", "A counter.").Add(3);
        r.Gauge("kafscale_test_gauge", "A gauge.").Set(1.5);
        var fam = r.CounterFamily("kafscale_test_by_api", "Per API.", "api");
        fam.WithLabels("Produce").Increment();
        fam.WithLabels("Fetch").Add(2);
        fam.WithLabels("Produce").Increment();
        string text = r.Render();

        Assert.Contains("# HELP kafscale_test_total A counter.\n# TYPE kafscale_test_total counter\nkafscale_test_total 3\n", text);
        Assert.Contains("# TYPE kafscale_test_gauge gauge\nkafscale_test_gauge 1.5\n", text);
        Assert.Contains("kafscale_test_by_api{api=\"Produce\"} 2\n", text);
        Assert.Contains("kafscale_test_by_api{api=\"Fetch\"} 2\n", text);
    }

    [Fact]
    public void Histogram_buckets_are_cumulative_and_end_with_inf_sum_and_count()
    {
        var r = new MetricsRegistry();
        var h = r.Histogram("kafscale_test_ms", "Latency.", [1, 10, 100]);
        h.Observe(0.5);
        h.Observe(5);
        h.Observe(5);
        h.Observe(1000);
        string text = r.Render();
        Assert.Contains("kafscale_test_ms_bucket{le=\"1\"} 1\n", text);
        Assert.Contains("kafscale_test_ms_bucket{le=\"10\"} 3\n", text);
        Assert.Contains("kafscale_test_ms_bucket{le=\"100\"} 3\n", text);
        Assert.Contains("kafscale_test_ms_bucket{le=\"+Inf\"} 4\n", text);
        Assert.Contains("kafscale_test_ms_sum 1010.5\n", text);
        Assert.Contains("kafscale_test_ms_count 4\n", text);
    }

    [Fact]
    public void Label_values_are_escaped()
    {
        var r = new MetricsRegistry();
        r.CounterFamily("kafscale_test_escape", "Escaping.", "topic").WithLabels("a\"b\\c\nd").Increment();
        Assert.Contains("kafscale_test_escape{topic=\"a\\\"b\\\\c\\nd\"} 1\n", r.Render());
    }

    [Fact]
    public void A_metric_name_cannot_be_registered_twice()
    {
        var r = new MetricsRegistry();
        r.Counter("kafscale_dup", "x");
        Assert.Throws<InvalidOperationException>(() => r.Gauge("kafscale_dup", "y"));
    }

    [Fact]
    public async Task Http_endpoint_serves_mapped_paths_and_404s_the_rest()
    {
        await using var http = new HttpEndpoint(new IPEndPoint(IPAddress.Loopback, 0), NullLogger.Instance);
        http.Map("/metrics", () => new HttpReply(200, "text/plain", "kafscale_x 1\n"));
        http.Map("/readyz", () => new HttpReply(503, "text/plain", "no\n"));
        http.Start();
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http.LocalEndPoint.Port}") };
        var metrics = await client.GetAsync("/metrics?x=1");
        Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
        Assert.Equal("kafscale_x 1\n", await metrics.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync("/readyz")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/nope")).StatusCode);
    }

    [Fact]
    public async Task Http_endpoint_answers_garbage_with_400_and_keeps_serving()
    {
        await using var http = new HttpEndpoint(new IPEndPoint(IPAddress.Loopback, 0), NullLogger.Instance);
        http.Map("/healthz", () => new HttpReply(200, "text/plain", "ok\n"));
        http.Start();
        using (var raw = new TcpClient())
        {
            await raw.ConnectAsync(IPAddress.Loopback, http.LocalEndPoint.Port);
            var stream = raw.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes("garbage\r\n\r\n"));
            var buffer = new byte[256];
            int n = await stream.ReadAsync(buffer);
            Assert.StartsWith("HTTP/1.1 400", Encoding.ASCII.GetString(buffer, 0, n));
        }
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http.LocalEndPoint.Port}") };
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);
    }
}

public class StoreHealthTests
{
    [Fact]
    public void No_requests_is_healthy()
    {
        var h = new StoreHealth(new StoreHealthThresholds());
        Assert.Equal(StoreHealthState.Healthy, h.State);
        Assert.False(h.LastKnownUnavailable);
    }

    [Fact]
    public void Error_rate_at_the_warning_threshold_is_degraded_and_at_the_critical_one_unavailable()
    {
        var h = new StoreHealth(new StoreHealthThresholds(ErrorRateWarn: 0.2, ErrorRateCrit: 0.6));
        for (int i = 0; i < 8; i++) h.Record(1, ok: true);
        h.Record(1, ok: false);
        h.Record(1, ok: false);
        Assert.Equal(StoreHealthState.Degraded, h.State);
        for (int i = 0; i < 20; i++) h.Record(1, ok: false);
        Assert.Equal(StoreHealthState.Unavailable, h.State);
        Assert.True(h.LastKnownUnavailable);
        var (_, rate, count) = h.Window();
        Assert.Equal(30, count);
        Assert.Equal(22.0 / 30, rate, 6);
    }

    [Fact]
    public void Average_latency_drives_the_state_too()
    {
        var h = new StoreHealth(new StoreHealthThresholds(LatencyWarnMs: 500, LatencyCritMs: 3000));
        h.Record(600, ok: true);
        Assert.Equal(StoreHealthState.Degraded, h.State);
        h.Record(9000, ok: true);
        Assert.Equal(StoreHealthState.Unavailable, h.State);
        Assert.Equal(4800, h.Window().AverageLatencyMs, 3);
    }

    [Fact]
    public void Health_metrics_use_upstream_names_and_mark_only_the_current_state()
    {
        var r = new MetricsRegistry();
        var h = new StoreHealth(new StoreHealthThresholds());
        h.Register(r);
        for (int i = 0; i < 5; i++) h.Record(1, ok: false);
        string text = r.Render();
        Assert.Contains("kafscale_s3_health_state{state=\"healthy\"} 0\n", text);
        Assert.Contains("kafscale_s3_health_state{state=\"unavailable\"} 1\n", text);
        Assert.Contains("kafscale_s3_error_rate 1\n", text);
        Assert.Contains("kafscale_s3_latency_ms_avg 1\n", text);
        Assert.Contains("kafscale_s3_state_duration_seconds ", text);
    }
}

public class StoreHealthRecoveryTests
{
    [Fact]
    public void A_run_of_fast_successes_after_an_outage_makes_the_store_healthy_again()
    {
        var h = new StoreHealth(new StoreHealthThresholds());
        for (int i = 0; i < 40; i++) h.Record(1, ok: false);
        Assert.Equal(StoreHealthState.Unavailable, h.State);
        for (int i = 0; i < StoreHealth.RecoveryRun - 1; i++) h.Record(1, ok: true);
        Assert.Equal(StoreHealthState.Unavailable, h.State);
        h.Record(1, ok: true);
        Assert.Equal(StoreHealthState.Healthy, h.State);
        Assert.False(h.LastKnownUnavailable);
    }

    [Fact]
    public void Successes_interrupted_by_a_failure_do_not_reset_the_window()
    {
        var h = new StoreHealth(new StoreHealthThresholds());
        for (int i = 0; i < 40; i++) h.Record(1, ok: false);
        for (int i = 0; i < StoreHealth.RecoveryRun - 1; i++) h.Record(1, ok: true);
        h.Record(1, ok: false);
        for (int i = 0; i < StoreHealth.RecoveryRun - 1; i++) h.Record(1, ok: true);
        Assert.Equal(StoreHealthState.Unavailable, h.State);
    }
}
