using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using KafScale.Iceberg;
using KafScale.TestSupport;

namespace KafScale.Processor.Tests;

/// <summary>
/// A stand-in for an Iceberg REST catalog (no real one can run here), enough for the processor:
/// GET /v1/config, POST /v1/oauth/tokens (client_credentials), namespaces (get, create), tables
/// (create, load, commit). Every call but the token one needs the bearer token. Commits check
/// their requirements against the current metadata (409 on a mismatch) and apply the updates with
/// the Iceberg library; each metadata version is written as a file under the table's location.
/// </summary>
internal sealed class RestCatalogStandIn : IAsyncDisposable
{
    private const string Token = "stand-in-token";
    private readonly HttpListener _listener;
    private readonly Task _loop;
    private readonly Lock _lock = new();
    private readonly HashSet<string> _namespaces = [];
    private readonly Dictionary<string, (TableMetadata Metadata, string File)> _tables = [];
    private int _version;

    private RestCatalogStandIn(HttpListener listener, int port, string warehouseDir)
    {
        _listener = listener;
        Port = port;
        WarehouseDir = warehouseDir;
        _loop = Task.Run(LoopAsync);
    }

    public int Port { get; }
    public string Uri => $"http://127.0.0.1:{Port}/api/catalog";
    public string WarehouseDir { get; }
    public string ClientId => "proc";
    public string ClientSecret => "s3cret";
    public int Commits { get; private set; }
    public int Unauthorized { get; private set; }

    public static RestCatalogStandIn Start(string warehouseDir)
    {
        int port = ServerProcess.FreePort();
        var listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/api/catalog/");
        listener.Start();
        return new RestCatalogStandIn(listener, port, warehouseDir);
    }

