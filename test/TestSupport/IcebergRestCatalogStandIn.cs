using System.Net;
using System.Text;
using System.Text.Json;
using KafScale.Iceberg;

namespace KafScale.TestSupport;

/// <summary>
/// A stand-in for an Iceberg REST catalog (no real one runs here), following the REST OpenAPI:
/// GET /v1/config, POST /v1/oauth/tokens (client_credentials), namespaces (get, create), tables
/// (create, load, commit). Commits check their requirements against the stored metadata and
/// answer 409 CommitFailedException when one fails; accepted updates are applied and a new
/// metadata file is written. Errors use the REST error model. Served under /api/catalog on a
/// loopback port.
/// </summary>
public sealed class RestCatalogStandIn : IAsyncDisposable
{
    public const string BasePath = "/api/catalog";

    private readonly HttpListener _listener;
    private readonly Task _loop;
    private readonly Lock _lock = new();
    private readonly HashSet<string> _namespaces = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (byte[] Json, string Location)> _tables = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _tokens = new(StringComparer.Ordinal);
    private readonly List<string> _requests = [];
    private int _tokenCounter;
    private (int Status, string Type, string Message)? _failNextCommit;

    private RestCatalogStandIn(HttpListener listener, int port, string warehouseDir)
    {
        _listener = listener;
        Port = port;
        WarehouseDir = warehouseDir;
        _loop = Task.Run(LoopAsync);
    }

    public int Port { get; }
    public string Uri => $"http://127.0.0.1:{Port}{BasePath}";
    public string WarehouseDir { get; }
    public string WarehouseUri => "file://" + WarehouseDir;

    /// <summary>The warehouse name /v1/config expects (null: no warehouse parameter).</summary>
    public string? Warehouse { get; set; } = "wh";
    public string Prefix { get; set; } = "wh1-prefix";
    public string? StaticToken { get; set; }
    public string? ClientId { get; set; }
    public string? ClientSecret { get; set; }
    public long TokenLifetimeSeconds { get; set; } = 3600;
    /// <summary>An extra token endpoint path (besides /v1/oauth/tokens), like an external identity provider's.</summary>
    public string ExternalTokenPath { get; set; } = "/idp/token";

    public int TokensIssued { get; private set; }
    /// <summary>Commits accepted (requirements held, updates applied).</summary>
    public int Commits { get; private set; }
    public int Unauthorized { get; private set; }
    public string? LastScope { get; private set; }
    public string? LastCommitBody { get; private set; }

    public IReadOnlyList<string> Requests
    {
        get { lock (_lock) return [.. _requests]; }
    }

    public static RestCatalogStandIn Start(string warehouseDir)
    {
        for (int attempt = 0; ; attempt++)
        {
            int port = ServerProcess.FreePort();
            var listener = new HttpListener();
            listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            try
            {
                listener.Start();
            }
            catch (HttpListenerException) when (attempt < 5)
            {
                continue;
            }
            return new RestCatalogStandIn(listener, port, warehouseDir);
        }
    }

    /// <summary>All issued tokens stop being accepted (a key rotation).</summary>
    public void RevokeTokens()
    {
        lock (_lock) _tokens.Clear();
    }

    /// <summary>The local path of a table's current metadata file.</summary>
    public string MetadataFile(string ns, string table)
    {
        lock (_lock) return new System.Uri(_tables[Key(ns, table)].Location).LocalPath;
    }

