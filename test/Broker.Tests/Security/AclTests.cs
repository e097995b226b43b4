using System.Diagnostics;
using KafScale.Broker.Network;
using KafScale.Broker.Security;
using KafScale.Metadata.Embedded;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafScale.Broker.Tests.Security;

internal static class Acls
{
    public static AclBinding Allow(AclResourceType type, string name, string principal, AclOperation op, AclPatternType pattern = AclPatternType.Literal, string host = "*") =>
        new(type, name, pattern, principal, host, op, AclPermission.Allow);

    public static AclBinding Deny(AclResourceType type, string name, string principal, AclOperation op, AclPatternType pattern = AclPatternType.Literal, string host = "*") =>
        new(type, name, pattern, principal, host, op, AclPermission.Deny);

    public static Authorizer With(params AclBinding[] bindings) => With([], bindings);

    public static Authorizer With(string[] superUsers, params AclBinding[] bindings)
    {
        var authorizer = new Authorizer(true, superUsers, NullLogger.Instance, null);
        authorizer.Publish(bindings.ToDictionary(b => b.StoreKey(), StringComparer.Ordinal), 1);
        return authorizer;
    }

    /// <summary>A connection from <paramref name="ip"/> acting for <paramref name="principal"/> (what SASL will set).</summary>
    public static ClientContext Client(string principal = "User:alice", string ip = "10.0.0.1") => new($"{ip}:40000") { Principal = principal };
}

public sealed class AclMatchingTests
{
    private const AclResourceType Topic = AclResourceType.Topic;

    [Fact]
    public void A_literal_ACL_matches_its_name_only_and_the_literal_star_matches_every_name()
    {
        var literal = Acls.With(Acls.Allow(Topic, "orders", "User:alice", AclOperation.Read));
        Assert.True(literal.Check(Acls.Client(), AclOperation.Read, Topic, "orders"));
        Assert.False(literal.Check(Acls.Client(), AclOperation.Read, Topic, "orders-eu"));
        Assert.False(literal.Check(Acls.Client(), AclOperation.Read, Topic, "order"));
        Assert.False(literal.Check(Acls.Client(), AclOperation.Read, AclResourceType.Group, "orders"));

        var star = Acls.With(Acls.Allow(Topic, "*", "User:alice", AclOperation.Read));
        Assert.True(star.Check(Acls.Client(), AclOperation.Read, Topic, "anything"));
        Assert.False(star.Check(Acls.Client(), AclOperation.Read, AclResourceType.Group, "anything"));
    }

    [Fact]
    public void A_prefixed_ACL_matches_names_that_start_with_it_and_a_prefixed_star_is_only_a_prefix()
    {
        var prefixed = Acls.With(Acls.Allow(Topic, "orders-", "User:alice", AclOperation.Write, AclPatternType.Prefixed),
            Acls.Allow(Topic, "a", "User:alice", AclOperation.Write, AclPatternType.Prefixed));
        Assert.True(prefixed.Check(Acls.Client(), AclOperation.Write, Topic, "orders-eu"));
        Assert.True(prefixed.Check(Acls.Client(), AclOperation.Write, Topic, "orders-"));
        Assert.True(prefixed.Check(Acls.Client(), AclOperation.Write, Topic, "apples"));
        Assert.False(prefixed.Check(Acls.Client(), AclOperation.Write, Topic, "orders"));
        Assert.False(prefixed.Check(Acls.Client(), AclOperation.Write, Topic, "xorders-eu"));

        var prefixStar = Acls.With(Acls.Allow(Topic, "*", "User:alice", AclOperation.Write, AclPatternType.Prefixed));
        Assert.False(prefixStar.Check(Acls.Client(), AclOperation.Write, Topic, "orders"));
        Assert.True(prefixStar.Check(Acls.Client(), AclOperation.Write, Topic, "*x"));
    }

