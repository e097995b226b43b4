using System.Text.Json;
using KafScale.Broker.Clustering;
using KafScale.Metadata;
using KafScale.Protocol.Sasl;
using Microsoft.Extensions.Logging;

namespace KafScale.Broker.Security;

/// <summary>
/// The SCRAM credentials of every user (docs/metadata.md, "SCRAM credentials"), mirrored from
/// the metadata store into memory so an authentication never waits on the store; every broker
/// applies a change as soon as its watch delivers it.
/// </summary>
internal sealed class ScramCredentialStore : IScramCredentials, IAsyncDisposable
{
    public const string KeyPrefix = "/kafscale/scram/";

    private readonly CancellationTokenSource _stop = new();
    private readonly ILogger _log;
    private Dictionary<(string User, sbyte Mechanism), ScramCredential> _credentials = [];
    private Task _run = Task.CompletedTask;
    private long _version;

    public ScramCredentialStore(ILogger log)
    {
        _log = log;
    }

    /// <summary>Starts mirroring; completes after the first full read.</summary>
    public Task StartAsync(IMetadataStore store)
    {
        var mirror = new PrefixMirror(store, KeyPrefix, _log, Reset, Apply);
        _run = mirror.RunAsync(_stop.Token);
        return mirror.Synced;
    }

    /// <summary>
    /// Goes up whenever a credential is set or deleted: whoever keeps a login made with a password
    /// (the web console) checks it again when this moved (docs/console.md, "Security").
    /// </summary>
    public long Version => Interlocked.Read(ref _version);

    public ScramCredential? Find(string user, ScramMechanism mechanism) =>
        Volatile.Read(ref _credentials).TryGetValue((user, mechanism.Type), out var c) ? c : null;

    /// <summary>/kafscale/scram/&lt;user&gt;/&lt;MECHANISM&gt;, the user percent-encoded so '/' cannot change the layout.</summary>
    public static string StoreKey(string user, ScramMechanism mechanism) => KeyPrefix + Uri.EscapeDataString(user) + "/" + mechanism.Name;

    public static bool TryParseStoreKey(string key, out string user, out ScramMechanism mechanism)
    {
        user = "";
        mechanism = null!;
        if (!key.StartsWith(KeyPrefix, StringComparison.Ordinal)) return false;
        string[] parts = key[KeyPrefix.Length..].Split('/');
        if (parts.Length != 2 || parts[0].Length == 0 || ScramMechanism.ByName(parts[1]) is not { } m) return false;
        try { user = Uri.UnescapeDataString(parts[0]); }
        catch (UriFormatException) { return false; }
        mechanism = m;
        return true;
    }

    /// <summary>JSON {"salt","stored_key","server_key" (base64),"iterations"}: what RFC 5802 says a server keeps, and nothing more.</summary>
    public static byte[] ToJson(ScramCredential c)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("salt", Convert.ToBase64String(c.Salt));
            w.WriteString("stored_key", Convert.ToBase64String(c.StoredKey));
            w.WriteString("server_key", Convert.ToBase64String(c.ServerKey));
            w.WriteNumber("iterations", c.Iterations);
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }

    public static ScramCredential? FromJson(byte[] value)
    {
        try
        {
            using var doc = JsonDocument.Parse(value);
            var root = doc.RootElement;
            return new ScramCredential(
                Convert.FromBase64String(root.GetProperty("salt").GetString() ?? ""),
                Convert.FromBase64String(root.GetProperty("stored_key").GetString() ?? ""),
                Convert.FromBase64String(root.GetProperty("server_key").GetString() ?? ""),
                root.GetProperty("iterations").GetInt32());
        }
        catch (Exception ex) when (ex is JsonException or FormatException or KeyNotFoundException or InvalidOperationException)
        {
            return null;
        }
    }

    private void Reset(IReadOnlyList<KeyValue> kvs, long revision)
    {
        var all = new Dictionary<(string, sbyte), ScramCredential>();
        foreach (var kv in kvs)
            if (Parse(kv) is { } p) all[(p.User, p.Mechanism.Type)] = p.Credential;
        Volatile.Write(ref _credentials, all);
        Interlocked.Increment(ref _version);
    }

    private void Apply(WatchEvent e)
    {
        if (!TryParseStoreKey(e.Kv.Key, out var user, out var mechanism)) return;
        var all = new Dictionary<(string, sbyte), ScramCredential>(Volatile.Read(ref _credentials));
        if (e.Type == WatchEventType.Delete) all.Remove((user, mechanism.Type));
        else if (Parse(e.Kv) is { } p) all[(user, mechanism.Type)] = p.Credential;
        else return;
        Volatile.Write(ref _credentials, all);
        Interlocked.Increment(ref _version);
    }

    private (string User, ScramMechanism Mechanism, ScramCredential Credential)? Parse(KeyValue kv)
    {
        if (!TryParseStoreKey(kv.Key, out var user, out var mechanism))
        {
            _log.LogWarning("ignoring metadata key {Key}: not a SCRAM credential key (docs/metadata.md, \"SCRAM credentials\")", kv.Key);
            return null;
        }
        if (FromJson(kv.Value) is not { } credential)
        {
            _log.LogWarning("ignoring SCRAM credential {Key}: its value is not a credential (not logged: it may hold key material); set it again with kafscale admin users set", kv.Key);
            return null;
        }
        return (user, mechanism, credential);
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        try { await _run.ConfigureAwait(false); } catch { }
        _stop.Dispose();
    }
}
