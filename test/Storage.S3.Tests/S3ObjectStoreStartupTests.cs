using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafScale.Storage.S3.Tests;

/// <summary>OpenAsync against a real s3rver: bucket checks, credentials, the conditional-create probe, clear operator errors.</summary>
public sealed class S3ObjectStoreStartupTests(S3rverFixture fixture) : IClassFixture<S3rverFixture>
{
    private static CancellationToken Ct => CancellationToken.None;

    private S3rverServer Server => fixture.Server;

    [Fact]
    public async Task Startup_detects_that_s3rver_ignores_IfNoneMatch_and_warns_once_that_fencing_falls_back_to_leases()
    {
        var logger = new ListLogger();
        await using S3ObjectStore store = await S3ObjectStore.OpenAsync(Server.OptionsFor(S3rverFixture.Bucket), logger, Ct);

        Assert.False(store.SupportsConditionalCreate);
        string warning = Assert.Single(logger.At(LogLevel.Warning));
        Assert.Contains("fencing falls back to leases alone", warning);
        Assert.Contains("If-None-Match", warning);
        Assert.Contains(Server.Endpoint, warning);
        Assert.Contains(S3rverFixture.Bucket, warning);
    }

    [Fact]
    public async Task Startup_leaves_no_probe_object_behind()
    {
        await using S3ObjectStore store = await S3ObjectStore.OpenAsync(Server.OptionsFor(S3rverFixture.Bucket), NullLogger.Instance, Ct);
        Assert.Empty(await S3ObjectStoreTests.ToListAsync(store.ListAsync(S3ObjectStore.ProbeKeyPrefix, Ct)));
    }

    [Fact]
    public async Task Without_conditional_create_CreateIfAbsent_still_refuses_a_key_that_exists()
    {
        await using S3ObjectStore store = await S3ObjectStore.OpenAsync(Server.OptionsFor(S3rverFixture.Bucket), NullLogger.Instance, Ct);
        string key = $"c-{Guid.NewGuid():N}/segment.kfs";

        Assert.True(await store.CreateIfAbsentAsync(key, "first"u8.ToArray(), Ct));
        Assert.False(await store.CreateIfAbsentAsync(key, "second"u8.ToArray(), Ct));

        Assert.Equal("first", Encoding.UTF8.GetString((await store.GetAsync(key, Ct))!));
    }

    [Fact]
    public async Task A_missing_bucket_is_created_when_allowed()
    {
        string bucket = $"auto-{Guid.NewGuid():N}"[..20];
        var logger = new ListLogger();

        await using (S3ObjectStore store = await S3ObjectStore.OpenAsync(Server.OptionsFor(bucket) with { CreateBucketIfMissing = true }, logger, Ct))
        {
            await store.PutAsync("k", "v"u8.ToArray(), Ct);
            Assert.Contains(logger.At(LogLevel.Information), m => m.Contains("created the S3 bucket", StringComparison.Ordinal) && m.Contains(bucket, StringComparison.Ordinal));
        }

        // Now it exists: a store that may not create buckets opens it and sees the object.
        await using S3ObjectStore again = await S3ObjectStore.OpenAsync(Server.OptionsFor(bucket), NullLogger.Instance, Ct);
        Assert.Equal("v"u8.ToArray(), await again.GetAsync("k", Ct));
    }

    [Fact]
    public async Task A_missing_bucket_without_auto_create_fails_with_one_message_naming_the_bucket_endpoint_and_setting()
    {
        var e = await Assert.ThrowsAsync<S3StoreStartupException>(
            () => S3ObjectStore.OpenAsync(Server.OptionsFor("no-such-bucket"), NullLogger.Instance, Ct));

        Assert.Contains("'no-such-bucket' does not exist", e.Message);
        Assert.Contains(Server.Endpoint, e.Message);
        Assert.Contains("--s3-bucket", e.Message);
        Assert.Contains("KAFSCALE_S3_BUCKET", e.Message);
        Assert.Contains("Create the bucket", e.Message);
    }

