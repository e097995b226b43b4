using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Client.Tests;

public sealed class ApiVersionsNegotiationTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    [Fact]
    public async Task Each_api_gets_the_highest_version_both_the_broker_and_the_client_support()
    {
        await using KafkaConnection connection = await KafkaConnection.ConnectAsync("127.0.0.1", fixture.Broker.KafkaPort);

        Assert.NotEmpty(connection.BrokerVersions);
        foreach (BrokerApiVersion broker in connection.BrokerVersions)
        {
            if (!KafkaConnection.TryGetClientRange(broker.ApiKey, out short min, out short max))
            {
                Assert.False(connection.TryGetVersion(broker.ApiKey, out _));
                continue;
            }

            short expected = Math.Min(max, broker.MaxVersion);
            if (expected >= Math.Max(min, broker.MinVersion))
            {
                Assert.True(connection.TryGetVersion(broker.ApiKey, out short version));
                Assert.Equal(expected, version);
            }
            else
            {
                Assert.False(connection.TryGetVersion(broker.ApiKey, out _));
            }
        }

        Assert.True(connection.GetVersion(ProduceRequest.ApiKey) >= 3);
        Assert.True(connection.GetVersion(FetchRequest.ApiKey) >= 4);
    }

    [Fact]
    public async Task A_broker_with_older_versions_gets_requests_in_those_versions()
    {
        await using var fake = new FakeBroker(
            [(ApiVersionsRequest.ApiKey, 0, 3), (ProduceRequest.ApiKey, 0, 7), (FetchRequest.ApiKey, 4, 11), (MetadataRequest.ApiKey, 0, 0), (ListOffsetsRequest.ApiKey, 0, 0)],
            maxApiVersionsVersion: 3);

        await using KafkaConnection connection = await KafkaConnection.ConnectAsync("127.0.0.1", fake.Port);

        Assert.Equal(7, connection.GetVersion(ProduceRequest.ApiKey));
        Assert.Equal(11, connection.GetVersion(FetchRequest.ApiKey));
        Assert.Equal(0, connection.GetVersion(MetadataRequest.ApiKey));
        // ListOffsets v0 is below the KIP-896 floor: no common version.
        var error = Assert.Throws<KafkaException>(() => connection.GetVersion(ListOffsetsRequest.ApiKey));
        Assert.Equal(ErrorCode.UnsupportedVersion, error.ErrorCode);
        Assert.Contains("ListOffsets", error.Message);
        // An API the broker does not list at all.
        Assert.False(connection.TryGetVersion(CreateTopicsRequest.ApiKey, out _));
    }

    [Fact]
    public async Task A_broker_that_refuses_our_ApiVersions_version_is_asked_again_within_its_range()
    {
        await using var fake = new FakeBroker([(ApiVersionsRequest.ApiKey, 0, 2), (ProduceRequest.ApiKey, 3, 9)], maxApiVersionsVersion: 2);

        await using KafkaConnection connection = await KafkaConnection.ConnectAsync("127.0.0.1", fake.Port);

        KafkaConnection.TryGetClientRange(ApiVersionsRequest.ApiKey, out _, out short clientMax);
        Assert.Equal([clientMax, (short)2], fake.ApiVersionsAsked);
        Assert.Equal(9, connection.GetVersion(ProduceRequest.ApiKey));
    }
}