    public void FailNextCommit(int status, string type, string message)
    {
        lock (_lock) _failNextCommit = (status, type, message);
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext ctx;
            try
            {
                ctx = await _listener.GetContextAsync();
            }
            catch (Exception) when (!_listener.IsListening)
            {
                return;
            }
            catch (HttpListenerException)
            {
                return;
            }
            _ = Task.Run(() => HandleAsync(ctx));
        }
    }

    private async Task HandleAsync(HttpListenerContext ctx)
    {
        try
        {
            using var ms = new MemoryStream();
            await ctx.Request.InputStream.CopyToAsync(ms);
            byte[] body = ms.ToArray();
            string raw = ctx.Request.RawUrl ?? "/";
            string path = raw.Split('?')[0];
            string query = raw.Contains('?') ? raw[(raw.IndexOf('?') + 1)..] : "";
            lock (_lock) _requests.Add($"{ctx.Request.HttpMethod} {raw}");
            (int status, byte[] response) = Route(ctx.Request.HttpMethod, path, query, ctx.Request.Headers["Authorization"], body);
            ctx.Response.StatusCode = status;
            ctx.Response.ContentType = "application/json";
            ctx.Response.ContentLength64 = response.Length;
            await ctx.Response.OutputStream.WriteAsync(response);
            ctx.Response.Close();
        }
        catch (Exception e)
        {
            try
            {
                byte[] error = Error(500, "ServerError", e.ToString()).Body;
                ctx.Response.StatusCode = 500;
                await ctx.Response.OutputStream.WriteAsync(error);
                ctx.Response.Close();
            }
            catch (Exception)
            {
                // The client went away.
            }
        }
    }

    private (int Status, byte[] Body) Route(string method, string path, string query, string? authorization, byte[] body)
    {
        if (path == ExternalTokenPath && method == "POST")
            return Token(body);
        if (!path.StartsWith(BasePath + "/v1/", StringComparison.Ordinal))
            return Error(404, "NotFoundException", $"no route for {path}");
        string[] segments = path[(BasePath.Length + 1)..].Split('/').Select(System.Uri.UnescapeDataString).ToArray();
        // segments[0] == "v1"
        if (segments.Length == 3 && segments[1] == "oauth" && segments[2] == "tokens" && method == "POST")
            return Token(body);
        if (!Authorized(authorization))
        {
            lock (_lock) Unauthorized++;
            return Error(401, "NotAuthorizedException", "Not authorized: missing or invalid bearer token");
        }
        if (segments.Length == 2 && segments[1] == "config" && method == "GET")
            return Config(query);
        string[] prefix = Prefix.Split('/');
        if (segments.Length < 1 + prefix.Length + 1 || !segments.Skip(1).Take(prefix.Length).SequenceEqual(prefix))
            return Error(404, "NotFoundException", $"unknown prefix in {path}");
        string[] rest = segments[(1 + prefix.Length)..];
        lock (_lock)
        {
            return rest switch
            {
                ["namespaces"] when method == "POST" => CreateNamespace(body),
                ["namespaces", var ns] when method == "GET" => _namespaces.Contains(ns)
                    ? Json(200, w => { w.WriteStartObject(); w.WriteStartArray("namespace"); foreach (string l in ns.Split('\u001f')) w.WriteStringValue(l); w.WriteEndArray(); w.WriteStartObject("properties"); w.WriteEndObject(); w.WriteEndObject(); })
                    : Error(404, "NoSuchNamespaceException", $"Namespace does not exist: {ns.Replace('\u001f', '.')}"),
                ["namespaces", var ns, "tables"] when method == "POST" => CreateTable(ns, body),
                ["namespaces", var ns, "tables", var table] when method == "GET" => LoadTable(ns, table),
                ["namespaces", var ns, "tables", var table] when method == "POST" => Commit(ns, table, body),
                _ => Error(404, "NotFoundException", $"no route for {method} {path}"),
            };
        }
    }

    private bool Authorized(string? authorization)
    {
        if (StaticToken is null && ClientId is null)
            return true;
        if (authorization is null || !authorization.StartsWith("Bearer ", StringComparison.Ordinal))
            return false;
        string token = authorization["Bearer ".Length..];
        if (StaticToken is not null)
            return token == StaticToken;
        lock (_lock)
            return _tokens.TryGetValue(token, out DateTimeOffset expires) && DateTimeOffset.UtcNow < expires;
    }

    private (int, byte[]) Token(byte[] body)
    {
        var form = Encoding.UTF8.GetString(body).Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split('=', 2)).ToDictionary(p => WebUtility.UrlDecode(p[0]), p => p.Length > 1 ? WebUtility.UrlDecode(p[1]) : "");
        if (form.GetValueOrDefault("grant_type") != "client_credentials")
            return Json(400, w => { w.WriteStartObject(); w.WriteString("error", "unsupported_grant_type"); w.WriteString("error_description", "only client_credentials"); w.WriteEndObject(); });
        if (form.GetValueOrDefault("client_id") != ClientId || form.GetValueOrDefault("client_secret") != ClientSecret)
            return Json(401, w => { w.WriteStartObject(); w.WriteString("error", "invalid_client"); w.WriteString("error_description", "The client credentials are invalid"); w.WriteEndObject(); });
        string token;
        lock (_lock)
        {
            token = $"tok-{++_tokenCounter}-{Guid.NewGuid():N}";
            _tokens[token] = DateTimeOffset.UtcNow.AddSeconds(TokenLifetimeSeconds);
            TokensIssued++;
            LastScope = form.GetValueOrDefault("scope");
        }
        return Json(200, w =>
        {
            w.WriteStartObject();
            w.WriteString("access_token", token);
            w.WriteString("token_type", "bearer");
            w.WriteString("issued_token_type", "urn:ietf:params:oauth:token-type:access_token");
            w.WriteNumber("expires_in", TokenLifetimeSeconds);
            w.WriteEndObject();
        });
    }

    private (int, byte[]) Config(string query)
    {
        string? warehouse = query.Split('&').Select(p => p.Split('=', 2)).Where(p => p[0] == "warehouse").Select(p => System.Uri.UnescapeDataString(p[1])).FirstOrDefault();
        if (warehouse != Warehouse)
            return Error(400, "BadRequestException", $"Unknown warehouse '{warehouse}'");
        return Json(200, w =>
        {
            w.WriteStartObject();
            w.WriteStartObject("defaults");
            w.WriteString("clients", "4");
            w.WriteString("prefix", "not-this-one");
            w.WriteEndObject();
            w.WriteStartObject("overrides");
            w.WriteString("prefix", Prefix);
            w.WriteEndObject();
            w.WriteStartArray("endpoints");
            w.WriteStringValue("GET /v1/{prefix}/namespaces/{namespace}");
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    private (int, byte[]) CreateNamespace(byte[] body)
    {
        using JsonDocument doc = JsonDocument.Parse(body);
        string ns = string.Join('\u001f', doc.RootElement.GetProperty("namespace").EnumerateArray().Select(e => e.GetString()));
        if (!_namespaces.Add(ns))
            return Error(409, "AlreadyExistsException", $"Namespace already exists: {ns.Replace('\u001f', '.')}");
        return Json(200, w => { w.WriteStartObject(); w.WriteStartArray("namespace"); foreach (string l in ns.Split('\u001f')) w.WriteStringValue(l); w.WriteEndArray(); w.WriteEndObject(); });
    }

    private static string Key(string ns, string table) => ns + "\u0000" + table;

    private (int, byte[]) CreateTable(string ns, byte[] body)
    {
        if (!_namespaces.Contains(ns))
            return Error(404, "NoSuchNamespaceException", $"Namespace does not exist: {ns.Replace('\u001f', '.')}");
        using JsonDocument doc = JsonDocument.Parse(body);
        JsonElement root = doc.RootElement;
        string name = root.GetProperty("name").GetString()!;
        if (_tables.ContainsKey(Key(ns, name)))
            return Error(409, "AlreadyExistsException", $"Table already exists: {ns.Replace('\u001f', '.')}.{name}");
        if (root.TryGetProperty("stage-create", out JsonElement staged) && staged.GetBoolean())
            return Error(400, "BadRequestException", "staged creates are not supported by this stand-in");
        var schema = TableMetadata.Parse(Encoding.UTF8.GetBytes(
            $"{{\"format-version\":2,\"table-uuid\":\"x\",\"location\":\"x\",\"last-sequence-number\":0,\"last-updated-ms\":0,\"last-column-id\":0,\"current-schema-id\":0,\"schemas\":[{root.GetProperty("schema").GetRawText()}],\"default-spec-id\":0,\"partition-specs\":[{root.GetProperty("partition-spec").GetRawText()}],\"last-partition-id\":999}}"));
        var props = new Dictionary<string, string>();
        if (root.TryGetProperty("properties", out JsonElement p))
            foreach (JsonProperty kv in p.EnumerateObject())
                props[kv.Name] = kv.Value.GetString()!;
        string location = $"{WarehouseUri}/{ns.Replace('\u001f', '/')}/{name}";
        TableMetadata metadata = TableMetadata.NewTable(location, schema.CurrentSchema, schema.DefaultSpec, props);
        return Store(ns, name, metadata, 0);
    }

    private (int, byte[]) Store(string ns, string name, TableMetadata metadata, int version)
    {
        string location = $"{metadata.Location}/metadata/{version:D5}-{Guid.NewGuid()}.metadata.json";
        byte[] json = metadata.ToJson();
        string local = new System.Uri(location).LocalPath;
        Directory.CreateDirectory(Path.GetDirectoryName(local)!);
        File.WriteAllBytes(local, json);
        _tables[Key(ns, name)] = (json, location);
        return LoadResult(json, location);
    }

    private static (int, byte[]) LoadResult(byte[] json, string location) => Json(200, w =>
    {
        w.WriteStartObject();
        w.WriteString("metadata-location", location);
        w.WritePropertyName("metadata");
        w.WriteRawValue(json);
        w.WriteStartObject("config");
        w.WriteEndObject();
        w.WriteEndObject();
    });

    private (int, byte[]) LoadTable(string ns, string table) =>
        _tables.TryGetValue(Key(ns, table), out var t)
            ? LoadResult(t.Json, t.Location)
            : Error(404, "NoSuchTableException", $"Table does not exist: {ns.Replace('\u001f', '.')}.{table}");

    private (int, byte[]) Commit(string ns, string table, byte[] body)
    {
        LastCommitBody = Encoding.UTF8.GetString(body);
        if (_failNextCommit is { } fail)
        {
            _failNextCommit = null;
            return Error(fail.Status, fail.Type, fail.Message);
        }
        if (!_tables.TryGetValue(Key(ns, table), out var current))
            return Error(404, "NoSuchTableException", $"Table does not exist: {ns.Replace('\u001f', '.')}.{table}");
        using JsonDocument doc = JsonDocument.Parse(body);
        JsonElement root = doc.RootElement;
        if (root.TryGetProperty("identifier", out JsonElement ident)
            && (ident.GetProperty("name").GetString() != table || string.Join('\u001f', ident.GetProperty("namespace").EnumerateArray().Select(e => e.GetString())) != ns))
            return Error(400, "BadRequestException", "identifier in the body does not match the path");

        using JsonDocument meta = JsonDocument.Parse(current.Json);
        JsonElement m = meta.RootElement;
        foreach (JsonElement req in root.GetProperty("requirements").EnumerateArray())
        {
            string? failure = CheckRequirement(req, m);
            if (failure is not null)
                return Error(409, "CommitFailedException", "Requirement failed: " + failure);
        }
        TableMetadata next;
        try
        {
            var updates = root.GetProperty("updates").EnumerateArray().Select(TableUpdate.Parse).ToList();
            next = TableMetadata.Parse(current.Json).WithMetadataLocation(current.Location)
                .WithPreviousFileLogged(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()).Apply(updates);
        }
        catch (Exception e) when (e is IcebergException or CommitConflictException or KeyNotFoundException)
        {
            return Error(400, "BadRequestException", e.Message);
        }
        int version = int.Parse(Path.GetFileName(current.Location)[..5]) + 1;
        Commits++;
        return Store(ns, table, next, version);
    }

    private static string? CheckRequirement(JsonElement req, JsonElement m)
    {
        switch (req.GetProperty("type").GetString())
        {
            case "assert-create":
                return "table already exists";
            case "assert-table-uuid":
                return req.GetProperty("uuid").GetString() == m.GetProperty("table-uuid").GetString() ? null : "table UUID does not match";
            case "assert-ref-snapshot-id":
            {
                string name = req.GetProperty("ref").GetString()!;
                JsonElement expected = req.GetProperty("snapshot-id");
                bool exists = m.GetProperty("refs").TryGetProperty(name, out JsonElement r);
                if (expected.ValueKind == JsonValueKind.Null)
                    return exists ? $"branch {name} was created concurrently" : null;
                if (!exists)
                    return $"branch or tag {name} is missing, expected {expected.GetInt64()}";
                long actual = r.GetProperty("snapshot-id").GetInt64();
                return actual == expected.GetInt64() ? null : $"branch {name} has changed: expected id {expected.GetInt64()} != {actual}";
            }
            case "assert-current-schema-id":
                return Same(req, "current-schema-id", m, "current-schema-id", "current schema changed");
            case "assert-last-assigned-field-id":
                return Same(req, "last-assigned-field-id", m, "last-column-id", "last assigned field id changed");
            case "assert-default-spec-id":
                return Same(req, "default-spec-id", m, "default-spec-id", "default partition spec changed");
            case "assert-last-assigned-partition-id":
                return Same(req, "last-assigned-partition-id", m, "last-partition-id", "last assigned partition id changed");
            default:
                return $"unknown requirement {req.GetProperty("type").GetString()}";
        }
    }

    private static string? Same(JsonElement req, string reqField, JsonElement m, string metaField, string what)
    {
        long expected = req.GetProperty(reqField).GetInt64(), actual = m.GetProperty(metaField).GetInt64();
        return expected == actual ? null : $"{what}: expected {expected} != {actual}";
    }

    private static (int Status, byte[] Body) Error(int status, string type, string message) => Json(status, w =>
    {
        w.WriteStartObject();
        w.WriteStartObject("error");
        w.WriteString("message", message);
        w.WriteString("type", type);
        w.WriteNumber("code", status);
        w.WriteEndObject();
        w.WriteEndObject();
    });

    private static (int, byte[]) Json(int status, Action<Utf8JsonWriter> write)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
            write(w);
        return (status, ms.ToArray());
    }

    public async ValueTask DisposeAsync()
    {
        // Close only: Stop() then Close() binds the port a second time on Linux
        // (see ConditionalS3TestDouble.DisposeAsync).
        _listener.Close();
        try
        {
            await _loop;
        }
        catch (Exception)
        {
            // Stopped.
        }
    }
}
