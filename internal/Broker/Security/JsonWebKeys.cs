using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;

namespace KafScale.Broker.Security;

/// <summary>One key of a JSON Web Key Set (RFC 7517) as it is written; only the members the broker reads.</summary>
internal sealed class JwkRecord
{
    [JsonPropertyName("kty")] public string? Kty { get; set; }
    [JsonPropertyName("kid")] public string? Kid { get; set; }
    [JsonPropertyName("use")] public string? Use { get; set; }
    [JsonPropertyName("alg")] public string? Alg { get; set; }
    [JsonPropertyName("n")] public string? N { get; set; }
    [JsonPropertyName("e")] public string? E { get; set; }
    [JsonPropertyName("crv")] public string? Crv { get; set; }
    [JsonPropertyName("x")] public string? X { get; set; }
    [JsonPropertyName("y")] public string? Y { get; set; }
}

internal sealed class JwkSetRecord
{
    [JsonPropertyName("keys")] public List<JwkRecord>? Keys { get; set; }
}

/// <summary>The JOSE header of a JWS: the algorithm, the key id, and any critical extensions.</summary>
internal sealed class JoseHeaderRecord
{
    [JsonPropertyName("alg")] public string? Alg { get; set; }
    [JsonPropertyName("kid")] public string? Kid { get; set; }
    [JsonPropertyName("typ")] public string? Typ { get; set; }
    [JsonPropertyName("crit")] public JsonElement? Crit { get; set; }
}

[JsonSerializable(typeof(JwkSetRecord))]
[JsonSerializable(typeof(JoseHeaderRecord))]
[JsonSourceGenerationOptions(WriteIndented = false)]
internal sealed partial class JoseJsonContext : JsonSerializerContext;

/// <summary>A verification key taken from a JWKS: RSA (RS256/384/512) or EC P-256/384/521 (ES256/384/512).</summary>
internal sealed class VerificationKey(string? kid, string? alg, RSA? rsa, ECDsa? ec, string? curve)
{
    public string? Kid { get; } = kid;

    /// <summary>The "alg" the key set pins the key to, or null for any algorithm of its type.</summary>
    public string? Alg { get; } = alg;

    public RSA? Rsa { get; } = rsa;
    public ECDsa? Ec { get; } = ec;

    /// <summary>P-256, P-384 or P-521 for an EC key.</summary>
    public string? Curve { get; } = curve;

    /// <summary>True when this key may check a signature made with <paramref name="alg"/>.</summary>
    public bool Fits(string alg) =>
        (Alg is null || Alg == alg) && (alg[0] == 'R' ? Rsa is not null : Ec is not null && Curve == JwtValidator.CurveOf(alg));
}

/// <summary>
/// The verification keys of --sasl-oauthbearer-jwks-endpoint-url: a file, or a JWKS fetched over
/// http(s). Kept in memory; read again when a token names a key id the set does not have (at
/// most once per <see cref="MinRefreshInterval"/>, so unknown ids cannot make the broker hammer
/// the identity provider, and never with a thread waiting for it) and, in the background, once the set is older than
/// <see cref="MaxAge"/> (docs/security.md, "OAUTHBEARER").
/// </summary>
internal sealed class JsonWebKeySet : IDisposable
{
    /// <summary>The largest key set read: a JWKS is a few kilobytes.</summary>
    public const int MaxBytes = 1024 * 1024;

    /// <summary>RSA keys below this are refused (RFC 7518 section 3.3 requires 2048 bits).</summary>
    public const int MinRsaBits = 2048;

    private readonly string _source;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly HttpClient? _http;
    private readonly Lock _lock = new();
    private IReadOnlyList<VerificationKey> _keys = [];
    private long _loadedAt = long.MinValue;
    private long _lastAttempt = long.MinValue;
    private Task? _refresh;

    public JsonWebKeySet(string source, ILogger log, TimeProvider? time = null)
    {
        _source = source;
        _log = log;
        _time = time ?? TimeProvider.System;
        if (IsUrl(source)) _http = new HttpClient { Timeout = FetchTimeout };
    }

