using KafScale.Broker.Quotas;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafScale.Broker.Tests;

public sealed class QuotaResolutionTests
{
    private const string Anonymous = QuotaNames.AnonymousUser;

    private static QuotaValues Values(double producer = double.NaN, double consumer = double.NaN, double request = double.NaN)
    {
        var v = new QuotaValues();
        v.Values[0] = producer;
        v.Values[1] = consumer;
        v.Values[2] = request;
        return v;
    }

    private static QuotaEntity User(string? name) => new(true, name, false, null);
    private static QuotaEntity Client(string? name) => new(false, null, true, name);
    private static QuotaEntity UserClient(string? user, string? client) => new(true, user, true, client);

    private static ClientQuotas Resolve(Dictionary<QuotaEntity, QuotaValues> configs, string clientId)
    {
        var manager = new QuotaManager(NullLogger.Instance);
        manager.Publish(configs);
        return manager.Resolve(Anonymous, clientId, manager.Version);
    }

    [Fact]
    public void Each_key_takes_the_first_entity_in_Kafkas_order_that_sets_it()
    {
        // Every level of the order sets a distinct producer rate; removing the best one at a time
        // must fall through to the next, with the user always ANONYMOUS.
        var levels = new List<QuotaEntity>
        {
            UserClient(Anonymous, "app"),
            UserClient(Anonymous, null),
            User(Anonymous),
            UserClient(null, "app"),
            UserClient(null, null),
            User(null),
            Client("app"),
            Client(null),
        };
        for (int skip = 0; skip < levels.Count; skip++)
        {
            var configs = new Dictionary<QuotaEntity, QuotaValues>();
            for (int i = skip; i < levels.Count; i++) configs[levels[i]] = Values(producer: 1000 + i);
            var quotas = Resolve(configs, "app");
            Assert.Equal(1000 + skip, quotas.Bound(QuotaKey.ProducerByteRate));
            Assert.Null(quotas.Sensor(QuotaKey.ConsumerByteRate));
        }
    }

    [Fact]
    public void Keys_resolve_separately_and_other_users_and_client_ids_do_not_apply()
    {
        var configs = new Dictionary<QuotaEntity, QuotaValues>
        {
            [UserClient(Anonymous, "app")] = Values(producer: 1),
            [Client(null)] = Values(consumer: 2, request: 3),
            [User("alice")] = Values(producer: 4, consumer: 4, request: 4),
            [Client("other")] = Values(producer: 5, consumer: 5, request: 5),
        };
        var quotas = Resolve(configs, "app");
        Assert.Equal(1, quotas.Bound(QuotaKey.ProducerByteRate));
        Assert.Equal(2, quotas.Bound(QuotaKey.ConsumerByteRate));
        Assert.Equal(3, quotas.Bound(QuotaKey.RequestPercentage));

        var none = Resolve(new Dictionary<QuotaEntity, QuotaValues> { [User("alice")] = Values(producer: 4) }, "app");
        Assert.False(none.Any);
    }

    [Fact]
    public void A_connection_gets_the_quotas_of_the_principal_it_authenticated_as()
    {
        var manager = new QuotaManager(NullLogger.Instance);
        manager.Publish(new Dictionary<QuotaEntity, QuotaValues> { [User("alice")] = Values(producer: 4), [User(null)] = Values(producer: 9) });
        var client = new KafScale.Broker.Network.ClientContext("127.0.0.1:50000") { ClientId = "app" };
        Assert.Equal(9, manager.For(client).Bound(QuotaKey.ProducerByteRate));
        // SASL (or a client certificate) names the principal: its quotas apply from the next request.
        client.Principal = "User:alice";
        Assert.Equal(4, manager.For(client).Bound(QuotaKey.ProducerByteRate));
    }

    [Fact]
    public void Clients_under_a_default_client_id_quota_are_measured_apart_and_connections_of_one_client_together()
    {
        var manager = new QuotaManager(NullLogger.Instance);
        manager.Publish(new Dictionary<QuotaEntity, QuotaValues> { [Client(null)] = Values(producer: 100) });
        var a1 = manager.Resolve(Anonymous, "a", manager.Version);
        var a2 = manager.Resolve(Anonymous, "a", manager.Version);
        var b = manager.Resolve(Anonymous, "b", manager.Version);
        Assert.Same(a1.Sensor(QuotaKey.ProducerByteRate), a2.Sensor(QuotaKey.ProducerByteRate));
        Assert.NotSame(a1.Sensor(QuotaKey.ProducerByteRate), b.Sensor(QuotaKey.ProducerByteRate));
    }