    [Fact]
    public void The_principal_must_match_or_be_User_star_and_the_host_must_match_or_be_star()
    {
        var acl = Acls.With(Acls.Allow(Topic, "t", "User:alice", AclOperation.Read, host: "10.0.0.1"),
            Acls.Allow(Topic, "u", "User:*", AclOperation.Read));
        Assert.True(acl.Check(Acls.Client("User:alice", "10.0.0.1"), AclOperation.Read, Topic, "t"));
        Assert.False(acl.Check(Acls.Client("User:alice", "10.0.0.2"), AclOperation.Read, Topic, "t"));
        Assert.False(acl.Check(Acls.Client("User:bob", "10.0.0.1"), AclOperation.Read, Topic, "t"));
        Assert.True(acl.Check(Acls.Client("User:bob", "10.9.9.9"), AclOperation.Read, Topic, "u"));
        Assert.True(acl.Check(Acls.Client("User:ANONYMOUS"), AclOperation.Read, Topic, "u"));
        // An IPv4-mapped IPv6 connection is the IPv4 host its ACL names.
        Assert.True(acl.Check(Acls.Client("User:alice", "[::ffff:10.0.0.1]"), AclOperation.Read, Topic, "t"));
    }

    [Fact]
    public void DENY_wins_over_ALLOW_from_any_matching_pattern_and_DENY_ALL_covers_every_operation()
    {
        var acl = Acls.With(
            Acls.Allow(Topic, "*", "User:alice", AclOperation.All),
            Acls.Deny(Topic, "secret-", "User:*", AclOperation.Read, AclPatternType.Prefixed),
            Acls.Deny(Topic, "locked", "User:alice", AclOperation.All, host: "10.0.0.1"));
        Assert.True(acl.Check(Acls.Client(), AclOperation.Read, Topic, "public"));
        Assert.False(acl.Check(Acls.Client(), AclOperation.Read, Topic, "secret-plans"));
        // The DENY names READ only: DESCRIBE and WRITE of the same topic stay allowed (a DENY implies nothing).
        Assert.True(acl.Check(Acls.Client(), AclOperation.Describe, Topic, "secret-plans"));
        Assert.True(acl.Check(Acls.Client(), AclOperation.Write, Topic, "secret-plans"));
        Assert.False(acl.Check(Acls.Client(), AclOperation.Write, Topic, "locked"));
        Assert.False(acl.Check(Acls.Client(), AclOperation.Describe, Topic, "locked"));
        Assert.True(acl.Check(Acls.Client("User:alice", "10.0.0.2"), AclOperation.Write, Topic, "locked"));
    }

    [Theory]
    [InlineData((int)AclOperation.Read, (int)AclOperation.Describe, true)]
    [InlineData((int)AclOperation.Write, (int)AclOperation.Describe, true)]
    [InlineData((int)AclOperation.Delete, (int)AclOperation.Describe, true)]
    [InlineData((int)AclOperation.Alter, (int)AclOperation.Describe, true)]
    [InlineData((int)AclOperation.AlterConfigs, (int)AclOperation.DescribeConfigs, true)]
    [InlineData((int)AclOperation.All, (int)AclOperation.AlterConfigs, true)]
    [InlineData((int)AclOperation.All, (int)AclOperation.Delete, true)]
    [InlineData((int)AclOperation.Create, (int)AclOperation.Describe, false)]
    [InlineData((int)AclOperation.Write, (int)AclOperation.Read, false)]
    [InlineData((int)AclOperation.Describe, (int)AclOperation.Read, false)]
    [InlineData((int)AclOperation.DescribeConfigs, (int)AclOperation.AlterConfigs, false)]
    [InlineData((int)AclOperation.AlterConfigs, (int)AclOperation.Describe, false)]
    public void Kafkas_implied_operations(int granted, int requested, bool allowed)
    {
        var acl = Acls.With(Acls.Allow(Topic, "t", "User:alice", (AclOperation)granted));
        Assert.Equal(allowed, acl.Check(Acls.Client(), (AclOperation)requested, Topic, "t"));
    }

    [Fact]
    public void Super_users_bypass_every_ACL_and_with_the_authorizer_off_everything_is_allowed()
    {
        var acl = Acls.With(["User:admin"], Acls.Deny(Topic, "*", "User:*", AclOperation.All));
        Assert.True(acl.Check(Acls.Client("User:admin"), AclOperation.Delete, Topic, "t"));
        Assert.False(acl.Check(Acls.Client("User:alice"), AclOperation.Describe, Topic, "t"));
        Assert.True(Authorizer.None.Check(Acls.Client("User:alice"), AclOperation.Delete, Topic, "t"));
        Assert.True(Authorizer.None.Authorize(Acls.Client("User:alice"), AclOperation.Alter, AclResourceType.Cluster, AclNames.ClusterName));
    }

