using System.Text.Json;
using KafScale.Storage;
using static KafScale.Iceberg.Tests.TableFixture;

using KafScale.TestSupport;

namespace KafScale.Iceberg.Tests;

public sealed class RestCatalogTests : IAsyncLifetime
{
    private static readonly CancellationToken Ct = CancellationToken.None;
    private static readonly TableIdentifier Id = new("sales.eu", "orders");

    private readonly string _dir = Directory.CreateTempSubdirectory("iceberg-rest-").FullName;
    private RestCatalogStandIn _server = null!;
    private ObjectStoreFileIO _io = null!;

    public Task InitializeAsync()
    {
        _server = RestCatalogStandIn.Start(_dir);
        _io = new ObjectStoreFileIO(new LocalDirectoryObjectStore(_dir), "file://" + _dir);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_dir, true);
    }

    private Task<RestCatalog> Connect(string? token = null, string? credential = null, string? oauthUri = null, string scope = "catalog", string? warehouse = "wh") =>
        RestCatalog.ConnectAsync(new RestCatalogOptions
        {
            Uri = _server.Uri,
            Warehouse = warehouse,
            Token = token,
            Credential = credential,
            OAuth2ServerUri = oauthUri,
            Scope = scope,
        }, _io, Ct);

    [Fact]
    public async Task Config_prefix_namespaces_create_load_and_commits_with_a_bearer_token()
    {
        _server.StaticToken = "secret-token";
        await using RestCatalog catalog = await Connect(token: "secret-token");
        Assert.Equal("wh1-prefix", catalog.Prefix); // the override wins over the default
        Assert.Equal("4", catalog.CatalogProperties["clients"]);
        Assert.Contains("GET /api/catalog/v1/config?warehouse=wh", _server.Requests);

        await catalog.EnsureNamespaceAsync(Id.Namespace, Ct);
        await catalog.EnsureNamespaceAsync(Id.Namespace, Ct);
        Assert.Single(_server.Requests, r => r == "POST /api/catalog/v1/wh1-prefix/namespaces");
        Assert.Contains("GET /api/catalog/v1/wh1-prefix/namespaces/sales%1Feu", _server.Requests);

        Assert.Null(await catalog.LoadTableAsync(Id, Ct));
        TableMetadata created = await catalog.CreateTableAsync(Id, Schema, DaySpec, new Dictionary<string, string> { ["owner"] = "kafscale" }, Ct);
        Assert.Equal($"file://{_dir}/sales/eu/orders", created.Location);
        Assert.NotNull(created.MetadataLocation);
        Assert.Equal("kafscale", created.Properties["owner"]);
        await Assert.ThrowsAsync<TableAlreadyExistsException>(() => catalog.CreateTableAsync(Id, Schema, DaySpec, new Dictionary<string, string>(), Ct));

        DataFile file = await WriteDataFileAsync(_io, created, Day(0), 12, "one");
        TableMetadata after = await AppendAsync(catalog, Id, created, [file]);
        Assert.Equal(12, after.CurrentSnapshot!.SummaryLong("total-records"));
        using (JsonDocument body = JsonDocument.Parse(_server.LastCommitBody!))
        {
            JsonElement reqs = body.RootElement.GetProperty("requirements");
            Assert.Equal("assert-table-uuid", reqs[0].GetProperty("type").GetString());
            Assert.Equal(created.TableUuid, reqs[0].GetProperty("uuid").GetString());
            Assert.Equal("assert-ref-snapshot-id", reqs[1].GetProperty("type").GetString());
            Assert.Equal(JsonValueKind.Null, reqs[1].GetProperty("snapshot-id").ValueKind);
            Assert.Equal(["add-snapshot", "set-snapshot-ref"], body.RootElement.GetProperty("updates").EnumerateArray().Select(u => u.GetProperty("action").GetString()));
            Assert.Equal(["sales", "eu"], body.RootElement.GetProperty("identifier").GetProperty("namespace").EnumerateArray().Select(e => e.GetString()));
        }

        // A second append that adds a column asserts the schema it evolved from.
        DataFile file2 = await WriteDataFileAsync(_io, after, Day(1), 8, "two", withExtra: true);
        TableMetadata evolved = await AppendAsync(catalog, Id, after, [file2], EvolvedSchema);
        using (JsonDocument body = JsonDocument.Parse(_server.LastCommitBody!))
        {
            var types = body.RootElement.GetProperty("requirements").EnumerateArray().Select(r => r.GetProperty("type").GetString()).ToList();
            Assert.Equal(["assert-table-uuid", "assert-current-schema-id", "assert-last-assigned-field-id", "assert-ref-snapshot-id"], types);
            Assert.Equal(after.CurrentSnapshot.SnapshotId, body.RootElement.GetProperty("requirements")[3].GetProperty("snapshot-id").GetInt64());
        }
        Assert.Equal(1, evolved.CurrentSchemaId);
        Assert.Equal(4, evolved.LastColumnId);

        TableMetadata loaded = (await catalog.LoadTableAsync(Id, Ct))!;
        Assert.Equal(2, loaded.Snapshots.Count);
        Assert.Equal(20, loaded.CurrentSnapshot!.SummaryLong("total-records"));
        Assert.Equal(2, loaded.MetadataLog.Count);
        Assert.Equal(loaded.MetadataLocation, evolved.MetadataLocation);
        var manifests = Manifests.ReadManifestList((await _io.ReadAsync(loaded.CurrentSnapshot.ManifestList, Ct))!);
        Assert.Equal([8L, 12L], manifests.Select(m => m.AddedRowsCount));
        Assert.All(_server.Requests.Where(r => r.Contains("/tables")), r => Assert.Contains("/v1/wh1-prefix/namespaces/sales%1Feu/tables", r));
    }

    [Fact]
    public async Task A_wrong_token_gets_the_servers_message()
    {
        _server.StaticToken = "right";
        var e = await Assert.ThrowsAsync<RestCatalogException>(() => Connect(token: "wrong"));
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, e.Status);
        Assert.Contains("NotAuthorizedException: Not authorized", e.Message);
        Assert.Contains("check the token or credential", e.Message);
    }

    [Fact]
    public async Task OAuth2_client_credentials_fetch_a_token_and_refresh_it_after_a_401()
    {
        _server.ClientId = "kafscale";
        _server.ClientSecret = "s3cr3t";
        await using RestCatalog catalog = await Connect(credential: "kafscale:s3cr3t", scope: "PRINCIPAL_ROLE:ALL");
        Assert.Equal(1, catalog.TokensFetched);
        Assert.Equal("PRINCIPAL_ROLE:ALL", _server.LastScope);
        Assert.Contains("POST /api/catalog/v1/oauth/tokens", _server.Requests);

        await catalog.EnsureNamespaceAsync(Id.Namespace, Ct);
        _server.RevokeTokens();
        Assert.Null(await catalog.LoadTableAsync(Id, Ct)); // 401, new token, answered
        Assert.Equal(2, catalog.TokensFetched);
        Assert.Equal(1, _server.Unauthorized);
        await catalog.CreateTableAsync(Id, Schema, DaySpec, new Dictionary<string, string>(), Ct);
        Assert.Equal(2, catalog.TokensFetched);
    }

    [Fact]
    public async Task OAuth2_tokens_are_refreshed_before_they_expire()
    {
        _server.ClientId = "kafscale";
        _server.ClientSecret = "s3cr3t";
        _server.TokenLifetimeSeconds = 1;
        await using RestCatalog catalog = await Connect(credential: "kafscale:s3cr3t");
        Assert.Equal(1, catalog.TokensFetched);
        await Task.Delay(TimeSpan.FromMilliseconds(1500));
        await catalog.EnsureNamespaceAsync(Id.Namespace, Ct);
        Assert.Equal(2, catalog.TokensFetched);
        Assert.Equal(0, _server.Unauthorized); // refreshed before sending, not after a refusal
    }

    [Fact]
    public async Task OAuth2_uses_the_given_token_endpoint_and_reports_bad_credentials()
    {
        _server.ClientId = "kafscale";
        _server.ClientSecret = "s3cr3t";
        string idp = $"http://127.0.0.1:{_server.Port}{_server.ExternalTokenPath}";
        await using (RestCatalog catalog = await Connect(credential: "kafscale:s3cr3t", oauthUri: idp))
        {
            Assert.Contains($"POST {_server.ExternalTokenPath}", _server.Requests);
            Assert.DoesNotContain("POST /api/catalog/v1/oauth/tokens", _server.Requests);
        }
        var e = await Assert.ThrowsAsync<RestCatalogException>(() => Connect(credential: "kafscale:wrong"));
        Assert.Contains("invalid_client: The client credentials are invalid", e.Message);
        Assert.Contains("401", e.Message);
    }

    [Fact]
    public async Task A_stale_commit_gets_409_and_the_retry_reloads_and_keeps_both_appends()
    {
        await using RestCatalog a = await Connect();
        await using RestCatalog b = await Connect();
        await a.EnsureNamespaceAsync(Id.Namespace, Ct);
        TableMetadata created = await a.CreateTableAsync(Id, Schema, DaySpec, new Dictionary<string, string>(), Ct);
        TableMetadata baseB = (await b.LoadTableAsync(Id, Ct))!;
        DataFile fa = await WriteDataFileAsync(_io, created, Day(0), 3, "a");
        DataFile fb = await WriteDataFileAsync(_io, created, Day(1), 4, "b");
        await AppendAsync(a, Id, created, [fa], writer: "a");

        var updates = await FastAppend.PrepareAsync(_io, baseB, [fb], new Dictionary<string, string>(), null, Ct);
        var conflict = await Assert.ThrowsAsync<CommitConflictException>(() => b.CommitAsync(Id, baseB, updates, Ct));
        Assert.Contains("CommitFailedException: Requirement failed: branch main was created concurrently", conflict.Message);

        int attempts = 0;
        TableMetadata? done = await Commits.CommitWithRetryAsync(b, Id, (current, ct) =>
        {
            attempts++;
            return FastAppend.PrepareAsync(_io, current, [fb], new Dictionary<string, string> { ["kafscale.writer"] = "b" }, null, ct)!;
        }, 3, Ct);
        Assert.Equal(1, attempts);
        Assert.Equal(7, done!.CurrentSnapshot!.SummaryLong("total-records"));
        Assert.Equal(["a", "b"], done.Snapshots.Select(s => s.Summary["kafscale.writer"]));
        var manifests = Manifests.ReadManifestList((await _io.ReadAsync(done.CurrentSnapshot.ManifestList, Ct))!);
        Assert.Equal(7, manifests.Sum(m => m.AddedRowsCount));

        // A retry that keeps losing gives up after maxAttempts with the conflict.
        TableMetadata current = (await a.LoadTableAsync(Id, Ct))!;
        int tries = 0;
        await Assert.ThrowsAsync<CommitConflictException>(() => Commits.CommitWithRetryAsync(b, Id, async (cur, ct) =>
        {
            tries++;
            var u = await FastAppend.PrepareAsync(_io, cur, [fb], new Dictionary<string, string>(), null, ct);
            await AppendAsync(a, Id, (await a.LoadTableAsync(Id, ct))!, [fa]); // someone always commits first
            return u;
        }, 2, Ct));
        Assert.Equal(2, tries);
        // Returning null from prepare abandons the commit.
        Assert.Null(await Commits.CommitWithRetryAsync(b, Id, (_, _) => Task.FromResult<IReadOnlyList<TableUpdate>?>(null), 2, Ct));
    }

    [Fact]
    public async Task Errors_carry_the_servers_message()
    {
        var e = await Assert.ThrowsAsync<RestCatalogException>(() => Connect(warehouse: "nope"));
        Assert.Contains("BadRequestException: Unknown warehouse 'nope'", e.Message);

        await using RestCatalog catalog = await Connect();
        e = await Assert.ThrowsAsync<RestCatalogException>(() => catalog.CreateTableAsync(new TableIdentifier("missing", "t"), Schema, DaySpec, new Dictionary<string, string>(), Ct));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, e.Status);
        Assert.Equal("NoSuchNamespaceException", e.ErrorType);
        Assert.Contains("Namespace does not exist: missing", e.Message);

        await catalog.EnsureNamespaceAsync(Id.Namespace, Ct);
        TableMetadata table = await catalog.CreateTableAsync(Id, Schema, DaySpec, new Dictionary<string, string>(), Ct);
        DataFile f = await WriteDataFileAsync(_io, table, Day(0), 1, "x");
        var updates = await FastAppend.PrepareAsync(_io, table, [f], new Dictionary<string, string>(), null, Ct);

        _server.FailNextCommit(500, "ServerError", "database is on fire");
        var unknown = await Assert.ThrowsAsync<CommitStateUnknownException>(() => catalog.CommitAsync(Id, table, updates, Ct));
        Assert.Contains("database is on fire", unknown.Message);

        _server.FailNextCommit(400, "BadRequestException", "bad update");
        e = await Assert.ThrowsAsync<RestCatalogException>(() => catalog.CommitAsync(Id, table, updates, Ct));
        Assert.Contains("400", e.Message);
        Assert.Contains("BadRequestException: bad update", e.Message);

        // The table is unchanged by the failed commits; a real one then works.
        TableMetadata after = await catalog.CommitAsync(Id, table, updates, Ct);
        Assert.Single(after.Snapshots);

        await Assert.ThrowsAsync<IcebergException>(() => RestCatalog.ConnectAsync(new RestCatalogOptions { Uri = "not a uri" }, _io, Ct));
        int closedPort = KafScale.TestSupport.ServerProcess.FreePort();
        var unreachable = await Assert.ThrowsAsync<RestTransportException>(() => RestCatalog.ConnectAsync(new RestCatalogOptions { Uri = $"http://127.0.0.1:{closedPort}/cat" }, _io, Ct));
        Assert.Contains($"GET http://127.0.0.1:{closedPort}/cat/v1/config failed", unreachable.Message);
        Assert.Contains("check the catalog uri", unreachable.Message);
        unreachable = await Assert.ThrowsAsync<RestTransportException>(() => RestCatalog.ConnectAsync(
            new RestCatalogOptions { Uri = _server.Uri, Credential = "a:b", OAuth2ServerUri = $"http://127.0.0.1:{closedPort}/token" }, _io, Ct));
        Assert.Contains("check the oauth2 server uri", unreachable.Message);
        await Assert.ThrowsAsync<IcebergException>(() => RestCatalog.ConnectAsync(new RestCatalogOptions { Uri = _server.Uri, Token = "t", Credential = "c" }, _io, Ct));
    }
}
