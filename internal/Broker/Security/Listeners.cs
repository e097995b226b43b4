using System.Globalization;
using System.Net;

namespace KafScale.Broker.Security;

/// <summary>Kafka's security protocols; a listener's name is its protocol's name (docs/security.md, "Listeners").</summary>
public enum SecurityProtocol
{
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

/// <summary>One Kafka listener: where it binds, what it requires, and where clients are told to connect.</summary>
public sealed record ListenerConfig(SecurityProtocol Protocol, IPEndPoint Bind, string AdvertisedHost, int AdvertisedPort)
{
    public string Name => Listeners.NameOf(Protocol);
    public bool UsesTls => Protocol is SecurityProtocol.Ssl or SecurityProtocol.SaslSsl;
    public bool UsesSasl => Protocol is SecurityProtocol.SaslPlaintext or SecurityProtocol.SaslSsl;
}

/// <summary>One <c>NAME://host:port</c> entry of --listeners or --advertised-listeners, host not yet resolved.</summary>
public readonly record struct ListenerEntry(SecurityProtocol Protocol, string Host, int Port)
{
    public string Name => Listeners.NameOf(Protocol);
}

/// <summary>Parsing of Kafka's listener lists.</summary>
public static class Listeners
{
    public const string Plaintext = "PLAINTEXT";

    public static IReadOnlyList<string> Names { get; } = ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"];

    public static string NameOf(SecurityProtocol protocol) => protocol switch
    {
        SecurityProtocol.Ssl => "SSL",
        SecurityProtocol.SaslPlaintext => "SASL_PLAINTEXT",
        SecurityProtocol.SaslSsl => "SASL_SSL",
        _ => "PLAINTEXT",
    };

    public static bool TryParseProtocol(string name, out SecurityProtocol protocol)
    {
        protocol = SecurityProtocol.Plaintext;
        switch (name.ToUpperInvariant())
        {
            case "PLAINTEXT": return true;
            case "SSL": protocol = SecurityProtocol.Ssl; return true;
            case "SASL_PLAINTEXT": protocol = SecurityProtocol.SaslPlaintext; return true;
            case "SASL_SSL": protocol = SecurityProtocol.SaslSsl; return true;
            default: return false;
        }
    }

    /// <summary>
    /// Parses "NAME://host:port,NAME://host:port". An empty host means every interface (as in
    /// Kafka); a name may appear once. Returns null and a message naming the bad entry on error.
    /// </summary>
    public static List<ListenerEntry>? Parse(string value, out string? error)
    {
        error = null;
        var entries = new List<ListenerEntry>();
        foreach (var raw in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            int sep = raw.IndexOf("://", StringComparison.Ordinal);
            if (sep <= 0)
            {
                error = $"'{raw}' is not NAME://HOST:PORT (for example SASL_SSL://0.0.0.0:9094)";
                return null;
            }
            string name = raw[..sep];
            if (!TryParseProtocol(name, out var protocol))
            {
                error = $"unknown listener name '{name}' in '{raw}': expected one of {string.Join(", ", Names)}";
                return null;
            }
            string address = raw[(sep + 3)..];
            int colon = address.LastIndexOf(':');
            if (colon < 0 || !int.TryParse(address[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port > 65535)
            {
                error = $"'{raw}' has no valid port (NAME://HOST:PORT, port 0 to 65535)";
                return null;
            }
            string host = address[..colon].Trim('[', ']');
            if (entries.Exists(e => e.Protocol == protocol))
            {
                error = $"listener {name} is named twice";
                return null;
            }
            entries.Add(new ListenerEntry(protocol, host, port));
        }
        if (entries.Count == 0) error = "no listener given (for example PLAINTEXT://0.0.0.0:9092)";
        return entries.Count == 0 ? null : entries;
    }
}

/// <summary>--tls-client-auth: whether a TLS listener asks clients for a certificate (mTLS).</summary>
public enum TlsClientAuth
{
    None,
    Requested,
    Required,
}

/// <summary>The TLS settings shared by every SSL and SASL_SSL listener.</summary>
public sealed record TlsSettings(string CertificatePath, string KeyPath, string? CaPath, TlsClientAuth ClientAuth);

/// <summary>A listener as connections use it: its settings and, on SSL and SASL_SSL, the certificates.</summary>
internal sealed record ListenerRuntime(ListenerConfig Config, TlsCertificates? Tls)
{
    public static readonly ListenerRuntime Plaintext = new(new ListenerConfig(SecurityProtocol.Plaintext, new IPEndPoint(IPAddress.Loopback, 0), "127.0.0.1", 0), null);
}