    [Fact]
    public void With_no_ACLs_the_authorizer_denies_by_default()
    {
        var acl = Acls.With();
        foreach (var type in new[] { Topic, AclResourceType.Group, AclResourceType.Cluster, AclResourceType.TransactionalId })
            Assert.False(acl.Check(Acls.Client("User:ANONYMOUS"), AclOperation.Describe, type, type == AclResourceType.Cluster ? AclNames.ClusterName : "x"));
    }

    [Fact]
    public void Authorized_operations_are_Kafkas_bit_field_over_the_types_supported_operations()
    {
        var acl = Acls.With(Acls.Allow(Topic, "t", "User:alice", AclOperation.Read), Acls.Allow(AclResourceType.Cluster, AclNames.ClusterName, "User:alice", AclOperation.All));
        Assert.Equal((1 << 3) | (1 << 8), acl.AuthorizedOperations(Acls.Client(), Topic, "t"));
        Assert.Equal(0, acl.AuthorizedOperations(Acls.Client(), Topic, "other"));
        int cluster = acl.AuthorizedOperations(Acls.Client(), AclResourceType.Cluster, AclNames.ClusterName);
        Assert.Equal((1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12), cluster);
        // Off: every supported operation of a group (READ, DELETE, DESCRIBE).
        Assert.Equal((1 << 3) | (1 << 6) | (1 << 8), Authorizer.None.AuthorizedOperations(Acls.Client(), AclResourceType.Group, "g"));
    }

    [Fact]
    public void Write_on_some_topic_is_found_unless_a_DENY_covers_it()
    {
        Assert.False(Acls.With().MayWriteSomeTopic(Acls.Client()));
        Assert.True(Acls.With(Acls.Allow(Topic, "t", "User:alice", AclOperation.Write)).MayWriteSomeTopic(Acls.Client()));
        Assert.False(Acls.With(Acls.Allow(Topic, "t", "User:bob", AclOperation.Write)).MayWriteSomeTopic(Acls.Client()));
        Assert.False(Acls.With(Acls.Allow(Topic, "t", "User:alice", AclOperation.Write), Acls.Deny(Topic, "t", "User:alice", AclOperation.Write)).MayWriteSomeTopic(Acls.Client()));
        Assert.False(Acls.With(Acls.Allow(Topic, "t-1", "User:alice", AclOperation.Write), Acls.Deny(Topic, "t-", "User:*", AclOperation.All, AclPatternType.Prefixed)).MayWriteSomeTopic(Acls.Client()));
        Assert.False(Acls.With(Acls.Allow(Topic, "t-", "User:alice", AclOperation.Write, AclPatternType.Prefixed), Acls.Deny(Topic, "*", "User:alice", AclOperation.Write)).MayWriteSomeTopic(Acls.Client()));
        Assert.True(Acls.With(Acls.Allow(Topic, "t-", "User:alice", AclOperation.Write, AclPatternType.Prefixed), Acls.Deny(Topic, "u", "User:alice", AclOperation.Write)).MayWriteSomeTopic(Acls.Client()));
    }

    [Fact]
    public void A_check_on_the_hot_path_allocates_nothing_even_among_10000_ACLs()
    {
        var bindings = new List<AclBinding>();
        for (int i = 0; i < 10_000; i++)
        {
            bindings.Add(i % 3 == 0
                ? Acls.Allow(Topic, $"team-{i}-", $"User:u{i}", AclOperation.Write, AclPatternType.Prefixed)
                : Acls.Allow(Topic, $"topic-{i}", $"User:u{i}", AclOperation.Write));
        }
        bindings.Add(Acls.Allow(Topic, "hot", "User:producer", AclOperation.Write));
        var acl = Acls.With([.. bindings]);
        var client = Acls.Client("User:producer");
        byte[] utf8 = "hot"u8.ToArray();
        byte[] other = "team-3-x"u8.ToArray();
        for (int i = 0; i < 100; i++) acl.AuthorizeUtf8(client, AclOperation.Write, Topic, utf8);
        int allowed = 0;
        long allocated = Allocations.LeastPerRound(_ =>
        {
            if (acl.AuthorizeUtf8(client, AclOperation.Write, Topic, utf8)) allowed++;
            if (acl.Check(client, AclOperation.Write, Topic, "hot")) allowed++;
            if (acl.Check(client, AclOperation.Write, Topic, "team-3-x")) allowed++;
        }, 10_000);
        Assert.Equal(0, allocated);
        Assert.Equal(0, allowed % 20_000); // two of the three checks allow, in every round that ran
        Assert.True(allowed > 0);
        Assert.True(acl.Check(Acls.Client("User:u3"), AclOperation.Write, Topic, "team-3-x"));
        Assert.False(acl.AuthorizeUtf8(Acls.Client("User:u3"), AclOperation.Write, Topic, other.AsSpan(0, 6)));
    }
}