    /// <summary>The current metadata file of a table.</summary>
    public string MetadataFile(string ns, string table)
    {
        lock (_lock) return _tables[$"{ns}\u001f{table}"].File;
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext ctx;
            try { ctx = await _listener.GetContextAsync(); }
            catch (Exception) { return; }
            try { await HandleAsync(ctx); }
            catch (Exception e) { await ReplyAsync(ctx, 500, Error("ServerError", e.Message, 500)); }
        }
    }

    private static JsonObject Error(string type, string message, int code) =>
        new() { ["error"] = new JsonObject { ["message"] = message, ["type"] = type, ["code"] = code } };

    private static async Task ReplyAsync(HttpListenerContext ctx, int status, JsonNode body)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(body.ToJsonString());
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json";
        ctx.Response.ContentLength64 = bytes.Length;
        await ctx.Response.OutputStream.WriteAsync(bytes);
        ctx.Response.Close();
    }

    private async Task HandleAsync(HttpListenerContext ctx)
    {
        string path = ctx.Request.Url!.AbsolutePath["/api/catalog".Length..];
        string method = ctx.Request.HttpMethod;
        string body = await new StreamReader(ctx.Request.InputStream).ReadToEndAsync();
        if (path == "/v1/oauth/tokens" && method == "POST")
        {
            var form = body.Split('&').Select(p => p.Split('=', 2)).ToDictionary(p => WebUtility.UrlDecode(p[0]), p => WebUtility.UrlDecode(p.Length > 1 ? p[1] : ""));
            if (form.GetValueOrDefault("grant_type") != "client_credentials" || form.GetValueOrDefault("client_id") != ClientId || form.GetValueOrDefault("client_secret") != ClientSecret)
            {
                await ReplyAsync(ctx, 401, new JsonObject { ["error"] = "invalid_client" });
                return;
            }
            await ReplyAsync(ctx, 200, new JsonObject { ["access_token"] = Token, ["token_type"] = "bearer", ["expires_in"] = 3600, ["issued_token_type"] = "urn:ietf:params:oauth:token-type:access_token" });
            return;
        }
        if (ctx.Request.Headers["Authorization"] != "Bearer " + Token)
        {
            Unauthorized++;
            await ReplyAsync(ctx, 401, Error("NotAuthorizedException", "bearer token required", 401));
            return;
        }
        string[] parts = path.Trim('/').Split('/');
        if (path == "/v1/config")
        {
            await ReplyAsync(ctx, 200, new JsonObject { ["defaults"] = new JsonObject(), ["overrides"] = new JsonObject() });
            return;
        }
        if (parts is ["v1", "namespaces"] && method == "POST")
        {
            var ns = string.Join('.', JsonNode.Parse(body)!["namespace"]!.AsArray().Select(n => n!.GetValue<string>()));
            lock (_lock) _namespaces.Add(ns);
            await ReplyAsync(ctx, 200, new JsonObject { ["namespace"] = new JsonArray(ns.Split('.').Select(s => (JsonNode)s).ToArray()), ["properties"] = new JsonObject() });
            return;
        }
        if (parts.Length >= 3 && parts[0] == "v1" && parts[1] == "namespaces")
        {
            string ns = System.Uri.UnescapeDataString(parts[2]).Replace('\u001f', '.');
            bool known;
            lock (_lock) known = _namespaces.Contains(ns);
            if (!known)
            {
                await ReplyAsync(ctx, 404, Error("NoSuchNamespaceException", $"namespace {ns} does not exist", 404));
                return;
            }
            if (parts.Length == 3)
            {
                await ReplyAsync(ctx, 200, new JsonObject { ["namespace"] = new JsonArray(ns.Split('.').Select(s => (JsonNode)s).ToArray()), ["properties"] = new JsonObject() });
                return;
            }
            if (parts.Length == 4 && parts[3] == "tables" && method == "POST")
            {
                await CreateAsync(ctx, ns, JsonNode.Parse(body)!.AsObject());
                return;
            }
            if (parts.Length == 5 && parts[3] == "tables")
            {
                string key = $"{ns}\u001f{System.Uri.UnescapeDataString(parts[4])}";
                (TableMetadata Metadata, string File) t;
                lock (_lock)
                {
                    if (!_tables.TryGetValue(key, out t))
                    {
                        _ = ReplyAsync(ctx, 404, Error("NoSuchTableException", "no such table", 404));
                        return;
                    }
                }
                if (method == "GET") await ReplyAsync(ctx, 200, Result(t.Metadata, t.File));
                else await CommitAsync(ctx, key, body);
                return;
            }
        }
        await ReplyAsync(ctx, 404, Error("NotFoundException", $"{method} {path}", 404));
    }

    private static JsonObject Result(TableMetadata md, string file) =>
        new() { ["metadata-location"] = "file://" + file, ["metadata"] = JsonNode.Parse(md.ToJson()) };

    private string Save(TableMetadata md)
    {
        string dir = Path.Combine(new System.Uri(md.Location).LocalPath, "metadata");
        Directory.CreateDirectory(dir);
        string file = Path.Combine(dir, $"{Interlocked.Increment(ref _version):D5}-{Guid.NewGuid()}.metadata.json");
        File.WriteAllBytes(file, md.ToJson());
        return file;
    }

    private async Task CreateAsync(HttpListenerContext ctx, string ns, JsonObject request)
    {
        string name = request["name"]!.GetValue<string>();
        string key = $"{ns}\u001f{name}";
        var schema = request["schema"]!.DeepClone();
        var spec = request["partition-spec"]!.DeepClone().AsObject();
        spec["spec-id"] ??= 0;
        int lastColumn = schema["fields"]!.AsArray().Max(f => f!["id"]!.GetValue<int>());
        int lastPartition = spec["fields"]!.AsArray().Select(f => f!["field-id"]!.GetValue<int>()).DefaultIfEmpty(999).Max();
        var metadata = new JsonObject
        {
            ["format-version"] = 2,
            ["table-uuid"] = Guid.NewGuid().ToString(),
            ["location"] = "file://" + Path.Combine(WarehouseDir, Path.Combine(ns.Split('.')), name),
            ["last-sequence-number"] = 0,
            ["last-updated-ms"] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            ["last-column-id"] = lastColumn,
            ["schemas"] = new JsonArray(schema),
            ["current-schema-id"] = schema["schema-id"]?.GetValue<int>() ?? 0,
            ["partition-specs"] = new JsonArray(spec),
            ["default-spec-id"] = spec["spec-id"]!.GetValue<int>(),
            ["last-partition-id"] = lastPartition,
            ["properties"] = request["properties"]?.DeepClone() ?? new JsonObject(),
            ["sort-orders"] = new JsonArray(new JsonObject { ["order-id"] = 0, ["fields"] = new JsonArray() }),
            ["default-sort-order-id"] = 0,
            ["snapshots"] = new JsonArray(),
            ["refs"] = new JsonObject(),
        };
        var md = TableMetadata.Parse(Encoding.UTF8.GetBytes(metadata.ToJsonString()));
        lock (_lock)
        {
            if (_tables.ContainsKey(key))
            {
                _ = ReplyAsync(ctx, 409, Error("AlreadyExistsException", $"table {ns}.{name} exists", 409));
                return;
            }
            _tables[key] = (md, Save(md));
        }
        await ReplyAsync(ctx, 200, Result(md, _tables[key].File));
    }

    private async Task CommitAsync(HttpListenerContext ctx, string key, string body)
    {
        using var doc = JsonDocument.Parse(body);
        JsonObject reply;
        lock (_lock)
        {
            var current = _tables[key].Metadata;
            foreach (var r in doc.RootElement.GetProperty("requirements").EnumerateArray())
            {
                string? problem = r.GetProperty("type").GetString() switch
                {
                    "assert-table-uuid" => r.GetProperty("uuid").GetString() == current.TableUuid ? null : "table uuid",
                    "assert-ref-snapshot-id" => (r.GetProperty("snapshot-id").ValueKind == JsonValueKind.Null ? null : r.GetProperty("snapshot-id").GetInt64()) == current.CurrentSnapshot?.SnapshotId ? null : "ref main moved",
                    "assert-current-schema-id" => r.GetProperty("current-schema-id").GetInt32() == current.CurrentSchema.SchemaId ? null : "current schema",
                    "assert-last-assigned-field-id" => r.GetProperty("last-assigned-field-id").GetInt32() == current.LastColumnId ? null : "last column id",
                    "assert-default-spec-id" => r.GetProperty("default-spec-id").GetInt32() == current.DefaultSpec.SpecId ? null : "default spec",
                    _ => null,
                };
                if (problem is not null)
                {
                    _ = ReplyAsync(ctx, 409, Error("CommitFailedException", $"requirement failed: {problem}", 409));
                    return;
                }
            }
            var updates = doc.RootElement.GetProperty("updates").EnumerateArray().Select(TableUpdate.Parse).ToList();
            var next = current.Apply(updates);
            string file = Save(next);
            _tables[key] = (next, file);
            Commits++;
            reply = Result(next, file);
        }
        await ReplyAsync(ctx, 200, reply);
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Close();
        try { await _loop; } catch { }
    }
}
