using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace KafScale.Common.Tls;

/// <summary>A TLS file setting that cannot be used: the message names the setting and the fix.</summary>
public sealed class TlsSettingException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The client side of TLS to a server of ours (etcd, an S3 endpoint): PEM files named by settings,
/// read once at startup, and the trust check of the server's certificate. A CA file replaces the
/// system's roots (docs/security.md, "TLS to etcd and S3"); the server's certificate must also name
/// the host connected to.
/// </summary>
public sealed class PemClientTls
{
    private PemClientTls(X509Certificate2Collection? roots, X509Certificate2? clientCertificate, string? caSetting, string? caPath)
    {
        Roots = roots;
        ClientCertificate = clientCertificate;
        CaSetting = caSetting;
        CaPath = caPath;
    }

    /// <summary>The CA certificates to trust instead of the system's roots; null trusts the system's.</summary>
    public X509Certificate2Collection? Roots { get; }

    /// <summary>The client certificate with its key (mTLS), or null.</summary>
    public X509Certificate2? ClientCertificate { get; }

    /// <summary>The setting that names the CA file, such as "--etcd-tls-ca / KAFSCALE_ETCD_TLS_CA", for messages.</summary>
    public string? CaSetting { get; }

    public string? CaPath { get; }

    /// <summary>Why the last server certificate was refused, for the message of the failure that follows.</summary>
    public string? LastRejection { get; private set; }

    /// <summary>
    /// Reads the files. caPath may be null (system roots); certPath and keyPath go together.
    /// Each setting string names the option and its environment variable.
    /// </summary>
    public static PemClientTls Load(string? caPath, string caSetting, string? certPath, string certSetting, string? keyPath, string keySetting)
    {
        ArgumentNullException.ThrowIfNull(caSetting);
        if ((certPath is null) != (keyPath is null))
            throw new TlsSettingException($"{certSetting} and {keySetting} go together: set both (client certificate and its key) or neither");
        X509Certificate2Collection? roots = caPath is null ? null : LoadCertificates(caPath, caSetting);
        X509Certificate2? client = null;
        if (certPath is not null && keyPath is not null)
        {
            Readable(certPath, certSetting);
            Readable(keyPath, keySetting);
            try
            {
                using var pem = X509Certificate2.CreateFromPemFile(certPath, keyPath);
                // Loaded again from PKCS#12 so that the key is one the TLS stack of every platform accepts.
                client = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
            }
            catch (Exception ex) when (ex is CryptographicException or ArgumentException)
            {
                throw new TlsSettingException($"cannot use the client certificate '{certPath}' ({certSetting}) with the key '{keyPath}' ({keySetting}): {ex.Message}; "
                    + "give a PEM certificate and the PEM private key that belongs to it", ex);
            }
        }
        return new PemClientTls(roots, client, caPath is null ? null : caSetting, caPath);
    }

    /// <summary>Every certificate in a PEM bundle; a file that holds none is an error naming the setting.</summary>
    public static X509Certificate2Collection LoadCertificates(string path, string setting)
    {
        Readable(path, setting);
        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPemFile(path);
        }
        catch (CryptographicException ex)
        {
            throw new TlsSettingException($"the CA file '{path}' ({setting}) is not PEM: {ex.Message}; give a file of PEM certificates (-----BEGIN CERTIFICATE-----)", ex);
        }
        if (certificates.Count == 0)
            throw new TlsSettingException($"the CA file '{path}' ({setting}) holds no PEM certificate; give a file of PEM certificates (-----BEGIN CERTIFICATE-----)");
        return certificates;
    }

    private static void Readable(string path, string setting)
    {
        try
        {
            using var stream = File.OpenRead(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new TlsSettingException($"cannot read '{path}' ({setting}): {ex.Message}; give the path of a readable PEM file", ex);
        }
    }

    /// <summary>Client TLS options of a <see cref="SocketsHttpHandler"/>: this trust and this client certificate.</summary>
    public void Apply(SocketsHttpHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        var ssl = new SslClientAuthenticationOptions
        {
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        };
        if (ClientCertificate is not null)
            ssl.ClientCertificates = [ClientCertificate];
        ssl.RemoteCertificateValidationCallback = (_, certificate, chain, errors) => Trusted(certificate, chain, errors);
        handler.SslOptions = ssl;
    }

    /// <summary>
    /// The server's certificate must chain to <see cref="Roots"/> (or, without them, to the
    /// system's roots) and name the host. A refusal is remembered in <see cref="LastRejection"/>
    /// for the failure message: the exception's own text is not kept in a trimmed binary.
    /// </summary>
    private bool Trusted(X509Certificate? certificate, X509Chain? presented, SslPolicyErrors errors)
    {
        if (certificate is null)
        {
            LastRejection = "the server sent no certificate";
            return false;
        }
        using var cert = new X509Certificate2(certificate);
        if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
        {
            LastRejection = $"its certificate ({cert.Subject}) does not name the host connected to";
            return false;
        }
        if (Roots is null)
        {
            if (errors == SslPolicyErrors.None) return Accept();
            LastRejection = $"its certificate ({cert.Subject}, issued by {cert.Issuer}) does not chain to the system's roots";
            return false;
        }
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(Roots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (presented is not null)
        {
            // Intermediates the server sent along help build the chain; they are not trusted by themselves.
            foreach (X509ChainElement element in presented.ChainElements)
            {
                if (!element.Certificate.RawDataMemory.Span.SequenceEqual(cert.RawDataMemory.Span))
                    chain.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }
        if (chain.Build(cert)) return Accept();
        LastRejection = $"its certificate ({cert.Subject}, issued by {cert.Issuer}) does not chain to the CA in '{CaPath}' ({CaSetting})";
        return false;
    }

    private bool Accept()
    {
        LastRejection = null;
        return true;
    }

    /// <summary>A TLS handshake failure somewhere in an exception's causes.</summary>
    public static bool IsTlsFailure(Exception? ex)
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            if (e is AuthenticationException) return true;
            if (e is HttpRequestException { HttpRequestError: HttpRequestError.SecureConnectionError }) return true;
        }
        return false;
    }
}