public sealed class AclFilterTests
{
    private static readonly AclBinding LiteralOrders = Acls.Allow(AclResourceType.Topic, "orders", "User:alice", AclOperation.Read);
    private static readonly AclBinding PrefixedOrd = Acls.Allow(AclResourceType.Topic, "ord", "User:bob", AclOperation.Write, AclPatternType.Prefixed);
    private static readonly AclBinding StarTopic = Acls.Deny(AclResourceType.Topic, "*", "User:*", AclOperation.Delete, host: "10.0.0.9");
    private static readonly AclBinding Group = Acls.Allow(AclResourceType.Group, "orders", "User:alice", AclOperation.Read);
    private static readonly AclBinding[] All = [LiteralOrders, PrefixedOrd, StarTopic, Group];

    private static AclBinding[] Matching(AclBindingFilter filter) => [.. All.Where(filter.Matches)];

    [Fact]
    public void Any_matches_everything_and_nulls_match_any_value()
    {
        Assert.Equal(All, Matching(new(AclResourceType.Any, null, AclPatternType.Any, null, null, AclOperation.Any, AclPermission.Any)));
        Assert.Equal([LiteralOrders, PrefixedOrd, StarTopic], Matching(new(AclResourceType.Topic, null, AclPatternType.Any, null, null, AclOperation.Any, AclPermission.Any)));
    }

    [Fact]
    public void A_named_ANY_filter_matches_that_exact_name_under_every_pattern_type()
    {
        Assert.Equal([LiteralOrders, Group], Matching(new(AclResourceType.Any, "orders", AclPatternType.Any, null, null, AclOperation.Any, AclPermission.Any)));
        Assert.Equal([PrefixedOrd], Matching(new(AclResourceType.Any, "ord", AclPatternType.Any, null, null, AclOperation.Any, AclPermission.Any)));
    }

    [Fact]
    public void A_MATCH_filter_finds_every_ACL_that_applies_to_the_name()
    {
        Assert.Equal([LiteralOrders, PrefixedOrd, StarTopic], Matching(new(AclResourceType.Topic, "orders", AclPatternType.Match, null, null, AclOperation.Any, AclPermission.Any)));
        Assert.Equal([StarTopic], Matching(new(AclResourceType.Topic, "payments", AclPatternType.Match, null, null, AclOperation.Any, AclPermission.Any)));
    }

    [Fact]
    public void LITERAL_and_PREFIXED_filters_match_their_pattern_type_and_exact_name_only()
    {
        Assert.Equal([LiteralOrders, StarTopic, Group], Matching(new(AclResourceType.Any, null, AclPatternType.Literal, null, null, AclOperation.Any, AclPermission.Any)));
        Assert.Empty(Matching(new(AclResourceType.Topic, "orders", AclPatternType.Prefixed, null, null, AclOperation.Any, AclPermission.Any)));
        Assert.Equal([StarTopic], Matching(new(AclResourceType.Topic, "*", AclPatternType.Literal, null, null, AclOperation.Any, AclPermission.Any)));
    }

    [Fact]
    public void Principal_host_operation_and_permission_filters_compare_exactly()
    {
        Assert.Equal([LiteralOrders, Group], Matching(new(AclResourceType.Any, null, AclPatternType.Any, "User:alice", null, AclOperation.Any, AclPermission.Any)));
        Assert.Equal([StarTopic], Matching(new(AclResourceType.Any, null, AclPatternType.Any, "User:*", "10.0.0.9", AclOperation.Any, AclPermission.Any)));
        Assert.Equal([PrefixedOrd], Matching(new(AclResourceType.Any, null, AclPatternType.Any, null, null, AclOperation.Write, AclPermission.Any)));
        Assert.Equal([StarTopic], Matching(new(AclResourceType.Any, null, AclPatternType.Any, null, null, AclOperation.Any, AclPermission.Deny)));
        // A filter on READ does not find an ALL ACL: filters compare, they do not imply.
        Assert.Empty(Matching(new(AclResourceType.Any, null, AclPatternType.Any, null, null, AclOperation.All, AclPermission.Any)));
    }