    [Fact]
    public async Task An_unreachable_endpoint_fails_quickly_with_one_message_naming_the_endpoint_and_setting()
    {
        string endpoint = $"http://127.0.0.1:{ServerProcess.FreePort()}";
        var clock = Stopwatch.StartNew();

        var e = await Assert.ThrowsAsync<S3StoreStartupException>(
            () => S3ObjectStore.OpenAsync(Server.OptionsFor(S3rverFixture.Bucket) with { Endpoint = endpoint }, NullLogger.Instance, Ct));

        Assert.Contains($"cannot reach the S3 endpoint {endpoint}", e.Message);
        Assert.Contains("--s3-endpoint", e.Message);
        Assert.Contains("KAFSCALE_S3_ENDPOINT", e.Message);
        Assert.Contains("refused", e.Message, StringComparison.OrdinalIgnoreCase);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task An_endpoint_that_is_not_a_url_is_named_in_the_error()
    {
        var e = await Assert.ThrowsAsync<S3StoreStartupException>(
            () => S3ObjectStore.OpenAsync(Server.OptionsFor(S3rverFixture.Bucket) with { Endpoint = "127.0.0.1:9000" }, NullLogger.Instance, Ct));
        Assert.Contains("KAFSCALE_S3_ENDPOINT", e.Message);
        Assert.Contains("127.0.0.1:9000", e.Message);
    }

    [Fact]
    public async Task Credentials_from_the_options_sign_the_requests()
    {
        // s3rver knows one access key; any other is refused, so a refusal proves the options' key was sent.
        var refused = await Assert.ThrowsAsync<S3StoreStartupException>(() => S3ObjectStore.OpenAsync(
            Server.OptionsFor(S3rverFixture.Bucket) with { AccessKey = "SOMEONE-ELSE", SecretKey = "x" }, NullLogger.Instance, Ct));
        Assert.Contains("denied", refused.Message);
        Assert.Contains("KAFSCALE_S3_ACCESS_KEY", refused.Message);
        Assert.Contains(S3rverFixture.Bucket, refused.Message);

        await using S3ObjectStore store = await S3ObjectStore.OpenAsync(
            Server.OptionsFor(S3rverFixture.Bucket) with { AccessKey = S3rverServer.AccessKey, SecretKey = S3rverServer.SecretKey, SessionToken = "token" },
            NullLogger.Instance, Ct);
        await store.PutAsync($"cred-{Guid.NewGuid():N}", "x"u8.ToArray(), Ct);
    }

    [Fact]
    public async Task Without_credentials_in_the_options_the_AWS_default_chain_is_used()
    {
        // Only this test leaves the credentials out, so changing the process environment affects no other store.
        var saved = new Dictionary<string, string?>();
        void Set(string name, string? value)
        {
            saved.TryAdd(name, Environment.GetEnvironmentVariable(name));
            Environment.SetEnvironmentVariable(name, value);
        }
        string nowhere = Path.Combine(Path.GetTempPath(), $"no-aws-config-{Guid.NewGuid():N}");
        Set("AWS_ACCESS_KEY_ID", S3rverServer.AccessKey);
        Set("AWS_SECRET_ACCESS_KEY", S3rverServer.SecretKey);
        Set("AWS_SESSION_TOKEN", null);
        Set("AWS_PROFILE", null);
        Set("AWS_SHARED_CREDENTIALS_FILE", nowhere);
        Set("AWS_CONFIG_FILE", nowhere);
        Set("AWS_EC2_METADATA_DISABLED", "true");
        try
        {
            await using S3ObjectStore store = await S3ObjectStore.OpenAsync(
                Server.OptionsFor(S3rverFixture.Bucket) with { AccessKey = null, SecretKey = null }, NullLogger.Instance, Ct);
            await store.PutAsync($"chain-{Guid.NewGuid():N}", "x"u8.ToArray(), Ct);
        }
        finally
        {
            foreach (var (name, value) in saved)
                Environment.SetEnvironmentVariable(name, value);
        }
    }

    [Fact]
    public void Options_never_print_the_secret_or_the_session_token()
    {
        string printed = (Server.OptionsFor(S3rverFixture.Bucket) with { SecretKey = "very-secret", SessionToken = "session-secret" }).ToString();
        Assert.DoesNotContain("very-secret", printed);
        Assert.DoesNotContain("session-secret", printed);
        Assert.Contains(S3rverFixture.Bucket, printed);
    }

    [Fact]
    public async Task A_secret_without_an_access_key_or_the_reverse_is_refused_with_the_setting_names()
    {
        var e = await Assert.ThrowsAsync<S3StoreStartupException>(() => S3ObjectStore.OpenAsync(
            Server.OptionsFor(S3rverFixture.Bucket) with { SecretKey = null }, NullLogger.Instance, Ct));
        Assert.Contains("KAFSCALE_S3_SECRET_KEY", e.Message);
    }
}

/// <summary>A read replica in a second bucket: reads go there first and fall back to the primary.</summary>
public sealed class S3ReadReplicaTests(S3rverFixture fixture) : IClassFixture<S3rverFixture>, IAsyncLifetime
{
    private readonly string _prefix = $"r-{Guid.NewGuid():N}/";
    private S3ObjectStore _store = null!;
    private S3ObjectStore _replica = null!;