    /// <summary>Unknown key ids read the set again at most this often.</summary>
    public TimeSpan MinRefreshInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A set older than this is read again in the background (Kafka's jwks refresh default, one hour).</summary>
    public TimeSpan MaxAge { get; init; } = TimeSpan.FromHours(1);

    /// <summary>How long a fetch over http(s) may take, and how long a token waits for a refresh.</summary>
    public static readonly TimeSpan FetchTimeout = TimeSpan.FromSeconds(5);

    public static bool IsUrl(string source) => OAuthBearerSettings.IsHttp(source);

    /// <summary>The keys currently held.</summary>
    public IReadOnlyList<VerificationKey> Keys => Volatile.Read(ref _keys);

    /// <summary>Reads the set now; the message of the failure, or null.</summary>
    public async Task<string?> LoadAsync(CancellationToken ct = default)
    {
        lock (_lock) _lastAttempt = _time.GetTimestamp();
        string? error;
        try
        {
            byte[] bytes = await ReadSourceAsync(ct).ConfigureAwait(false);
            var keys = Parse(bytes, out error, _log);
            if (keys is not null)
            {
                Volatile.Write(ref _keys, keys);
                lock (_lock) _loadedAt = _time.GetTimestamp();
                _log.LogInformation("OAUTHBEARER key set loaded from {Source}: {Count} verification keys ({Kids})", Describe(_source), keys.Count,
                    string.Join(", ", keys.Select(k => k.Kid ?? "(no kid)")));
                return null;
            }
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException or TaskCanceledException or UnauthorizedAccessException or InvalidOperationException or FormatException or ArgumentException)
        {
            error = ex is TaskCanceledException ? $"no answer within {FetchTimeout.TotalSeconds:0} s" : ex.Message;
        }
        _log.LogWarning("cannot read the OAUTHBEARER key set from {Source} (--sasl-oauthbearer-jwks-endpoint-url): {Error}", Describe(_source), error);
        return error;
    }

    /// <summary>
    /// The keys that may check a token signed with alg and the given kid. Never waits: an unknown
    /// kid starts a read of the set (unless one was tried within <see cref="MinRefreshInterval"/>)
    /// and gets what is held now; <see cref="KeysReadyAsync"/> is what waits for that read. A set
    /// past <see cref="MaxAge"/> is refreshed in the background.
    /// </summary>
    public IReadOnlyList<VerificationKey> Find(string? kid, string alg)
    {
        var found = Select(Keys, kid, alg);
        StartRefresh(force: found.Count == 0 && kid is not null);
        return found;
    }

    /// <summary>
    /// Completes when a token of that kid and alg can be checked with what the set will hold: at
    /// once when a key fits or no read is allowed now, else when the read it starts (or the one
    /// under way) ends. The SASL exchange awaits this before it checks the token, so no thread
    /// waits on the identity provider (docs/security.md, "OAUTHBEARER").
    /// </summary>
    public Task KeysReadyAsync(string? kid, string alg)
    {
        if (kid is null || Select(Keys, kid, alg).Count > 0) return Task.CompletedTask;
        return StartRefresh(force: true) ?? Task.CompletedTask;
    }

    private static List<VerificationKey> Select(IReadOnlyList<VerificationKey> keys, string? kid, string alg)
    {
        var list = new List<VerificationKey>();
        foreach (var k in keys)
            if ((kid is null || k.Kid == kid) && k.Fits(alg)) list.Add(k);
        return list;
    }

    /// <summary>Starts a read of the set when one is due (or, forced, allowed by the rate limit); the read in flight, or null.</summary>
    private Task? StartRefresh(bool force)
    {
        lock (_lock)
        {
            if (_refresh is { IsCompleted: false } running) return running;
            var now = _time.GetTimestamp();
            if (_lastAttempt != long.MinValue && _time.GetElapsedTime(_lastAttempt, now) < MinRefreshInterval) return null;
            bool stale = _loadedAt == long.MinValue || _time.GetElapsedTime(_loadedAt, now) >= MaxAge;
            if (!force && !stale) return null;
            _lastAttempt = now;
            _refresh = Task.Run(() => LoadAsync());
            return _refresh;
        }
    }

    private async Task<byte[]> ReadSourceAsync(CancellationToken ct)
    {
        if (_http is null)
        {
            string path = _source.StartsWith("file:", StringComparison.OrdinalIgnoreCase) ? new Uri(_source).LocalPath : _source;
            var info = new FileInfo(path);
            if (!info.Exists) throw new IOException($"no file {path}");
            if (info.Length > MaxBytes) throw new IOException($"{path} is larger than {MaxBytes} bytes");
            return await File.ReadAllBytesAsync(path, ct).ConfigureAwait(false);
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(FetchTimeout);
        using var response = await _http.GetAsync(_source, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode) throw new IOException($"HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
        if (response.Content.Headers.ContentLength > MaxBytes) throw new IOException($"the key set is larger than {MaxBytes} bytes");
        await using var body = await response.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false);
        var buffer = new MemoryStream();
        byte[] chunk = new byte[16 * 1024];
        int n;
        while ((n = await body.ReadAsync(chunk, timeout.Token).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + n > MaxBytes) throw new IOException($"the key set is larger than {MaxBytes} bytes");
            buffer.Write(chunk, 0, n);
        }
        return buffer.ToArray();
    }

    /// <summary>A URL without its query (which may carry a secret), or the path.</summary>
    private static string Describe(string source) => IsUrl(source) && Uri.TryCreate(source, UriKind.Absolute, out var uri) ? uri.GetLeftPart(UriPartial.Path) : source;

    /// <summary>
    /// The usable keys of a JWKS document; null with the reason when it is not a key set or has
    /// no usable key. Keys of other types (oct, OKP), for encryption, or too weak are skipped.
    /// </summary>
    public static List<VerificationKey>? Parse(ReadOnlySpan<byte> json, out string? error, ILogger? log = null)
    {
        error = null;
        JwkSetRecord? set;
        try { set = JsonSerializer.Deserialize(json, JoseJsonContext.Default.JwkSetRecord); }
        catch (JsonException ex)
        {
            error = $"not a JSON Web Key Set ({ex.Message})";
            return null;
        }
        if (set?.Keys is not { } records)
        {
            error = "not a JSON Web Key Set: no \"keys\" array";
            return null;
        }
        var keys = new List<VerificationKey>();
        foreach (var r in records)
        {
            if (r is null) continue;
            var key = Import(r, out string? why);
            if (key is not null) keys.Add(key);
            else log?.LogDebug("OAUTHBEARER key set: key {Kid} skipped: {Reason}", r.Kid ?? "(no kid)", why);
        }
        if (keys.Count == 0)
        {
            error = $"the key set has no usable signature key (RSA of at least {MinRsaBits} bits, or EC P-256, P-384, P-521)";
            return null;
        }
        return keys;
    }

    private static VerificationKey? Import(JwkRecord r, out string? why)
    {
        why = null;
        if (r.Use is not null && r.Use != "sig") { why = $"use \"{r.Use}\""; return null; }
        if (r.Alg is not null && !JwtValidator.Algorithms.Contains(r.Alg)) { why = $"alg \"{r.Alg}\""; return null; }
        try
        {
            switch (r.Kty)
            {
                case "RSA":
                    {
                        if (Base64Url(r.N) is not { Length: > 0 } n || Base64Url(r.E) is not { Length: > 0 } e) { why = "RSA key without n or e"; return null; }
                        int bits = (n.Length - (n[0] == 0 ? 1 : 0)) * 8;
                        if (bits < MinRsaBits) { why = $"RSA key of {bits} bits"; return null; }
                        if (r.Alg is not null && r.Alg[0] != 'R') { why = $"RSA key for {r.Alg}"; return null; }
                        var rsa = RSA.Create();
                        rsa.ImportParameters(new RSAParameters { Modulus = n, Exponent = e });
                        return new VerificationKey(r.Kid, r.Alg, rsa, null, null);
                    }
                case "EC":
                    {
                        var (curve, size) = r.Crv switch
                        {
                            "P-256" => (ECCurve.NamedCurves.nistP256, 32),
                            "P-384" => (ECCurve.NamedCurves.nistP384, 48),
                            "P-521" => (ECCurve.NamedCurves.nistP521, 66),
                            _ => (default(ECCurve), 0),
                        };
                        if (size == 0) { why = $"EC curve \"{r.Crv}\""; return null; }
                        if (Base64Url(r.X) is not { } x || Base64Url(r.Y) is not { } y || x.Length != size || y.Length != size) { why = "EC key with bad x or y"; return null; }
                        if (r.Alg is not null && JwtValidator.CurveOf(r.Alg) != r.Crv) { why = $"{r.Crv} key for {r.Alg}"; return null; }
                        var ec = ECDsa.Create();
                        ec.ImportParameters(new ECParameters { Curve = curve, Q = new ECPoint { X = x, Y = y } });
                        return new VerificationKey(r.Kid, r.Alg, null, ec, r.Crv);
                    }
                default:
                    why = $"key type \"{r.Kty}\"";
                    return null;
            }
        }
        catch (CryptographicException ex)
        {
            why = ex.Message;
            return null;
        }
    }

    /// <summary>Base64url without padding (RFC 7515 section 2); null when it is not.</summary>
    public static byte[]? Base64Url(string? text)
    {
        if (text is null) return null;
        foreach (char c in text)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_')) return null;
        try { return System.Buffers.Text.Base64Url.DecodeFromChars(text); }
        catch (FormatException) { return null; }
    }

    public void Dispose()
    {
        _http?.Dispose();
        foreach (var k in Keys) { k.Rsa?.Dispose(); k.Ec?.Dispose(); }
    }
}
