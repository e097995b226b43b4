using KafScale.Protocol.Tests.Support;

namespace KafScale.Protocol.Tests;

public class ApiKeysAndErrorCodeTests
{
    [Theory]
    [InlineData(ApiKeys.Produce, 3)]
    [InlineData(ApiKeys.Fetch, 4)]
    [InlineData(ApiKeys.ListOffsets, 1)]
    [InlineData(ApiKeys.Metadata, 0)]
    [InlineData(ApiKeys.OffsetCommit, 2)]
    [InlineData(ApiKeys.OffsetFetch, 1)]
    [InlineData(ApiKeys.FindCoordinator, 0)]
    [InlineData(ApiKeys.JoinGroup, 2)]
    [InlineData(ApiKeys.Heartbeat, 0)]
    [InlineData(ApiKeys.SaslHandshake, 0)]
    [InlineData(ApiKeys.ApiVersions, 0)]
    [InlineData(ApiKeys.CreateTopics, 2)]
    [InlineData(ApiKeys.DeleteTopics, 1)]
    [InlineData(ApiKeys.DeleteGroups, 0)]
    [InlineData(ApiKeys.OffsetForLeaderEpoch, 2)]
    [InlineData(ApiKeys.DescribeAcls, 1)]
    [InlineData(ApiKeys.CreateAcls, 1)]
    [InlineData(ApiKeys.DeleteAcls, 1)]
    [InlineData(ApiKeys.DescribeConfigs, 1)]
    [InlineData(ApiKeys.DescribeLogDirs, 1)]
    [InlineData(ApiKeys.InitProducerId, 0)]
    public void KafScale_floor_is_the_Kafka_4_0_minimum_from_KIP_896(short apiKey, short floor)
    {
        Assert.True(ApiKeys.TryGet(apiKey, out ApiKeyInfo info));
        Assert.Equal(floor, info.KafScaleFloor);
        Assert.False(info.IsSupported((short)(floor - 1)));
        Assert.True(info.IsSupported(floor));
    }

    [Fact]
    public void Produce_is_advertised_from_v0_for_librdkafka_but_accepted_from_v3()
    {
        Assert.Equal(0, ApiKeys.AdvertisedMinVersion(ApiKeys.Produce));
        Assert.False(ApiKeys.IsSupported(ApiKeys.Produce, 2));
        Assert.True(ApiKeys.IsSupported(ApiKeys.Produce, 3));
        Assert.Equal(4, ApiKeys.AdvertisedMinVersion(ApiKeys.Fetch));
    }

    [Fact]
    public void The_table_matches_the_request_schemas()
    {
        var requests = TestSchema.All.Where(s => s.Type == "request").ToList();
        Assert.Equal(requests.Count, ApiKeys.All.Count);
        foreach (TestSchema schema in requests)
        {
            Assert.True(ApiKeys.TryGet(schema.ApiKey!.Value, out ApiKeyInfo info), schema.Name);
            Assert.Equal(schema.Name, info.Name + "Request");
            Assert.Equal(schema.Valid.Lo, info.LowestVersion);
            Assert.Equal(schema.Valid.Hi, info.HighestVersion);
            Assert.Equal(schema.Flexible.IsEmpty ? short.MaxValue : schema.Flexible.Lo, info.FlexibleVersionsFrom);
        }

        Assert.False(ApiKeys.TryGet(4, out _)); // LeaderAndIsr: not in these schemas
        Assert.False(ApiKeys.TryGet(-1, out _));
        Assert.False(ApiKeys.TryGet(short.MaxValue, out _));
        Assert.True(ApiKeys.TryGet(ApiKeys.EndTxn, out ApiKeyInfo endTxn));
        Assert.Equal(endTxn.HighestVersion - 1, endTxn.HighestStableVersion);
    }

    [Fact]
    public void The_factory_creates_the_matching_request_and_response_for_every_key()
    {
        foreach (ApiKeyInfo info in ApiKeys.All)
        {
            IKafkaMessage? request = KafkaMessages.CreateRequest(info.ApiKey);
            IKafkaMessage? response = KafkaMessages.CreateResponse(info.ApiKey);
            Assert.Equal(info.Name + "Request", request!.GetType().Name);
            Assert.Equal(info.Name + "Response", response!.GetType().Name);
            Assert.Equal(info.ApiKey, request.ApiKey);
            Assert.Equal(info.ApiKey, response.ApiKey);
            Assert.Equal(info.HighestVersion, response.HighestSupportedVersion);
            Assert.Equal(info.FlexibleVersionsFrom, response.FlexibleVersionsFrom);
        }

        Assert.Null(KafkaMessages.CreateRequest(4));
        Assert.Null(KafkaMessages.CreateResponse(-1));
    }

    [Fact]
    public void Error_codes_carry_the_Kafka_numbers()
    {
        Assert.Equal(-1, (short)ErrorCode.UnknownServerError);
        Assert.Equal(0, (short)ErrorCode.None);
        Assert.Equal(2, (short)ErrorCode.CorruptMessage);
        Assert.Equal(3, (short)ErrorCode.UnknownTopicOrPartition);
        Assert.Equal(6, (short)ErrorCode.NotLeaderOrFollower);
        Assert.Equal(35, (short)ErrorCode.UnsupportedVersion);
        Assert.Equal(42, (short)ErrorCode.InvalidRequest);
        Assert.Equal(53, (short)ErrorCode.TransactionalIdAuthorizationFailed);
        Assert.Equal(128, (short)ErrorCode.InvalidRegularExpression);
    }

    [Fact]
    public void All_130_error_codes_are_present_without_gaps_and_31_are_retriable()
    {
        short[] codes = Enum.GetValues<ErrorCode>().Select(c => (short)c).Order().ToArray();
        Assert.Equal(130, codes.Length);
        Assert.Equal(Enumerable.Range(-1, 130).Select(i => (short)i), codes);
        Assert.Equal(31, Enum.GetValues<ErrorCode>().Count(c => c.IsRetriable()));
        Assert.True(ErrorCode.NotLeaderOrFollower.IsRetriable());
        Assert.False(ErrorCode.UnsupportedVersion.IsRetriable());
        Assert.Equal("NOT_LEADER_OR_FOLLOWER", ErrorCode.NotLeaderOrFollower.KafkaName());
        Assert.Equal("999", ((ErrorCode)999).KafkaName());
    }
}