    private static CancellationToken Ct => CancellationToken.None;

    public async Task InitializeAsync()
    {
        S3StoreOptions primary = fixture.Server.OptionsFor(S3rverFixture.Bucket);
        _store = await S3ObjectStore.OpenAsync(primary with { ReadBucket = S3rverFixture.ReplicaBucket, ReadEndpoint = fixture.Server.Endpoint }, NullLogger.Instance, Ct);
        // Writes into the replica bucket stand in for replication.
        _replica = await S3ObjectStore.OpenAsync(fixture.Server.OptionsFor(S3rverFixture.ReplicaBucket), NullLogger.Instance, Ct);
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        await _replica.DisposeAsync();
    }

    [Fact]
    public async Task Reads_of_an_object_not_yet_replicated_fall_back_to_the_primary()
    {
        byte[] data = "only in the primary"u8.ToArray();
        await _store.PutAsync(_prefix + "k", data, Ct);

        Assert.Null(await _replica.GetAsync(_prefix + "k", Ct));
        Assert.Equal(data, await _store.GetAsync(_prefix + "k", Ct));
        Assert.Equal(data.Length, await _store.GetSizeAsync(_prefix + "k", Ct));
        var buffer = new byte[4];
        Assert.Equal(4, await _store.ReadRangeAsync(_prefix + "k", 5, buffer, Ct));
        Assert.Equal("in t"u8.ToArray(), buffer);
    }

    [Fact]
    public async Task Reads_go_to_the_replica_first()
    {
        await _store.PutAsync(_prefix + "k", "primary copy"u8.ToArray(), Ct);
        await _replica.PutAsync(_prefix + "k", "replica copy!"u8.ToArray(), Ct);

        Assert.Equal("replica copy!"u8.ToArray(), await _store.GetAsync(_prefix + "k", Ct));
        Assert.Equal(13, await _store.GetSizeAsync(_prefix + "k", Ct));
        var buffer = new byte[7];
        Assert.Equal(7, await _store.ReadRangeAsync(_prefix + "k", 0, buffer, Ct));
        Assert.Equal("replica"u8.ToArray(), buffer);
    }

    [Fact]
    public async Task Writes_listings_and_deletes_use_the_primary_only()
    {
        await _store.PutAsync(_prefix + "w", "x"u8.ToArray(), Ct);
        await _replica.PutAsync(_prefix + "only-in-replica", "x"u8.ToArray(), Ct);

        Assert.Equal([_prefix + "w"], (await S3ObjectStoreTests.ToListAsync(_store.ListAsync(_prefix, Ct))).Select(o => o.Key));
        Assert.Null(await _replica.GetAsync(_prefix + "w", Ct));

        await _store.DeleteAsync(_prefix + "only-in-replica", Ct);
        Assert.NotNull(await _replica.GetAsync(_prefix + "only-in-replica", Ct));
    }

    [Fact]
    public async Task A_key_in_neither_bucket_is_missing()
    {
        Assert.Null(await _store.GetAsync(_prefix + "none", Ct));
        Assert.Null(await _store.GetSizeAsync(_prefix + "none", Ct));
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => _store.ReadRangeAsync(_prefix + "none", 0, new byte[1], Ct));
    }

    [Fact]
    public async Task A_missing_replica_bucket_fails_startup_naming_the_read_bucket_setting()
    {
        var e = await Assert.ThrowsAsync<S3StoreStartupException>(() => S3ObjectStore.OpenAsync(
            fixture.Server.OptionsFor(S3rverFixture.Bucket) with { ReadBucket = "no-such-replica" }, NullLogger.Instance, Ct));
        Assert.Contains("'no-such-replica'", e.Message);
        Assert.Contains("KAFSCALE_S3_READ_BUCKET", e.Message);
    }
}