    [Fact]
    public void Filters_with_UNKNOWN_are_refused()
    {
        Assert.NotNull(new AclBindingFilter(AclResourceType.Unknown, null, AclPatternType.Any, null, null, AclOperation.Any, AclPermission.Any).Validate());
        Assert.NotNull(new AclBindingFilter(AclResourceType.Any, null, (AclPatternType)9, null, null, AclOperation.Any, AclPermission.Any).Validate());
        Assert.NotNull(new AclBindingFilter(AclResourceType.Any, null, AclPatternType.Any, null, null, AclOperation.Unknown, AclPermission.Any).Validate());
        Assert.NotNull(new AclBindingFilter(AclResourceType.Any, null, AclPatternType.Any, null, null, AclOperation.Any, AclPermission.Unknown).Validate());
        Assert.Null(new AclBindingFilter(AclResourceType.Any, null, AclPatternType.Match, null, null, AclOperation.Any, AclPermission.Any).Validate());
    }
}

public sealed class AclBindingTests
{
    [Theory]
    [InlineData((int)AclResourceType.Topic, "a/b", (int)AclPatternType.Literal, "User:x/y", "*", (int)AclOperation.Read, (int)AclPermission.Allow)]
    [InlineData((int)AclResourceType.Group, "g%", (int)AclPatternType.Prefixed, "User:*", "10.0.0.1", (int)AclOperation.Delete, (int)AclPermission.Deny)]
    [InlineData((int)AclResourceType.Cluster, "kafka-cluster", (int)AclPatternType.Literal, "User:ops", "::1", (int)AclOperation.IdempotentWrite, (int)AclPermission.Allow)]
    [InlineData((int)AclResourceType.TransactionalId, "*", (int)AclPatternType.Literal, "User:a", "*", (int)AclOperation.Write, (int)AclPermission.Allow)]
    public void Store_keys_round_trip(int type, string name, int pattern, string principal, string host, int op, int permission)
    {
        var binding = new AclBinding((AclResourceType)type, name, (AclPatternType)pattern, principal, host, (AclOperation)op, (AclPermission)permission);
        Assert.Null(AclBinding.Validate(binding, out var valid));
        Assert.Equal(binding, valid);
        string key = binding.StoreKey();
        Assert.StartsWith("/kafscale/acls/", key);
        Assert.Equal(7, key["/kafscale/acls/".Length..].Split('/').Length);
        Assert.True(AclBinding.TryParseStoreKey(key, out var parsed));
        Assert.Equal(binding, parsed);
    }

    [Theory]
    [InlineData("/kafscale/acls/")]
    [InlineData("/kafscale/acls/TOPIC/LITERAL/t/User%3Aa/*/READ")]
    [InlineData("/kafscale/acls/TOPIC/MATCH/t/User%3Aa/*/READ/ALLOW")]
    [InlineData("/kafscale/acls/TOPIC/LITERAL/t/User%3Aa/*/CLUSTER_ACTION/ALLOW")]
    [InlineData("/kafscale/acls/TOPIC/LITERAL/t/alice/*/READ/ALLOW")]
    [InlineData("/kafscale/acls/TOPIC/LITERAL/t/User%3Aa/nohost/READ/ALLOW")]
    [InlineData("/kafscale/quotas/users/a")]
    public void Keys_that_are_not_ACLs_are_refused(string key) => Assert.False(AclBinding.TryParseStoreKey(key, out _));

