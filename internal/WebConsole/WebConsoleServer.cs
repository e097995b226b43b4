using System.Buffers;
using System.Net;
using System.Net.Security;
using System.Reflection;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using KafScale.Admin;
using KafScale.Broker;
using KafScale.Client;
using KafScale.Observability;
using Microsoft.Extensions.Logging;

namespace KafScale.WebConsole;

/// <summary>
/// The web console every broker serves on its HTTP listener (docs/console.md): the embedded
/// front end under /ui/, its JSON API under /ui/api/, and a redirect from /. Links and
/// redirects are relative, so it works behind a reverse proxy under any path. Reads go
/// through a Kafka client on the broker's own PLAINTEXT listener, so every page sees the
/// whole cluster (partitions and groups this broker does not lead included) and acts under
/// the same rules as <c>kafscale admin</c>. With the ACL authorizer on, the console asks for a
/// user and password (HTTP Basic) and acts as that principal through the SASL_PLAINTEXT
/// listener (SASL_SSL when there is none), so the broker's ACLs decide what it may see and do.
/// </summary>
public sealed partial class WebConsoleServer : IAsyncDisposable
{
    private const string ApiPrefix = "/ui/api/";
    private readonly BrokerHost _host;
    private readonly ConsoleOptions _options;
    private readonly ILogger _log;
    private readonly MetricsHistory _history;
    private readonly IPEndPoint? _bootstrap;
    private readonly IPEndPoint? _saslBootstrap;
    /// <summary>SASL_PLAINTEXT when the broker has such a listener, else SASL_SSL (docs/decisions.md, "Web console and ACLs").</summary>
    private readonly KafkaSecurityProtocol _saslProtocol;
    private readonly SemaphoreSlim _connect = new(1, 1);
    private KafkaClient? _client;
    /// <summary>With ACLs on: one client per logged-in user and password (at most <see cref="MaxLogins"/>).</summary>
    private readonly Dictionary<string, KafkaClient> _logins = new(StringComparer.Ordinal);
    /// <summary>The broker's credentials version the cached logins were made under.</summary>
    private long _loginsVersion;
    private const int MaxLogins = 32;
    /// <summary>The client of the request being served, when it came with credentials.</summary>
    private readonly AsyncLocal<KafkaClient?> _requestClient = new();

    private WebConsoleServer(BrokerHost host, ConsoleOptions options, ILogger log)
    {
        _host = host;
        _options = options;
        _log = log;
        _history = new MetricsHistory(host.Vitals);
        _bootstrap = Reachable(host.EndPointOf("PLAINTEXT"));
        _saslBootstrap = Reachable(host.EndPointOf("SASL_PLAINTEXT"));
        _saslProtocol = KafkaSecurityProtocol.SaslPlaintext;
        if (_saslBootstrap is null && Reachable(host.EndPointOf("SASL_SSL")) is { } tls)
        {
            _saslBootstrap = tls;
            _saslProtocol = KafkaSecurityProtocol.SaslSsl;
        }
    }

    /// <summary>A listener's address as a client on this host dials it (a wildcard bind becomes loopback).</summary>
    private static IPEndPoint? Reachable(IPEndPoint? bound) =>
        bound is null ? null
        : bound.Address.Equals(IPAddress.Any) ? new IPEndPoint(IPAddress.Loopback, bound.Port)
        : bound.Address.Equals(IPAddress.IPv6Any) ? new IPEndPoint(IPAddress.IPv6Loopback, bound.Port)
        : bound;

