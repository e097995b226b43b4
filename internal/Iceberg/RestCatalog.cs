using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace KafScale.Iceberg;

/// <summary>Where and how to reach an Iceberg REST catalog (Polaris, Lakekeeper, Nessie, Unity, Gravitino, ...).</summary>
public sealed record RestCatalogOptions
{
    /// <summary>The catalog's base URI, e.g. "http://polaris:8181/api/catalog" (the "/v1/..." paths go under it).</summary>
    public required string Uri { get; init; }
    /// <summary>Warehouse (or catalog) name passed to GET /v1/config?warehouse=.</summary>
    public string? Warehouse { get; init; }
    /// <summary>A bearer token used as is.</summary>
    public string? Token { get; init; }
    /// <summary>OAuth2 client credentials "client_id:client_secret" (or just a secret) for the client_credentials grant.</summary>
    public string? Credential { get; init; }
    /// <summary>The token endpoint; default &lt;uri&gt;/v1/oauth/tokens.</summary>
    public string? OAuth2ServerUri { get; init; }
    /// <summary>Scope of the token request: "catalog" by default; Polaris wants "PRINCIPAL_ROLE:ALL" (or a role).</summary>
    public string Scope { get; init; } = "catalog";
    /// <summary>Overrides the prefix the server's config returns.</summary>
    public string? Prefix { get; init; }
    /// <summary>Extra HTTP headers sent with every request.</summary>
    public IReadOnlyDictionary<string, string>? Headers { get; init; }
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>Sign requests with AWS Signature V4 (AWS Glue's Iceberg REST endpoint, S3 Tables).</summary>
    public bool SigV4 { get; init; }
    public string? SigV4Region { get; init; }
    /// <summary>Signing name: "glue" (default) or "s3tables".</summary>
    public string SigV4Service { get; init; } = "glue";
    /// <summary>AWS credentials for SigV4; default AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN.</summary>
    public string? AwsAccessKeyId { get; init; }
    public string? AwsSecretAccessKey { get; init; }
    public string? AwsSessionToken { get; init; }

    public override string ToString() =>
        $"RestCatalogOptions {{ Uri = {Uri}, Warehouse = {Warehouse}, Token = {(Token is null ? "none" : "set")}, Credential = {(Credential is null ? "none" : "set")}, OAuth2ServerUri = {OAuth2ServerUri}, Scope = {Scope}, Prefix = {Prefix}, SigV4 = {SigV4} }}";
}

/// <summary>The REST catalog could not be reached or did not answer in time.</summary>
public sealed class RestTransportException(string message, Exception inner) : IcebergException(message, inner);

/// <summary>A REST catalog answered with an error (the server's message included).</summary>
public sealed class RestCatalogException(string message, HttpStatusCode status, string? errorType) : IcebergException(message)
{
    public HttpStatusCode Status { get; } = status;
    public string? ErrorType { get; } = errorType;
}

/// <summary>
/// A client of the Iceberg REST catalog API: config, namespaces, create/load table and commits
/// with requirements. Authentication: a fixed bearer token, or OAuth2 client credentials with
/// refresh before expiry and once after a 401, or AWS SigV4.
/// </summary>
public sealed class RestCatalog : ICatalog
{
    private readonly HttpClient _http;
    private readonly RestCatalogOptions _options;
    private readonly SemaphoreSlim _tokenLock = new(1, 1);
    private string _baseUri;
    private string _prefixPath = "";
    private string? _token;
    private DateTimeOffset? _tokenRefreshAt;