    [Fact]
    public void A_connection_keeps_its_resolved_quotas_until_they_change()
    {
        var manager = new QuotaManager(NullLogger.Instance);
        var client = new Network.ClientContext("test") { ClientId = "app" };
        var before = manager.For(client);
        Assert.Same(before, manager.For(client));
        Assert.False(before.Any);
        manager.Publish(new Dictionary<QuotaEntity, QuotaValues> { [Client("app")] = Values(producer: 10) });
        var after = manager.For(client);
        Assert.NotSame(before, after);
        Assert.Equal(10, after.Bound(QuotaKey.ProducerByteRate));
    }

    [Fact]
    public void The_produce_and_fetch_path_of_a_resolved_connection_allocates_nothing()
    {
        var manager = new QuotaManager(NullLogger.Instance);
        manager.Publish(new Dictionary<QuotaEntity, QuotaValues> { [Client(null)] = Values(producer: 1e6, consumer: 1e6, request: 50) });
        var client = new Network.ClientContext("test") { ClientId = "app" };
        long now = Environment.TickCount64;
        for (int i = 0; i < 100; i++) manager.For(client).Record(QuotaKey.ProducerByteRate, 100, now + i);
        long before = GC.GetAllocatedBytesForCurrentThread();
        long throttle = 0;
        for (int i = 0; i < 10_000; i++)
        {
            var quotas = manager.For(client);
            throttle += quotas.Record(QuotaKey.ProducerByteRate, 100, now + i);
            throttle += quotas.Record(QuotaKey.ConsumerByteRate, 100, now + i);
            throttle += quotas.Record(QuotaKey.RequestPercentage, 0.01, now + i);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(0, throttle);
    }

    [Theory]
    [InlineData("/kafscale/quotas/users/alice", true, "alice", false, null)]
    [InlineData("/kafscale/quotas/users/<default>/clients/a%2Fb", true, null, true, "a/b")]
    [InlineData("/kafscale/quotas/clients/%3Cdefault%3E", false, null, true, "<default>")]
    public void Store_keys_round_trip_names_with_slashes_and_a_literal_default_name(string key, bool hasUser, string? user, bool hasClient, string? client)
    {
        var entity = new QuotaEntity(hasUser, user, hasClient, client);
        Assert.Equal(key, entity.StoreKey());
        Assert.True(QuotaEntity.TryParseStoreKey(key, out var parsed));
        Assert.Equal(entity, parsed);
    }

    [Theory]
    [InlineData("/kafscale/quotas/")]
    [InlineData("/kafscale/quotas/users/")]
    [InlineData("/kafscale/quotas/groups/x")]
    [InlineData("/kafscale/quotas/clients/a/users/b")]
    public void Keys_that_are_not_entities_are_refused(string key) =>
        Assert.False(QuotaEntity.TryParseStoreKey(key, out _));

    [Fact]
    public void Values_round_trip_through_json_and_unknown_keys_are_skipped()
    {
        var values = Values(producer: 1048576, request: 12.5);
        Assert.True(QuotaValues.TryParse(values.ToJson(), out var parsed));
        Assert.Equal(values.Values, parsed.Values);
        Assert.True(QuotaValues.TryParse("{\"controller_mutation_rate\":5,\"consumer_byte_rate\":7}"u8, out var mixed));
        Assert.Equal(7, mixed.Values[1]);
        Assert.False(QuotaValues.TryParse("not json"u8, out _));
    }
}

public sealed class RateSensorTests
{
    [Fact]
    public void Within_the_bound_there_is_no_throttle_and_over_it_the_throttle_drains_the_excess()
    {
        var sensor = new RateSensor();
        long now = 1_000_000;
        // 10 s of quota at once is within the bound: the window spans at least 10 samples.
        Assert.Equal(0, sensor.Record(1000, 100, now));
        // 500 more: the excess takes 5 s to drain at 100 per second.
        Assert.Equal(5000, sensor.Record(500, 100, now));
        Assert.Equal(150, sensor.Rate(now), 3);
    }

    [Fact]
    public void Samples_older_than_the_window_no_longer_count()
    {
        var sensor = new RateSensor();
        long now = 5_000_000;
        sensor.Record(10_000, 100, now);
        Assert.True(sensor.Rate(now) > 100);
        long later = now + QuotaManager.Samples * QuotaManager.SampleWindowMs;
        Assert.Equal(0, sensor.Rate(later));
        Assert.Equal(0, sensor.Record(100, 100, later));
    }

    [Fact]
    public void Unrecording_takes_a_value_back()
    {
        var sensor = new RateSensor();
        long now = 7_000_000;
        sensor.Record(3000, 100, now);
        sensor.Unrecord(2500, now);
        Assert.Equal(50, sensor.Rate(now), 3);
    }
}
