using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace KafScale.Broker.Security;

/// <summary>
/// The broker's TLS identity: the PEM certificate (with any intermediates after it), its key,
/// and the CA that client certificates must chain to. The files are checked at most every few
/// seconds, on a new handshake; when one changed, the set is loaded again and new connections use
/// it while existing ones keep theirs. A set that fails to load is logged and the last good one
/// stays in use (docs/security.md, "TLS").
/// </summary>
internal sealed class TlsCertificates
{
    /// <summary>How often a handshake may look at the files' write times.</summary>
    public static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(3);

    private readonly TlsSettings _settings;
    private readonly ILogger _log;
    private readonly Lock _lock = new();
    private SslServerAuthenticationOptions _options;
    private DateTime[] _stamps;
    private long _nextCheck;

    private TlsCertificates(TlsSettings settings, ILogger log, SslServerAuthenticationOptions options, DateTime[] stamps)
    {
        _settings = settings;
        _log = log;
        _options = options;
        _stamps = stamps;
        _nextCheck = Environment.TickCount64 + (long)CheckInterval.TotalMilliseconds;
    }

    /// <summary>Loads the files; throws <see cref="StartupException"/> naming the setting when they are unusable.</summary>
    public static TlsCertificates Load(TlsSettings settings, ILogger log)
    {
        try
        {
            var stamps = Stamps(settings);
            return new TlsCertificates(settings, log, Build(settings), stamps);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            throw new StartupException($"cannot load the TLS certificate '{settings.CertificatePath}' with key '{settings.KeyPath}'{(settings.CaPath is null ? "" : $" and CA '{settings.CaPath}'")} (--tls-cert, --tls-key, --tls-ca / KAFSCALE_TLS_CERT, KAFSCALE_TLS_KEY, KAFSCALE_TLS_CA): {ex.Message}", ex);
        }
    }

    /// <summary>The options for a new handshake: the current set, reloaded first if a file changed.</summary>
    public SslServerAuthenticationOptions Current()
    {
        long now = Environment.TickCount64;
        if (now < Volatile.Read(ref _nextCheck)) return Volatile.Read(ref _options);
        lock (_lock)
        {
            if (now < _nextCheck) return _options;
            _nextCheck = now + (long)CheckInterval.TotalMilliseconds;
            DateTime[] stamps;
            try { stamps = Stamps(_settings); }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return _options;
            }
            if (stamps.AsSpan().SequenceEqual(_stamps)) return _options;
            try
            {
                var options = Build(_settings);
                Volatile.Write(ref _options, options);
                _stamps = stamps;
                _log.LogInformation("TLS certificate reloaded from {Cert}: now serving {Subject} (valid until {NotAfter:u}); existing connections keep the certificate they started with",
                    _settings.CertificatePath, options.ServerCertificateContext!.TargetCertificate.Subject, options.ServerCertificateContext.TargetCertificate.NotAfter.ToUniversalTime());
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
            {
                // A half-written file (the key replaced before the certificate) is common: keep the last good set and try again later.
                _log.LogWarning("TLS certificate files changed but cannot be loaded ({Error}); still serving the previous certificate (--tls-cert, --tls-key, --tls-ca)", ex.Message);
            }
            return _options;
        }
    }

    private static DateTime[] Stamps(TlsSettings s) =>
        [File.GetLastWriteTimeUtc(s.CertificatePath), File.GetLastWriteTimeUtc(s.KeyPath), s.CaPath is null ? default : File.GetLastWriteTimeUtc(s.CaPath)];

    private static SslServerAuthenticationOptions Build(TlsSettings s)
    {
        if (!File.Exists(s.CertificatePath)) throw new IOException($"'{s.CertificatePath}' does not exist");
        if (!File.Exists(s.KeyPath)) throw new IOException($"'{s.KeyPath}' does not exist");
        using var pem = X509Certificate2.CreateFromPemFile(s.CertificatePath, s.KeyPath);
        // A certificate whose key came from PEM is exported and loaded again so the key is one
        // the TLS stack of every platform accepts.
        var certificate = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        var chain = new X509Certificate2Collection();
        chain.ImportFromPemFile(s.CertificatePath);
        var intermediates = new X509Certificate2Collection();
        foreach (var c in chain) if (c.Thumbprint != certificate.Thumbprint) intermediates.Add(c);
        X509Certificate2Collection? trusted = null;
        if (s.CaPath is not null)
        {
            if (!File.Exists(s.CaPath)) throw new IOException($"'{s.CaPath}' does not exist");
            trusted = new X509Certificate2Collection();
            trusted.ImportFromPemFile(s.CaPath);
            if (trusted.Count == 0) throw new ArgumentException($"'{s.CaPath}' holds no PEM certificate");
        }
        var options = new SslServerAuthenticationOptions
        {
            ServerCertificateContext = SslStreamCertificateContext.Create(certificate, intermediates, offline: true),
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            ClientCertificateRequired = s.ClientAuth != TlsClientAuth.None,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = (_, cert, _, errors) => ValidateClient(s.ClientAuth, trusted, cert, errors),
        };
        return options;
    }

    /// <summary>
    /// A client certificate must chain to --tls-ca (not to the system's roots: the CA names who
    /// may connect). Without one, "requested" lets the client in as ANONYMOUS, "required" refuses.
    /// </summary>
    private static bool ValidateClient(TlsClientAuth mode, X509Certificate2Collection? trusted, X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (mode == TlsClientAuth.None) return true;
        if (certificate is null) return mode == TlsClientAuth.Requested;
        if (trusted is null) return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(trusted);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var cert = new X509Certificate2(certificate);
        return chain.Build(cert);
    }

    /// <summary>Kafka's principal for a client certificate, as this broker names it: User:&lt;subject CN&gt;.</summary>
    public static string? PrincipalOf(X509Certificate? certificate)
    {
        if (certificate is null) return null;
        using var cert = new X509Certificate2(certificate);
        string cn = cert.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        return string.IsNullOrEmpty(cn) ? null : "User:" + cn;
    }
}