    private RestCatalog(RestCatalogOptions options, IFileIO io, HttpMessageHandler? handler)
    {
        _options = options;
        FileIO = io;
        _baseUri = options.Uri.TrimEnd('/');
        _token = options.Token;
        _http = new HttpClient(handler ?? new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), ConnectTimeout = TimeSpan.FromSeconds(10) })
        {
            Timeout = options.RequestTimeout,
        };
    }

    public IFileIO FileIO { get; }

    /// <summary>The merged catalog properties (server defaults, then overrides).</summary>
    public IReadOnlyDictionary<string, string> CatalogProperties { get; private set; } = new Dictionary<string, string>();

    /// <summary>The prefix in use ("" when none).</summary>
    public string Prefix { get; private set; } = "";

    /// <summary>Number of OAuth2 tokens fetched so far (the first one and refreshes).</summary>
    public int TokensFetched { get; private set; }

    public static async Task<RestCatalog> ConnectAsync(RestCatalogOptions options, IFileIO io, CancellationToken ct) =>
        await ConnectAsync(options, io, null, ct).ConfigureAwait(false);

    /// <summary>Connects through a custom HTTP handler (proxies, custom TLS).</summary>
    public static async Task<RestCatalog> ConnectAsync(RestCatalogOptions options, IFileIO io, HttpMessageHandler? handler, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(io);
        if (!System.Uri.TryCreate(options.Uri, UriKind.Absolute, out Uri? parsed) || parsed.Scheme is not ("http" or "https"))
            throw new IcebergException($"REST catalog uri '{options.Uri}' is not an absolute http(s) URI");
        if (options.Token is not null && options.Credential is not null)
            throw new IcebergException("REST catalog: give either a token or a credential, not both");
        if (options.SigV4 && (options.Token is not null || options.Credential is not null))
            throw new IcebergException("REST catalog: SigV4 signing replaces token and credential; give only one kind of authentication");
        var catalog = new RestCatalog(options, io, handler);
        try
        {
            if (options.Credential is not null)
                await catalog.RefreshTokenAsync(force: true, ct).ConfigureAwait(false);
            await catalog.LoadConfigAsync(ct).ConfigureAwait(false);
            return catalog;
        }
        catch
        {
            await catalog.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task LoadConfigAsync(CancellationToken ct)
    {
        string path = "/v1/config" + (_options.Warehouse is { Length: > 0 } w ? "?warehouse=" + System.Uri.EscapeDataString(w) : "");
        using JsonDocument doc = await SendJsonAsync(HttpMethod.Get, path, null, "load the catalog config", ct).ConfigureAwait(false)
            ?? throw new IcebergException("REST catalog: GET /v1/config returned no body");
        var merged = new Dictionary<string, string>(StringComparer.Ordinal);
        if (doc.RootElement.TryGetProperty("defaults", out JsonElement defaults))
            foreach (var kv in IcebergJson.ParseStringMap(defaults))
                merged[kv.Key] = kv.Value;
        if (_options.Warehouse is { Length: > 0 })
            merged["warehouse"] = _options.Warehouse;
        if (doc.RootElement.TryGetProperty("overrides", out JsonElement overrides))
            foreach (var kv in IcebergJson.ParseStringMap(overrides))
                merged[kv.Key] = kv.Value;
        CatalogProperties = merged;
        if (merged.TryGetValue("uri", out string? uri) && uri.Length > 0)
            _baseUri = uri.TrimEnd('/');
        Prefix = _options.Prefix ?? (merged.TryGetValue("prefix", out string? p) ? p : "");
        _prefixPath = Prefix.Trim('/').Length == 0 ? "" : "/" + Prefix.Trim('/'); // used as the server gives it, like the reference client
    }

    private static string NamespacePath(string ns) => System.Uri.EscapeDataString(string.Join('\u001f', ns.Split('.')));

    private string TablePath(TableIdentifier id) => $"/v1{_prefixPath}/namespaces/{NamespacePath(id.Namespace)}/tables/{System.Uri.EscapeDataString(id.Name)}";

    public async Task EnsureNamespaceAsync(string ns, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrEmpty(ns);
        var (status, _) = await SendAsync(HttpMethod.Get, $"/v1{_prefixPath}/namespaces/{NamespacePath(ns)}", null, ct).ConfigureAwait(false);
        if (status == HttpStatusCode.OK)
            return;
        byte[] body = IcebergJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("namespace");
            foreach (string level in ns.Split('.'))
                w.WriteStringValue(level);
            w.WriteEndArray();
            w.WriteStartObject("properties");
            w.WriteEndObject();
            w.WriteEndObject();
        });
        var (createStatus, createBody) = await SendAsync(HttpMethod.Post, $"/v1{_prefixPath}/namespaces", body, ct).ConfigureAwait(false);
        if (createStatus is HttpStatusCode.OK or HttpStatusCode.Conflict or HttpStatusCode.NoContent)
            return;
        throw Error("create namespace " + ns, createStatus, createBody);
    }

    public async Task<TableMetadata?> LoadTableAsync(TableIdentifier id, CancellationToken ct)
    {
        var (status, body) = await SendAsync(HttpMethod.Get, TablePath(id), null, ct).ConfigureAwait(false);
        if (status == HttpStatusCode.NotFound)
            return null;
        if (status != HttpStatusCode.OK)
            throw Error($"load table {id}", status, body);
        return ParseLoadResult(body, $"load table {id}");
    }

    public async Task<TableMetadata> CreateTableAsync(TableIdentifier id, IcebergSchema schema, PartitionSpec spec,
        IReadOnlyDictionary<string, string> properties, CancellationToken ct)
    {
        byte[] request = IcebergJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteString("name", id.Name);
            w.WritePropertyName("schema");
            IcebergJson.WriteSchema(w, schema);
            w.WritePropertyName("partition-spec");
            IcebergJson.WriteSpec(w, spec);
            w.WriteStartObject("write-order");
            w.WriteNumber("order-id", 0);
            w.WriteStartArray("fields");
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteBoolean("stage-create", false);
            w.WritePropertyName("properties");
            IcebergJson.WriteStringMap(w, properties);
            w.WriteEndObject();
        });
        var (status, body) = await SendAsync(HttpMethod.Post, $"/v1{_prefixPath}/namespaces/{NamespacePath(id.Namespace)}/tables", request, ct).ConfigureAwait(false);
        if (status == HttpStatusCode.Conflict)
            throw new TableAlreadyExistsException($"table {id} already exists ({ServerMessage(body)})");
        if (status != HttpStatusCode.OK)
            throw Error($"create table {id}", status, body);
        return ParseLoadResult(body, $"create table {id}");
    }

    public async Task<TableMetadata> CommitAsync(TableIdentifier id, TableMetadata @base, IReadOnlyList<TableUpdate> updates, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(@base);
        byte[] request = IcebergJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteStartObject("identifier");
            w.WriteStartArray("namespace");
            foreach (string level in id.NamespaceLevels)
                w.WriteStringValue(level);
            w.WriteEndArray();
            w.WriteString("name", id.Name);
            w.WriteEndObject();
            w.WriteStartArray("requirements");
            foreach (TableRequirement r in TableRequirement.For(@base, updates))
                r.WriteJson(w);
            w.WriteEndArray();
            w.WriteStartArray("updates");
            foreach (TableUpdate u in updates)
                u.WriteJson(w);
            w.WriteEndArray();
            w.WriteEndObject();
        });
        HttpStatusCode status;
        byte[] body;
        try
        {
            (status, body) = await SendAsync(HttpMethod.Post, TablePath(id), request, ct).ConfigureAwait(false);
        }
        catch (RestTransportException e)
        {
            throw new CommitStateUnknownException($"commit to {id}: {e.Message}; the commit may or may not have been applied", e);
        }
        switch ((int)status)
        {
            case 200:
                return ParseLoadResult(body, $"commit to {id}");
            case 409:
                throw new CommitConflictException($"commit to {id} conflicts: {ServerMessage(body)}");
            case >= 500 and <= 504 and not 501:
                throw new CommitStateUnknownException($"commit to {id}: the catalog answered {(int)status} ({ServerMessage(body)}); the commit may or may not have been applied");
            default:
                throw Error($"commit to {id}", status, body);
        }
    }

    private static TableMetadata ParseLoadResult(byte[] body, string what)
    {
        try
        {
            using JsonDocument doc = JsonDocument.Parse(body);
            string? location = doc.RootElement.TryGetProperty("metadata-location", out JsonElement l) && l.ValueKind == JsonValueKind.String ? l.GetString() : null;
            return TableMetadata.Parse(doc.RootElement.GetProperty("metadata")).WithMetadataLocation(location);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new IcebergException($"REST catalog: {what} returned an invalid answer: {e.Message}", e);
        }
    }

    private async Task<JsonDocument?> SendJsonAsync(HttpMethod method, string path, byte[]? body, string what, CancellationToken ct)
    {
        var (status, responseBody) = await SendAsync(method, path, body, ct).ConfigureAwait(false);
        if ((int)status is < 200 or > 299)
            throw Error(what, status, responseBody);
        return responseBody.Length == 0 ? null : JsonDocument.Parse(responseBody);
    }

    /// <summary>Sends one request (refreshing the OAuth2 token first when due, and once more after a 401).</summary>
    private async Task<(HttpStatusCode Status, byte[] Body)> SendAsync(HttpMethod method, string path, byte[]? body, CancellationToken ct)
    {
        if (_options.Credential is not null && _tokenRefreshAt is DateTimeOffset due && DateTimeOffset.UtcNow >= due)
            await RefreshTokenAsync(force: false, ct).ConfigureAwait(false);
        for (int attempt = 0; ; attempt++)
        {
            string? tokenUsed = _token;
            using HttpRequestMessage request = BuildRequest(method, _baseUri + path, body, tokenUsed);
            HttpStatusCode status;
            byte[] responseBody;
            try
            {
                using HttpResponseMessage response = await _http.SendAsync(request, ct).ConfigureAwait(false);
                status = response.StatusCode;
                responseBody = await response.Content.ReadAsByteArrayAsync(ct).ConfigureAwait(false);
            }
            catch (HttpRequestException e)
            {
                throw new RestTransportException($"REST catalog: {method} {_baseUri + path} failed: {e.Message} (check the catalog uri and that it is reachable)", e);
            }
            catch (TaskCanceledException e) when (!ct.IsCancellationRequested)
            {
                throw new RestTransportException($"REST catalog: {method} {_baseUri + path}: no answer within {_options.RequestTimeout}", e);
            }
            if (status == HttpStatusCode.Unauthorized && attempt == 0 && _options.Credential is not null)
            {
                await RefreshTokenAsync(force: true, ct, staleToken: tokenUsed).ConfigureAwait(false);
                continue;
            }
            return (status, responseBody);
        }
    }

    private HttpRequestMessage BuildRequest(HttpMethod method, string url, byte[]? body, string? token)
    {
        var request = new HttpRequestMessage(method, url);
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (_options.Headers is not null)
            foreach (var kv in _options.Headers)
                request.Headers.TryAddWithoutValidation(kv.Key, kv.Value);
        if (_options.SigV4)
            SigV4Signer.Sign(request, body, _options);
        else if (token is not null)
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return request;
    }

    /// <summary>client_credentials grant against the token endpoint.</summary>
    private async Task RefreshTokenAsync(bool force, CancellationToken ct, string? staleToken = null)
    {
        await _tokenLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            // Another caller refreshed while we waited.
            if (!force && _tokenRefreshAt is DateTimeOffset due && DateTimeOffset.UtcNow < due)
                return;
            if (staleToken is not null && _token != staleToken)
                return;
            string credential = _options.Credential!;
            int colon = credential.IndexOf(':');
            string? clientId = colon >= 0 ? credential[..colon] : null;
            string secret = colon >= 0 ? credential[(colon + 1)..] : credential;
            var form = new List<KeyValuePair<string, string>> { new("grant_type", "client_credentials") };
            if (clientId is not null)
                form.Add(new("client_id", clientId));
            form.Add(new("client_secret", secret));
            form.Add(new("scope", _options.Scope));
            string endpoint = _options.OAuth2ServerUri ?? _options.Uri.TrimEnd('/') + "/v1/oauth/tokens";
            using var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new FormUrlEncodedContent(form) };
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            HttpResponseMessage response;
            try
            {
                response = await _http.SendAsync(request, ct).ConfigureAwait(false);
            }
            catch (HttpRequestException e)
            {
                throw new RestTransportException($"REST catalog: the OAuth2 token request to {endpoint} failed: {e.Message} (check the oauth2 server uri)", e);
            }
            catch (TaskCanceledException e) when (!ct.IsCancellationRequested)
            {
                throw new RestTransportException($"REST catalog: the OAuth2 token request to {endpoint} got no answer within {_options.RequestTimeout}", e);
            }
            using var responseScope = response;
            byte[] body = await response.Content.ReadAsByteArrayAsync(ct).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
                throw new RestCatalogException($"REST catalog: the OAuth2 token request to {endpoint} failed with {(int)response.StatusCode}: {OAuthMessage(body)} (check the credential and scope)",
                    response.StatusCode, "OAuthError");
            using JsonDocument doc = JsonDocument.Parse(body);
            if (!doc.RootElement.TryGetProperty("access_token", out JsonElement at) || at.GetString() is not { Length: > 0 } accessToken)
                throw new IcebergException($"REST catalog: the OAuth2 answer from {endpoint} has no access_token");
            _token = accessToken;
            TokensFetched++;
            if (doc.RootElement.TryGetProperty("expires_in", out JsonElement exp) && exp.ValueKind == JsonValueKind.Number && exp.GetInt64() > 0)
            {
                // Refresh a little before expiry: at 90% of the lifetime, at most a minute early.
                long seconds = exp.GetInt64();
                double early = Math.Min(60, seconds * 0.1);
                _tokenRefreshAt = DateTimeOffset.UtcNow.AddSeconds(seconds - early);
            }
            else
            {
                _tokenRefreshAt = null;
            }
        }
        finally
        {
            _tokenLock.Release();
        }
    }

    private static string OAuthMessage(byte[] body)
    {
        try
        {
            using JsonDocument doc = JsonDocument.Parse(body);
            JsonElement root = doc.RootElement;
            if (root.TryGetProperty("error_description", out JsonElement d) && d.ValueKind == JsonValueKind.String)
                return $"{(root.TryGetProperty("error", out JsonElement e) ? e.GetString() : "error")}: {d.GetString()}";
            if (root.TryGetProperty("error", out JsonElement err))
                return err.ValueKind == JsonValueKind.String ? err.GetString()! : ServerMessage(body);
        }
        catch (JsonException)
        {
        }
        return Snippet(body);
    }

    /// <summary>The message of the REST error model ({"error":{"message","type","code"}}), or the start of the body.</summary>
    private static string ServerMessage(byte[] body)
    {
        try
        {
            using JsonDocument doc = JsonDocument.Parse(body);
            if (doc.RootElement.TryGetProperty("error", out JsonElement error) && error.ValueKind == JsonValueKind.Object)
            {
                string? type = error.TryGetProperty("type", out JsonElement t) ? t.GetString() : null;
                string? message = error.TryGetProperty("message", out JsonElement m) ? m.GetString() : null;
                return type is null ? message ?? Snippet(body) : $"{type}: {message}";
            }
        }
        catch (JsonException)
        {
        }
        return Snippet(body);
    }

    private static string? ServerErrorType(byte[] body)
    {
        try
        {
            using JsonDocument doc = JsonDocument.Parse(body);
            if (doc.RootElement.TryGetProperty("error", out JsonElement error) && error.ValueKind == JsonValueKind.Object
                && error.TryGetProperty("type", out JsonElement t))
                return t.GetString();
        }
        catch (JsonException)
        {
        }
        return null;
    }

    private static string Snippet(byte[] body)
    {
        if (body.Length == 0)
            return "no body";
        string text = Encoding.UTF8.GetString(body, 0, Math.Min(body.Length, 300)).ReplaceLineEndings(" ");
        return body.Length > 300 ? text + "..." : text;
    }

    private static RestCatalogException Error(string what, HttpStatusCode status, byte[] body)
    {
        string hint = (int)status switch
        {
            401 => " (authentication failed: check the token or credential)",
            403 => " (the principal lacks a privilege for this)",
            404 => " (check the uri, warehouse and namespace)",
            _ => "",
        };
        return new RestCatalogException($"REST catalog: {what} failed with {(int)status} {status}: {ServerMessage(body)}{hint}", status, ServerErrorType(body));
    }

    public ValueTask DisposeAsync()
    {
        _http.Dispose();
        _tokenLock.Dispose();
        return ValueTask.CompletedTask;
    }
}