    [Theory]
    [InlineData((int)AclResourceType.Any, "t", (int)AclPatternType.Literal, "User:a", "*", (int)AclOperation.Read, (int)AclPermission.Allow, "resource type")]
    [InlineData((int)AclResourceType.Topic, "t", (int)AclPatternType.Match, "User:a", "*", (int)AclOperation.Read, (int)AclPermission.Allow, "pattern type")]
    [InlineData((int)AclResourceType.Topic, "t", (int)AclPatternType.Literal, "User:a", "*", (int)AclOperation.Any, (int)AclPermission.Allow, "operation")]
    [InlineData((int)AclResourceType.Topic, "t", (int)AclPatternType.Literal, "User:a", "*", (int)AclOperation.ClusterAction, (int)AclPermission.Allow, "does not apply")]
    [InlineData((int)AclResourceType.Topic, "t", (int)AclPatternType.Literal, "User:a", "*", (int)AclOperation.Read, (int)AclPermission.Any, "permission")]
    [InlineData((int)AclResourceType.Topic, "", (int)AclPatternType.Literal, "User:a", "*", (int)AclOperation.Read, (int)AclPermission.Allow, "empty")]
    [InlineData((int)AclResourceType.Cluster, "other", (int)AclPatternType.Literal, "User:a", "*", (int)AclOperation.Alter, (int)AclPermission.Allow, "kafka-cluster")]
    [InlineData((int)AclResourceType.Topic, "t", (int)AclPatternType.Literal, "alice", "*", (int)AclOperation.Read, (int)AclPermission.Allow, "principal")]
    [InlineData((int)AclResourceType.Topic, "t", (int)AclPatternType.Literal, "User:a", "example.com", (int)AclOperation.Read, (int)AclPermission.Allow, "host")]
    public void Invalid_ACLs_are_refused_with_a_message_naming_the_problem(int type, string name, int pattern, string principal, string host, int op, int permission, string says)
    {
        string? problem = AclBinding.Validate(new AclBinding((AclResourceType)type, name, (AclPatternType)pattern, principal, host, (AclOperation)op, (AclPermission)permission), out _);
        Assert.NotNull(problem);
        Assert.Contains(says, problem, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void An_IPv4_mapped_host_is_stored_as_IPv4()
    {
        Assert.Null(AclBinding.Validate(Acls.Allow(AclResourceType.Topic, "t", "User:a", AclOperation.Read, host: "::ffff:10.1.2.3"), out var valid));
        Assert.Equal("10.1.2.3", valid.Host);
    }
}

/// <summary>The watched index over the real embedded metadata store.</summary>
public sealed class AclIndexWatchTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "kafscale-acl-tests", Guid.NewGuid().ToString("N"));

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
        return Task.CompletedTask;
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var waited = Stopwatch.StartNew();
        while (!condition())
        {
            if (waited.Elapsed > TimeSpan.FromSeconds(5)) throw new TimeoutException(what);
            await Task.Delay(5);
        }
    }

    [Fact]
    public async Task ACLs_written_to_the_store_are_applied_removed_and_read_again_after_a_restart()
    {
        var client = Acls.Client("User:alice");
        var write = Acls.Allow(AclResourceType.Topic, "orders", "User:alice", AclOperation.Write);
        var read = Acls.Allow(AclResourceType.Topic, "orders-", "User:alice", AclOperation.Read, AclPatternType.Prefixed);
        await using (var store = await EmbeddedMetadataStore.OpenAsync(_dir, CancellationToken.None))
        {
            await store.PutAsync("/kafscale/acls/TOPIC/LITERAL/junk", [], 0, CancellationToken.None);
            await using var authorizer = new Authorizer(true, [], NullLogger.Instance, null);
            await authorizer.StartAsync(store);
            Assert.Empty(authorizer.Bindings);
            Assert.False(authorizer.Check(client, AclOperation.Write, AclResourceType.Topic, "orders"));

            long revision = await store.PutAsync(write.StoreKey(), [], 0, CancellationToken.None);
            await store.PutAsync(read.StoreKey(), [], 0, CancellationToken.None);
            await WaitUntilAsync(() => authorizer.Bindings.Count == 2, "the watch did not apply two new ACLs");
            Assert.True(authorizer.Revision > revision);
            Assert.True(authorizer.Check(client, AclOperation.Write, AclResourceType.Topic, "orders"));
            Assert.True(authorizer.Check(client, AclOperation.Describe, AclResourceType.Topic, "orders-eu"));

            await store.DeleteAsync(write.StoreKey(), CancellationToken.None);
            await WaitUntilAsync(() => authorizer.Bindings.Count == 1, "the watch did not apply a deleted ACL");
            Assert.False(authorizer.Check(client, AclOperation.Write, AclResourceType.Topic, "orders"));
        }

        await using (var reopened = await EmbeddedMetadataStore.OpenAsync(_dir, CancellationToken.None))
        {
            await using var authorizer = new Authorizer(true, [], NullLogger.Instance, null);
            await authorizer.StartAsync(reopened);
            Assert.Equal([read], authorizer.Bindings);
            Assert.True(authorizer.Check(client, AclOperation.Read, AclResourceType.Topic, "orders-us"));
            Assert.False(authorizer.Check(client, AclOperation.Write, AclResourceType.Topic, "orders"));
        }
    }
}
