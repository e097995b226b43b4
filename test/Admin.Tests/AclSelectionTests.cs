using KafScale.Client;

namespace KafScale.Admin.Tests;

/// <summary>How the flags of <c>kafscale admin acls</c> become an ACL or a filter, and the usage errors.</summary>
public sealed class AclSelectionTests
{
    private static AclSelection Flags(string? principal = null, string? operation = null, string? topic = null, string? group = null,
        bool cluster = false, string? transactionalId = null, bool prefixed = false, bool deny = false, string? host = null) =>
        new(principal, operation, topic, group, cluster, transactionalId, prefixed, deny, host);

    [Fact]
    public void Add_builds_exactly_the_ACL_the_flags_name()
    {
        Assert.Equal(new AclEntry(AclResourceType.Topic, "orders-", AclPatternType.Prefixed, "User:a", "*", AclOperation.Write, AclPermissionType.Allow),
            Flags("User:a", "write", topic: "orders-", prefixed: true).ToEntry());
        Assert.Equal(new AclEntry(AclResourceType.Cluster, "kafka-cluster", AclPatternType.Literal, "User:*", "10.0.0.1", AclOperation.IdempotentWrite, AclPermissionType.Deny),
            Flags("User:*", "idempotent-write", cluster: true, deny: true, host: "10.0.0.1").ToEntry());
        Assert.Equal(AclOperation.DescribeConfigs, Flags("User:a", "DESCRIBE_CONFIGS", group: "g").ToEntry().Operation);
        Assert.Equal(AclResourceType.TransactionalId, Flags("User:a", "all", transactionalId: "tx").ToEntry().ResourceType);
    }

    [Theory]
    [InlineData(null, "read", "t", "--principal")]
    [InlineData("User:a", null, "t", "--operation")]
    [InlineData("User:a", "read", null, "resource")]
    [InlineData("alice", "read", "t", "TYPE:NAME")]
    [InlineData("User:a", "fly", "t", "unknown operation")]
    [InlineData("User:a", "read", "", "empty")]
    public void Add_refuses_incomplete_or_bad_flags_with_a_usage_error(string? principal, string? operation, string? topic, string says)
    {
        var ex = Assert.Throws<AdminUsageException>(() => Flags(principal, operation, topic).ToEntry());
        Assert.Contains(says, ex.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Two_resources_or_a_prefixed_cluster_are_usage_errors()
    {
        Assert.Throws<AdminUsageException>(() => Flags("User:a", "read", topic: "t", group: "g").ToEntry());
        Assert.Throws<AdminUsageException>(() => Flags("User:a", "read", cluster: true, prefixed: true).ToEntry());
    }

    [Fact]
    public void List_and_remove_filters_match_anything_not_given_and_remove_matches_a_name_as_LITERAL()
    {
        Assert.Equal(AclFilter.All, Flags().ToFilter(remove: false));
        Assert.Equal(new AclFilter(AclResourceType.Topic, "t", AclPatternType.Any, "User:a", null, AclOperation.Any, AclPermissionType.Any),
            Flags("User:a", topic: "t").ToFilter(remove: false));
        Assert.Equal(new AclFilter(AclResourceType.Topic, "t", AclPatternType.Literal, null, null, AclOperation.Any, AclPermissionType.Any),
            Flags(topic: "t").ToFilter(remove: true));
        Assert.Equal(new AclFilter(AclResourceType.Group, "g-", AclPatternType.Prefixed, null, "10.0.0.1", AclOperation.Read, AclPermissionType.Deny),
            Flags(operation: "read", group: "g-", prefixed: true, deny: true, host: "10.0.0.1").ToFilter(remove: true));
        Assert.Equal(new AclFilter(AclResourceType.Any, null, AclPatternType.Any, "User:a", null, AclOperation.Any, AclPermissionType.Any),
            Flags("User:a").ToFilter(remove: true));
    }
}
