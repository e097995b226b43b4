using KafScale.Storage.S3;
using KafScale.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;
using static KafScale.Iceberg.Tests.TableFixture;

namespace KafScale.Iceberg.Tests;

/// <summary>The filesystem catalog on S3: a real s3rver, and the conditional-write S3 double for the race.</summary>
public sealed class S3CatalogTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;
    private static readonly TableIdentifier Id = new("lake", "orders");
    private const string Bucket = "tables";

    private static S3StoreOptions Options(string endpoint) => new()
    {
        Bucket = Bucket,
        Endpoint = endpoint,
        PathStyle = true,
        AccessKey = S3rverServer.AccessKey,
        SecretKey = S3rverServer.SecretKey,
    };

    [Fact]
    public async Task Tables_on_s3rver_append_evolve_and_reload()
    {
        string root = Directory.CreateTempSubdirectory("iceberg-s3-").FullName;
        try
        {
            await using S3rverServer s3 = await S3rverServer.StartAsync(root, Bucket);
            await using S3ObjectStore store = await S3ObjectStore.OpenAsync(Options(s3.Endpoint), NullLogger.Instance, Ct);
            var io = new ObjectStoreFileIO(store, $"s3://{Bucket}");
            var catalog = new FilesystemCatalog(io, $"s3://{Bucket}/warehouse");

            TableMetadata table = await catalog.CreateTableAsync(Id, Schema, DaySpec, new Dictionary<string, string>(), Ct);
            Assert.Equal($"s3://{Bucket}/warehouse/lake/orders", table.Location);
            TableMetadata stale = table;
            var all = new List<DataFile>();
            for (int s = 0; s < 3; s++)
            {
                DataFile f = await WriteDataFileAsync(io, table, Day(s), 10 * (s + 1), "s" + s, withExtra: s == 2);
                all.Add(f);
                table = await AppendAsync(catalog, Id, table, [f], s == 2 ? EvolvedSchema : null);
            }

            // A commit on an old base loses: v2 exists (s3rver ignores If-None-Match, the store checks first).
            var updates = await FastAppend.PrepareAsync(io, stale, [all[0]], new Dictionary<string, string>(), null, Ct);
            await Assert.ThrowsAsync<CommitConflictException>(() => catalog.CommitAsync(Id, stale, updates, Ct));

            TableMetadata loaded = (await new FilesystemCatalog(io, $"s3://{Bucket}/warehouse").LoadTableAsync(Id, Ct))!;
            Assert.Equal($"s3://{Bucket}/warehouse/lake/orders/metadata/v4.metadata.json", loaded.MetadataLocation);
            Assert.Equal(3, loaded.Snapshots.Count);
            Assert.Equal(3, loaded.MetadataLog.Count);
            Assert.Equal(4, loaded.CurrentSchema.FindByName("extra")!.Id);
            Assert.Equal(60, loaded.CurrentSnapshot!.SummaryLong("total-records"));
            Assert.Equal("4", System.Text.Encoding.UTF8.GetString((await io.ReadAsync($"{loaded.Location}/metadata/version-hint.text", Ct))!));

            var lists = Manifests.ReadManifestList((await io.ReadAsync(loaded.CurrentSnapshot.ManifestList, Ct))!);
            Assert.Equal(3, lists.Count);
            Assert.Equal(60, lists.Sum(m => m.AddedRowsCount));
            foreach (ManifestFile m in lists)
            {
                var entries = Manifests.ReadManifest((await io.ReadAsync(m.ManifestPath, Ct))!);
                ManifestEntry e = Assert.Single(entries);
                Assert.Equal(m.AddedSnapshotId, e.SnapshotId);
                Assert.NotNull(await io.ReadAsync(e.File.FilePath, Ct));
                Assert.Equal(e.File.RecordCount, m.AddedRowsCount);
            }
            var listed = new List<string>();
            await foreach (string uri in io.ListAsync($"{loaded.Location}/metadata/", Ct))
                listed.Add(uri);
            Assert.Equal(4, listed.Count(u => u.EndsWith(".metadata.json")));
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }

    [Fact]
    public async Task Racing_committers_on_a_conditional_store_one_conflicts_and_the_retry_keeps_both()
    {
        await using ConditionalS3TestDouble s3 = ConditionalS3TestDouble.Start(Bucket);
        await using S3ObjectStore store = await S3ObjectStore.OpenAsync(Options(s3.Endpoint), NullLogger.Instance, Ct);
        Assert.True(store.SupportsConditionalCreate);
        var io = new ObjectStoreFileIO(store, $"s3://{Bucket}/prefix");
        var a = new FilesystemCatalog(io, $"s3://{Bucket}/prefix/wh");
        var b = new FilesystemCatalog(io, $"s3://{Bucket}/prefix/wh");
        TableMetadata created = await a.CreateTableAsync(Id, Schema, DaySpec, new Dictionary<string, string>(), Ct);
        Assert.NotNull(s3.GetObject(Bucket, "prefix/wh/lake/orders/metadata/v1.metadata.json"));

        // Hold A's create of v2 until B has tried the same key.
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        DataFile fa = await WriteDataFileAsync(io, created, Day(0), 11, "a");
        DataFile fb = await WriteDataFileAsync(io, created, Day(1), 22, "b");
        var updatesA = await FastAppend.PrepareAsync(io, created, [fa], new Dictionary<string, string>(), null, Ct);
        var updatesB = await FastAppend.PrepareAsync(io, created, [fb], new Dictionary<string, string>(), null, Ct);
        s3.BeforePut = put =>
        {
            if (!put.Key.EndsWith("v2.metadata.json") || !held.TrySetResult())
                return Task.CompletedTask;
            return release.Task;
        };
        Task<TableMetadata> commitA = a.CommitAsync(Id, created, updatesA, Ct);
        await held.Task;
        Task<TableMetadata> commitB = b.CommitAsync(Id, created, updatesB, Ct);
        // B's PUT is not held (only the first one is); it creates v2 first, A's held PUT then loses.
        await commitB;
        release.SetResult();
        await Assert.ThrowsAsync<CommitConflictException>(() => commitA);

        TableMetadata? done = await Commits.CommitWithRetryAsync(a, Id,
            (current, ct) => FastAppend.PrepareAsync(io, current, [fa], new Dictionary<string, string>(), null, ct)!, 3, Ct);
        Assert.Equal(33, done!.CurrentSnapshot!.SummaryLong("total-records"));
        TableMetadata loaded = (await b.LoadTableAsync(Id, Ct))!;
        Assert.Equal(2, loaded.Snapshots.Count);
        Assert.EndsWith("v3.metadata.json", loaded.MetadataLocation);
        var lists = Manifests.ReadManifestList((await io.ReadAsync(loaded.CurrentSnapshot!.ManifestList, Ct))!);
        Assert.Equal(33, lists.Sum(m => m.AddedRowsCount));
    }
}