    private static string Bootstrap(IPEndPoint e) =>
        $"{(e.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{e.Address}]" : e.Address.ToString())}:{e.Port}";

    /// <summary>With the ACL authorizer on, every page and API call needs a user's credentials.</summary>
    private bool LoginRequired => _host.AclAuthorizer;

    /// <summary>Adds the console's routes to the broker's HTTP endpoint.</summary>
    public static WebConsoleServer Attach(BrokerHost host, ConsoleOptions options, ILogger log)
    {
        var console = new WebConsoleServer(host, options, log);
        host.Http.MapPrefix("/", (_, _) => Task.FromResult(HttpResponse.Redirect("ui/")));
        host.Http.MapPrefix("/ui", (_, _) => Task.FromResult(HttpResponse.Redirect("ui/")));
        host.Http.MapPrefix("/ui/", console.ServeAsync);
        if (console.Refusal() is { } why) log.LogWarning("the web console will show no data: {Reason}", why);
        return console;
    }

    /// <summary>Why the API refuses every request on this broker, or null (docs/decisions.md, "Web console and ACLs").</summary>
    private string? Refusal() =>
        LoginRequired
            ? _saslBootstrap is null
                ? "the broker runs with --authorizer acl: the console logs in as a user through a SASL_PLAINTEXT or SASL_SSL listener, and this broker has neither (--listeners), so it serves no data rather than read past the ACLs"
                : null
            : _bootstrap is null
                ? "the console reads through the broker's PLAINTEXT listener and this broker has none (--listeners)"
                : null;

    private static readonly KeyValuePair<string, string>[] AskForLogin = [new("WWW-Authenticate", "Basic realm=\"KafScale console\", charset=\"UTF-8\""), new("Cache-Control", "no-store")];

    private static HttpResponse Unauthorized(string message) =>
        Json(401, w => { w.WriteString("error", message); w.WriteNumber("status", 401); }) with { Headers = AskForLogin };

    private async Task<HttpResponse> ServeAsync(HttpRequest request, CancellationToken ct)
    {
        bool api = request.Path.StartsWith(ApiPrefix, StringComparison.Ordinal) || request.Path == "/ui/api";
        if (!api && !LoginRequired) return Asset(request);
        try
        {
            if (Refusal() is { } why) throw new ApiError(403, why);
            if (LoginRequired)
            {
                if (!TryCredentials(request, out string user, out string password))
                    return Unauthorized("the broker runs with --authorizer acl: log in as a Kafka user (SASL) to use the console");
                var client = await LoginAsync(user, password, ct).ConfigureAwait(false);
                if (client is null) return Unauthorized($"the broker did not accept the password of '{user}'");
                if (!api) return Asset(request);
                _requestClient.Value = client;
            }
            string route = request.Path.Length > ApiPrefix.Length ? request.Path[ApiPrefix.Length..] : "";
            string[] parts = [.. route.Split('/', StringSplitOptions.RemoveEmptyEntries).Select(Uri.UnescapeDataString)];
            bool read = request.Method is "GET";
            // A body must be declared JSON: another site's page can send a form or text/plain POST
            // to this port without asking, but not application/json, which needs a CORS preflight
            // this server never grants (docs/console.md, "Security").
            if (request.Method == "POST" && !(request.Headers.TryGetValue("Content-Type", out var type) && type.StartsWith("application/json", StringComparison.OrdinalIgnoreCase)))
                throw new ApiError(415, "send the body as Content-Type: application/json");
            if (!read && !_options.Write && !IsDryRun(request, parts))
                throw new ApiError(403, "the console is read-only: start the broker with --console-write (KAFSCALE_CONSOLE_WRITE=true) to allow changes");
            return await RouteAsync(request, parts, ct).ConfigureAwait(false);
        }
        catch (ApiError ex) { return Error(ex.Status, ex.Message); }
        catch (AdminFailure ex) { return Error(ex.Message.Contains("does not exist", StringComparison.Ordinal) ? 404 : 409, ex.Message); }
        catch (AdminUsageException ex) { return Error(400, ex.Message); }
        catch (KafkaException ex) when (ex.IsRetriable && ex.ErrorCode != Protocol.ErrorCode.UnknownTopicOrPartition)
        {
            // A broker that went away, a leader not yet elected, a coordinator moving: 424 (the
            // request depended on the cluster, which failed) marked retriable, so a script waits
            // and asks again (docs/decisions.md, "Web console and ACLs").
            return ClusterDidNotAnswer(ex.Message);
        }
        catch (KafkaException ex)
        {
            return Error(ex.ErrorCode switch
            {
                Protocol.ErrorCode.UnknownTopicOrPartition or Protocol.ErrorCode.GroupIdNotFound => 404,
                Protocol.ErrorCode.TopicAuthorizationFailed or Protocol.ErrorCode.GroupAuthorizationFailed or Protocol.ErrorCode.ClusterAuthorizationFailed => 403,
                _ => 409,
            }, ex.Message);
        }
        catch (JsonException ex) { return Error(400, $"malformed JSON body: {ex.Message}"); }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or TimeoutException)
        {
            await DropClientAsync().ConfigureAwait(false);
            return ClusterDidNotAnswer(ex.Message);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            // A console request must never take the broker down: a broken client is dropped and rebuilt.
            _log.LogWarning("console request {Method} {Path} failed: {Error}", request.Method, request.Path, ex.Message);
            await DropClientAsync().ConfigureAwait(false);
            return Error(502, $"the request failed: {ex.Message}");
        }
    }

    /// <summary>A reset-offsets dry run changes nothing, so it is allowed read-only.</summary>
    private static bool IsDryRun(HttpRequest request, string[] parts)
    {
        if (request.Method != "POST" || parts is not ["groups", _, "reset-offsets"]) return false;
        try
        {
            using var doc = JsonDocument.Parse(request.Body);
            return !(doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("execute", out var e) && e.ValueKind == JsonValueKind.True);
        }
        catch (JsonException) { return true; } // refused as malformed by the handler
    }

    private Task<HttpResponse> RouteAsync(HttpRequest r, string[] p, CancellationToken ct) => (r.Method, p) switch
    {
        ("GET", ["info"]) => Task.FromResult(Info()),
        ("GET", ["overview"]) => OverviewAsync(ct),
        ("GET", ["topics"]) => AdminJsonAsync((c, o) => TopicAdmin.ListAsync(c, o, ct, sizes: r.QueryValue("sizes") != "false"), ct),
        ("POST", ["topics"]) => CreateTopicAsync(r, ct),
        ("GET", ["topics", var t]) => AdminJsonAsync((c, o) => TopicAdmin.DescribeAsync(c, o, t, ct), ct),
        ("DELETE", ["topics", var t]) => AdminJsonAsync((c, o) => TopicAdmin.DeleteAsync(c, o, t, ct), ct),
        ("POST", ["topics", var t, "partitions"]) => AddPartitionsAsync(r, t, ct),
        ("POST", ["topics", var t, "config"]) => AlterConfigAsync(r, t, ct),
        ("GET", ["topics", var t, "messages"]) => MessagesAsync(r, t, ct),
        ("POST", ["topics", var t, "messages"]) => ProduceAsync(r, t, ct),
        ("GET", ["groups"]) => AdminJsonAsync((c, o) => GroupAdmin.ListAsync(c, o, ct), ct),
        ("GET", ["groups", var g]) => AdminJsonAsync((c, o) => GroupAdmin.DescribeAsync(c, o, g, ct), ct),
        ("POST", ["groups", var g, "reset-offsets"]) => ResetOffsetsAsync(r, g, ct),
        ("GET", ["storage", var t, var part]) => StorageAsync(t, part, ct),
        (_, ["info" or "overview" or "topics" or "groups" or "storage", ..]) => throw new ApiError(405, $"{r.Method} is not allowed on {r.Path}"),
        _ => throw ApiError.NotFound($"no console API at {r.Path} (docs/console.md lists them)"),
    };

    private HttpResponse Info() => Json(200, w =>
    {
        var v = _host.Vitals();
        w.WriteNumber("broker_id", v.BrokerId);
        w.WriteString("cluster_id", v.ClusterId);
        w.WriteBoolean("write", _options.Write);
        w.WriteString("version", typeof(WebConsoleServer).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion);
    });

    /// <summary>The user and password of an <c>Authorization: Basic</c> header.</summary>
    private static bool TryCredentials(HttpRequest request, out string user, out string password)
    {
        user = password = "";
        if (!request.Headers.TryGetValue("Authorization", out var header) || !header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase)) return false;
        string decoded;
        try { decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header[6..].Trim())); }
        catch (FormatException) { return false; }
        int colon = decoded.IndexOf(':');
        if (colon <= 0) return false;
        (user, password) = (decoded[..colon], decoded[(colon + 1)..]);
        return true;
    }

    /// <summary>
    /// A client authenticated as the user on the SASL_PLAINTEXT or SASL_SSL listener (the strongest mechanism
    /// the broker accepts that the user's credential fits), or null when the broker refuses the
    /// password. Clients are kept per user and password, so a page's calls do not log in each time.
    /// </summary>
    private async Task<KafkaClient?> LoginAsync(string user, string password, CancellationToken ct)
    {
        string key = user + "\n" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(password)));
        await _connect.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            // A password set or a user deleted since the logins were made: every cached login is
            // made again, so an old password stops working at once, as it does for a new Kafka
            // connection (docs/console.md, "Security").
            long version = _host.CredentialsVersion;
            if (version != _loginsVersion)
            {
                foreach (var old in _logins.Values) await old.DisposeAsync().ConfigureAwait(false);
                _logins.Clear();
                _loginsVersion = version;
            }
            if (_logins.TryGetValue(key, out var known)) return known;
            foreach (string mechanism in new[] { "SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN" }.Where(m => _host.SaslMechanisms.Contains(m, StringComparer.OrdinalIgnoreCase)))
            {
                KafkaClient client;
                try
                {
                    client = await KafkaClient.ConnectAsync(new KafkaClientOptions
                    {
                        BootstrapServers = Bootstrap(_saslBootstrap!),
                        AllowAutoTopicCreation = false,
                        Connection = new KafkaConnectionOptions
                        {
                            ClientId = "kafscale-console",
                            ConnectTimeout = TimeSpan.FromSeconds(5),
                            Security = new KafkaSecurityOptions
                            {
                                Protocol = _saslProtocol,
                                SaslMechanism = mechanism,
                                SaslUsername = user,
                                SaslPassword = password,
                                TlsServerValidation = _saslProtocol == KafkaSecurityProtocol.SaslSsl ? TrustBrokerCertificate : null,
                                // A listener that requires a client certificate gets this broker's own.
                                TlsCertificatePath = _saslProtocol == KafkaSecurityProtocol.SaslSsl && _host.Tls is { ClientAuth: Broker.Security.TlsClientAuth.Required } t ? t.CertificatePath : null,
                                TlsKeyPath = _saslProtocol == KafkaSecurityProtocol.SaslSsl && _host.Tls is { ClientAuth: Broker.Security.TlsClientAuth.Required } k ? k.KeyPath : null,
                            },
                        },
                    }, ct).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    _log.LogDebug("console login of {User} with {Mechanism} failed: {Error}", user, mechanism, ex.Message);
                    continue;
                }
                if (_logins.Count >= MaxLogins)
                {
                    foreach (var old in _logins.Values) await old.DisposeAsync().ConfigureAwait(false);
                    _logins.Clear();
                }
                _logins[key] = client;
                return client;
            }
            return null;
        }
        finally { _connect.Release(); }
    }

    /// <summary>
    /// Whether the console trusts a broker's TLS certificate on the SASL_SSL listener
    /// (docs/decisions.md, "Web console and ACLs"): the certificate this broker serves itself
    /// (read from --tls-cert now, so a renewed one is trusted at once; its key is this process's,
    /// so no host name is checked), or else, as any Kafka client checks another broker, a
    /// certificate for the host connected to that chains to the system's roots or to --tls-ca.
    /// </summary>
    private bool TrustBrokerCertificate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null || _host.Tls is not { } tls) return false;
        byte[] served = certificate.GetRawCertData();
        try
        {
            var own = new X509Certificate2Collection();
            own.ImportFromPemFile(tls.CertificatePath);
            if (own.Count > 0 && own[0].RawData.AsSpan().SequenceEqual(served)) return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException)
        {
            _log.LogDebug("the console cannot read this broker's certificate {Path}: {Error}", tls.CertificatePath, ex.Message);
        }
        if (errors == SslPolicyErrors.None) return true;
        if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0 || tls.CaPath is null) return false;
        try
        {
            using var custom = new X509Chain();
            custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            custom.ChainPolicy.CustomTrustStore.ImportFromPemFile(tls.CaPath);
            custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            using var cert = X509CertificateLoader.LoadCertificate(served);
            return custom.Build(cert);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException)
        {
            return false;
        }
    }

    /// <summary>The logged-in user's client, else the client on this broker's PLAINTEXT listener, connected on first use.</summary>
    private async Task<KafkaClient> ClientAsync(CancellationToken ct)
    {
        if (_requestClient.Value is { } login) return login;
        if (Volatile.Read(ref _client) is { } existing) return existing;
        await _connect.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            _client ??= await KafkaClient.ConnectAsync(new KafkaClientOptions
            {
                BootstrapServers = Bootstrap(_bootstrap!),
                AllowAutoTopicCreation = false,
                Connection = new KafkaConnectionOptions { ClientId = "kafscale-console", ConnectTimeout = TimeSpan.FromSeconds(5) },
            }, ct).ConfigureAwait(false);
            return _client;
        }
        finally { _connect.Release(); }
    }

    private async Task DropClientAsync()
    {
        if (_requestClient.Value is { } login)
        {
            // A broken login client is forgotten; the next request logs in again.
            await _connect.WaitAsync().ConfigureAwait(false);
            try
            {
                foreach (var stale in _logins.Where(l => ReferenceEquals(l.Value, login)).Select(l => l.Key).ToList()) _logins.Remove(stale);
            }
            finally { _connect.Release(); }
            await login.DisposeAsync().ConfigureAwait(false);
            return;
        }
        var client = Interlocked.Exchange(ref _client, null);
        if (client is not null) await client.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Runs an admin operation with JSON output and returns that JSON: the console and <c>kafscale admin --output json</c> agree by construction.</summary>
    private async Task<HttpResponse> AdminJsonAsync(Func<KafkaClient, AdminOutput, Task<int>> run, CancellationToken ct)
    {
        var client = await ClientAsync(ct).ConfigureAwait(false);
        using var text = new StringWriter();
        await run(client, new AdminOutput(json: true, text)).ConfigureAwait(false);
        return new HttpResponse(200, "application/json; charset=utf-8", Encoding.UTF8.GetBytes(text.ToString()), NoStore);
    }

    private static readonly KeyValuePair<string, string>[] NoStore = [new("Cache-Control", "no-store")];

    internal static HttpResponse Json(int status, Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        return new HttpResponse(status, "application/json; charset=utf-8", buffer.WrittenMemory, NoStore);
    }

    internal static HttpResponse Error(int status, string message) => Json(status, w =>
    {
        w.WriteString("error", message);
        w.WriteNumber("status", status);
    });

    /// <summary>424 Failed Dependency, retriable: the cluster did not answer (a broker went away, a leader is not elected yet).</summary>
    private static HttpResponse ClusterDidNotAnswer(string why) => Json(424, w =>
    {
        w.WriteString("error", $"the cluster did not answer: {why}");
        w.WriteNumber("status", 424);
        w.WriteBoolean("retriable", true);
    });

    private static HttpResponse Asset(HttpRequest request)
    {
        if (request.Method != "GET") return Error(405, "the console's pages are read with GET");
        string name = request.Path == "/ui/" ? "index.html" : request.Path["/ui/".Length..];
        if (name.Contains("..", StringComparison.Ordinal)) return HttpResponse.Text(404, "not found\n");
        using var stream = typeof(WebConsoleServer).Assembly.GetManifestResourceStream("ui/" + name);
        if (stream is null)
        {
            return name == "index.html"
                ? new HttpResponse(200, "text/html; charset=utf-8", "<!doctype html><title>KafScale</title><p>This binary was built without the console's front end: build it with scripts/build.sh (docs/console.md).</p>"u8.ToArray())
                : HttpResponse.Text(404, "not found\n");
        }
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        string type = Path.GetExtension(name) switch
        {
            ".html" => "text/html; charset=utf-8",
            ".js" => "text/javascript; charset=utf-8",
            ".css" => "text/css; charset=utf-8",
            ".svg" => "image/svg+xml",
            _ => "application/octet-stream",
        };
        return new HttpResponse(200, type, bytes, [new("Cache-Control", "no-cache"), new("X-Content-Type-Options", "nosniff")]);
    }

    public async ValueTask DisposeAsync()
    {
        await _history.DisposeAsync().ConfigureAwait(false);
        await DropClientAsync().ConfigureAwait(false);
        foreach (var login in _logins.Values) await login.DisposeAsync().ConfigureAwait(false);
        _logins.Clear();
        _connect.Dispose();
    }
}
