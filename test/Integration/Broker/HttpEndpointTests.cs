using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using KafScale.Integration.Harness;
using Xunit;
using Xunit.Abstractions;

namespace KafScale.Integration.Broker;

public sealed partial class HttpEndpointTests(ITestOutputHelper output) : BrokerTest(output)
{
    [Theory]
    [InlineData("healthz")]
    [InlineData("readyz")]
    public Task Health_and_readiness_answer_200(string path) =>
        WithBrokerAsync(async broker =>
        {
            using var http = new HttpClient { BaseAddress = broker.HttpBase, Timeout = TimeSpan.FromSeconds(20) };

            using HttpResponseMessage response = await http.GetAsync(path);

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        });

    [Fact]
    public Task Metrics_expose_produce_rate_request_counts_and_uptime_in_Prometheus_text() =>
        WithBrokerAsync(async broker =>
        {
            string topic = NewTopic("metrics");
            await RawRequests.CreateTopicAsync(broker, topic, partitions: 1);
            await using (RawKafkaConnection connection = await RawKafkaConnection.ConnectAsync(broker.KafkaPort))
            {
                for (int i = 0; i < 3; i++)
                {
                    Assert.Equal(0, (await RawRequests.ProduceAsync(connection, topic, 0, RawRequests.Batch("m", i * 5, 5))).ErrorCode);
                }
            }

            using var http = new HttpClient { BaseAddress = broker.HttpBase, Timeout = TimeSpan.FromSeconds(20) };
            using HttpResponseMessage response = await http.GetAsync("metrics");
            string text = await response.Content.ReadAsStringAsync();

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType);
            foreach (string name in new[] { "kafscale_produce_rps", "kafscale_requests_total", "kafscale_broker_uptime_seconds" })
            {
                Assert.True(Samples(text, name).Any(), $"no sample of {name} in /metrics:\n{text}");
                Assert.Contains($"# TYPE {name} ", text);
            }

            Assert.True(Samples(text, "kafscale_requests_total").Sum() >= 4, $"requests_total counts fewer than the 4 requests sent:\n{text}");
            Assert.True(Samples(text, "kafscale_broker_uptime_seconds").Single() >= 0);
        });

    /// <summary>The values of a metric's samples (any labels) in Prometheus text.</summary>
    private static IEnumerable<double> Samples(string text, string name)
    {
        foreach (Match m in SampleLine().Matches(text))
        {
            if (m.Groups["name"].Value == name)
            {
                yield return double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture);
            }
        }
    }

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(?<value>[-+0-9.eE]+|NaN)(\s+\d+)?\s*$", RegexOptions.Multiline)]
    private static partial Regex SampleLine();
}
