using System.Net;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafScale.Storage.S3.Tests;

/// <summary>
/// The true conditional-create path (412 on If-None-Match) and the retry policy, against
/// <see cref="ConditionalS3TestDouble"/>, since s3rver ignores the header.
/// </summary>
public sealed class ConditionalCreateTests : IAsyncLifetime
{
    private const string Bucket = "segments";
    private readonly ConditionalS3TestDouble _s3 = ConditionalS3TestDouble.Start(Bucket);
    private readonly ListLogger _logger = new();
    private S3ObjectStore _store = null!;

    private static CancellationToken Ct => CancellationToken.None;

    public async Task InitializeAsync() => _store = await S3ObjectStore.OpenAsync(_s3.OptionsFor(Bucket), _logger, Ct);

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        await _s3.DisposeAsync();
    }

    [Fact]
    public void Startup_detects_a_store_that_honours_IfNoneMatch_and_does_not_warn()
    {
        Assert.True(_store.SupportsConditionalCreate);
        Assert.Empty(_logger.At(LogLevel.Warning));
        Assert.Empty(_s3.Keys(Bucket));
        Assert.Equal(2, _s3.Requests.Count(r => r.StartsWith("PUT /segments/_kafscale/probe/", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task CreateIfAbsent_of_a_new_key_writes_it_and_returns_true()
    {
        Assert.True(await _store.CreateIfAbsentAsync("default/orders/0/segment-00000000000000000000.kfs", "one"u8.ToArray(), Ct));
        Assert.Equal("one"u8.ToArray(), _s3.GetObject(Bucket, "default/orders/0/segment-00000000000000000000.kfs"));
    }

    [Fact]
    public async Task CreateIfAbsent_returns_false_on_412_and_leaves_the_first_object_alone()
    {
        const string key = "default/orders/0/segment-00000000000000000000.kfs";
        _s3.PutObject(Bucket, key, "written by the new leader"u8.ToArray());

        Assert.False(await _store.CreateIfAbsentAsync(key, "delayed write of a deposed leader"u8.ToArray(), Ct));

        Assert.Equal("written by the new leader", Encoding.UTF8.GetString(_s3.GetObject(Bucket, key)!));
        // One conditional PUT, answered 412, and no HEAD: the store relies on the header.
        Assert.Equal(1, _s3.Requests.Count(r => r.StartsWith($"PUT /{Bucket}/default/", StringComparison.Ordinal)));
        Assert.DoesNotContain(_s3.Requests, r => r.StartsWith($"HEAD /{Bucket}/default/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Of_many_concurrent_creators_of_one_key_exactly_one_wins()
    {
        const string key = "default/orders/0/segment-00000000000000000100.kfs";
        bool[] results = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => _store.CreateIfAbsentAsync(key, Encoding.UTF8.GetBytes($"writer {i}"), Ct)));

        int winner = Assert.Single(Enumerable.Range(0, 8), i => results[i]);
        Assert.Equal($"writer {winner}", Encoding.UTF8.GetString(_s3.GetObject(Bucket, key)!));
    }

    [Fact]
    public async Task A_delayed_create_of_a_deposed_writer_loses_to_the_create_that_landed_first()
    {
        const string key = "default/orders/0/segment-00000000000000000200.kfs";
        await using S3ObjectStore deposed = await S3ObjectStore.OpenAsync(_s3.OptionsFor(Bucket), NullLogger.Instance, Ct);
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _s3.BeforePut = put =>
        {
            if (put.Key != key || Encoding.UTF8.GetString(put.Body) != "old leader")
                return Task.CompletedTask;
            Assert.True(put.IfNoneMatch);
            held.TrySetResult();
            return release.Task;
        };

        Task<bool> late = deposed.CreateIfAbsentAsync(key, "old leader"u8.ToArray(), Ct);
        await held.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(await _store.CreateIfAbsentAsync(key, "new leader"u8.ToArray(), Ct));
        release.SetResult();

        Assert.False(await late);
        Assert.Equal("new leader", Encoding.UTF8.GetString(_s3.GetObject(Bucket, key)!));
    }

    [Fact]
    public async Task Startup_against_the_double_playing_an_ignoring_store_reports_no_conditional_create()
    {
        await using var ignoring = ConditionalS3TestDouble.Start(Bucket);
        ignoring.HonourIfNoneMatch = false;
        var logger = new ListLogger();

        await using S3ObjectStore store = await S3ObjectStore.OpenAsync(ignoring.OptionsFor(Bucket), logger, Ct);

        Assert.False(store.SupportsConditionalCreate);
        Assert.Contains("fencing falls back to leases alone", Assert.Single(logger.At(LogLevel.Warning)));
    }

    [Fact]
    public async Task Retriable_failures_are_retried_until_the_request_succeeds()
    {
        _s3.FailNext(2, 503, "SlowDown");
        await _store.PutAsync("retry/k", "v"u8.ToArray(), Ct);
        Assert.Equal(3, _s3.Requests.Count(r => r == $"PUT /{Bucket}/retry/k"));
        Assert.Equal("v"u8.ToArray(), _s3.GetObject(Bucket, "retry/k"));

        _s3.FailNext(1, 429, "TooManyRequests");
        Assert.Equal("v"u8.ToArray(), await _store.GetAsync("retry/k", Ct));

        _s3.FailNext(1, 500, "InternalError");
        Assert.Equal(1, await _store.GetSizeAsync("retry/k", Ct));
    }

    [Fact]
    public async Task Retries_are_bounded_and_the_last_failure_is_reported_as_transient()
    {
        _s3.FailNext(100, 503, "SlowDown");

        var e = await Assert.ThrowsAsync<S3StoreException>(() => _store.PutAsync("retry/bounded", "v"u8.ToArray(), Ct));

        _s3.FailNext(0);
        Assert.Equal(_store.Options.MaxRetries + 1, _s3.Requests.Count(r => r == $"PUT /{Bucket}/retry/bounded"));
        Assert.True(e.IsTransient);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, e.StatusCode);
        Assert.Equal("SlowDown", e.ErrorCode);
        Assert.Equal("PutObject", e.Operation);
        Assert.Equal("retry/bounded", e.Key);
        Assert.Contains(_s3.Endpoint, e.Message);
    }

    [Fact]
    public async Task Failures_that_another_attempt_cannot_fix_are_not_retried()
    {
        _s3.FailNext(1, 403, "AccessDenied");

        var e = await Assert.ThrowsAsync<S3StoreException>(() => _store.PutAsync("retry/denied", "v"u8.ToArray(), Ct));

        Assert.False(e.IsTransient);
        Assert.Equal(HttpStatusCode.Forbidden, e.StatusCode);
        Assert.Equal("AccessDenied", e.ErrorCode);
        Assert.Single(_s3.Requests, r => r == $"PUT /{Bucket}/retry/denied");
    }

    [Fact]
    public async Task A_request_that_outlasts_the_timeout_is_retried_and_then_fails_as_transient()
    {
        await using var slow = ConditionalS3TestDouble.Start(Bucket);
        await using S3ObjectStore store = await S3ObjectStore.OpenAsync(
            slow.OptionsFor(Bucket) with { RequestTimeout = TimeSpan.FromMilliseconds(300), MaxRetries = 1 }, NullLogger.Instance, Ct);
        using var release = new CancellationTokenSource();
        slow.BeforePut = _ => Task.Delay(Timeout.Infinite, release.Token).ContinueWith(_ => { }, TaskScheduler.Default);

        var e = await Assert.ThrowsAsync<S3StoreException>(() => store.PutAsync("slow/k", "v"u8.ToArray(), Ct));

        release.Cancel();
        Assert.True(e.IsTransient);
        Assert.Null(e.StatusCode);
        Assert.Equal(2, slow.Requests.Count(r => r == $"PUT /{Bucket}/slow/k"));
    }

    [Fact]
    public async Task A_multipart_put_sends_every_part_and_completes()
    {
        await using S3ObjectStore store = await OpenSmallPartsAsync();
        byte[] data = new byte[10_000 + 1];
        new Random(7).NextBytes(data);

        await store.PutAsync("mp/whole", data, Ct);

        Assert.Equal(data, _s3.GetObject(Bucket, "mp/whole"));
        Assert.Equal(3, _s3.Requests.Count(r => r.StartsWith($"PUT /{Bucket}/mp/whole?", StringComparison.Ordinal) && r.Contains("partNumber=", StringComparison.Ordinal)));
        Assert.Equal(0, _s3.PendingUploads);
    }

    [Fact]
    public async Task A_failed_multipart_put_aborts_the_upload()
    {
        await using S3ObjectStore store = await OpenSmallPartsAsync();
        _s3.FailNext(100, 500, "InternalError", line => line.Contains("partNumber=2", StringComparison.Ordinal));

        var e = await Assert.ThrowsAsync<S3StoreException>(() => store.PutAsync("mp/failed", new byte[10_001], Ct));

        _s3.FailNext(0);
        Assert.Equal("UploadPart", e.Operation);
        Assert.Equal(0, _s3.PendingUploads);
        Assert.Null(_s3.GetObject(Bucket, "mp/failed"));
        Assert.Single(_s3.Requests, r => r.StartsWith($"DELETE /{Bucket}/mp/failed?uploadId=", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_multipart_CreateIfAbsent_of_a_taken_key_returns_false_and_aborts()
    {
        await using S3ObjectStore store = await OpenSmallPartsAsync();
        _s3.PutObject(Bucket, "mp/taken", "first"u8.ToArray());

        Assert.False(await store.CreateIfAbsentAsync("mp/taken", new byte[10_001], Ct));
        Assert.True(await store.CreateIfAbsentAsync("mp/free", new byte[10_001], Ct));

        Assert.Equal("first"u8.ToArray(), _s3.GetObject(Bucket, "mp/taken"));
        Assert.Equal(10_001, _s3.GetObject(Bucket, "mp/free")!.Length);
        Assert.Equal(0, _s3.PendingUploads);
    }

    private Task<S3ObjectStore> OpenSmallPartsAsync() =>
        S3ObjectStore.OpenAsync(_s3.OptionsFor(Bucket) with { MultipartThresholdBytes = 4096, PartSizeBytes = 4096 }, NullLogger.Instance, Ct);

    [Fact]
    public async Task List_pages_with_continuation_tokens()
    {
        await using S3ObjectStore store = await S3ObjectStore.OpenAsync(_s3.OptionsFor(Bucket) with { ListMaxKeys = 2 }, NullLogger.Instance, Ct);
        foreach (int i in new[] { 4, 0, 3, 1, 2 })
            await store.PutAsync($"list/{i}", new byte[i], Ct);

        List<ObjectInfo> listed = await S3ObjectStoreTests.ToListAsync(store.ListAsync("list/", Ct));

        Assert.Equal(Enumerable.Range(0, 5).Select(i => new ObjectInfo($"list/{i}", i)), listed);
        Assert.Equal(3, _s3.Requests.Count(r => r.StartsWith("GET ", StringComparison.Ordinal) && r.Contains("list-type=2", StringComparison.Ordinal) && r.Contains("list%2F", StringComparison.Ordinal)));
    }
}
