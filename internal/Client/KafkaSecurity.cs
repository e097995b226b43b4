using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using KafScale.Protocol;
using KafScale.Protocol.Messages;
using KafScale.Protocol.Sasl;

namespace KafScale.Client;

/// <summary>Kafka's security.protocol values.</summary>
public enum KafkaSecurityProtocol
{
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

/// <summary>
/// How a connection secures itself, in the words of Kafka's client settings: security.protocol,
/// sasl.mechanism with a username and password (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), and PEM
/// files for TLS (the CA that signs the broker's certificate; a client certificate and key for mTLS).
/// </summary>
public sealed record KafkaSecurityOptions
{
    public KafkaSecurityProtocol Protocol { get; init; } = KafkaSecurityProtocol.Plaintext;
    public string SaslMechanism { get; init; } = "PLAIN";
    public string? SaslUsername { get; init; }
    public string? SaslPassword { get; init; }

    /// <summary>PEM CA certificates the broker's certificate must chain to; null trusts the system's roots.</summary>
    public string? TlsCaPath { get; init; }

    public string? TlsCertificatePath { get; init; }
    public string? TlsKeyPath { get; init; }

    /// <summary>
    /// Decides whether to trust the broker's certificate instead of the usual checks (the CA of
    /// <see cref="TlsCaPath"/> or the system's roots, and the host name); for a caller that knows
    /// better, like the web console connecting to its own broker.
    /// </summary>
    public RemoteCertificateValidationCallback? TlsServerValidation { get; init; }

    public bool UsesTls => Protocol is KafkaSecurityProtocol.Ssl or KafkaSecurityProtocol.SaslSsl;
    public bool UsesSasl => Protocol is KafkaSecurityProtocol.SaslPlaintext or KafkaSecurityProtocol.SaslSsl;

    public static bool TryParseProtocol(string value, out KafkaSecurityProtocol protocol)
    {
        protocol = KafkaSecurityProtocol.Plaintext;
        switch (value.ToUpperInvariant())
        {
            case "PLAINTEXT": return true;
            case "SSL": protocol = KafkaSecurityProtocol.Ssl; return true;
            case "SASL_PLAINTEXT": protocol = KafkaSecurityProtocol.SaslPlaintext; return true;
            case "SASL_SSL": protocol = KafkaSecurityProtocol.SaslSsl; return true;
            default: return false;
        }
    }
}

/// <summary>The client side of TLS and of the SASL exchange (SaslHandshake v1, then SaslAuthenticate).</summary>
internal static class KafkaSecurity
{
    public static async Task<SslStream> HandshakeAsync(Stream network, string host, KafkaSecurityOptions security, CancellationToken ct)
    {
        X509Certificate2Collection? trusted = null;
        if (security.TlsCaPath is { } ca)
        {
            trusted = [];
            trusted.ImportFromPemFile(ca);
        }
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = host,
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        };
        if (security.TlsCertificatePath is { } certPath)
        {
            using var pem = X509Certificate2.CreateFromPemFile(certPath, security.TlsKeyPath ?? certPath);
            options.ClientCertificates = [X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null)];
        }
        if (security.TlsServerValidation is { } validate)
            options.RemoteCertificateValidationCallback = validate;
        else if (trusted is not null)
            options.RemoteCertificateValidationCallback = (_, cert, _, errors) => Trusted(trusted, cert, errors);
        var tls = new SslStream(network, leaveInnerStreamOpen: false);
        try
        {
            await tls.AuthenticateAsClientAsync(options, ct).ConfigureAwait(false);
        }
        catch
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return tls;
    }

    /// <summary>The broker's certificate must chain to the given CA and name the host connected to.</summary>
    private static bool Trusted(X509Certificate2Collection trusted, X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (certificate is null || (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0) return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(trusted);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var cert = new X509Certificate2(certificate);
        return chain.Build(cert);
    }

    /// <summary>Authenticates an open connection; throws <see cref="KafkaException"/> with the broker's error on failure.</summary>
    public static async Task AuthenticateAsync(KafkaConnection connection, KafkaSecurityOptions security, CancellationToken ct)
    {
        string user = security.SaslUsername ?? throw new ArgumentException("SASL needs a username", nameof(security));
        string password = security.SaslPassword ?? throw new ArgumentException("SASL needs a password", nameof(security));
        var handshake = await connection.SendAsync<SaslHandshakeResponse>(new SaslHandshakeRequest { Mechanism = security.SaslMechanism }, 1, ct).ConfigureAwait(false);
        if (handshake.ErrorCode != 0)
        {
            throw new KafkaException((ErrorCode)handshake.ErrorCode,
                $"{connection} does not accept SASL mechanism {security.SaslMechanism} (it accepts {string.Join(", ", handshake.Mechanisms)})");
        }
        if (security.SaslMechanism == "PLAIN")
        {
            await StepAsync(connection, Encoding.UTF8.GetBytes($"\0{user}\0{password}"), ct).ConfigureAwait(false);
            return;
        }
        var mechanism = ScramMechanism.ByName(security.SaslMechanism) ?? throw new ArgumentException($"unsupported SASL mechanism {security.SaslMechanism}", nameof(security));
        var scram = new ScramClient(mechanism, user, password);
        byte[] serverFirst = await StepAsync(connection, scram.ClientFirst(), ct).ConfigureAwait(false);
        byte[] clientFinal;
        try { clientFinal = scram.ClientFinal(serverFirst); }
        catch (FormatException ex) { throw new KafkaException(ErrorCode.SaslAuthenticationFailed, $"{connection}: {ex.Message}"); }
        byte[] serverFinal = await StepAsync(connection, clientFinal, ct).ConfigureAwait(false);
        if (!scram.VerifyServerFinal(serverFinal))
            throw new KafkaException(ErrorCode.SaslAuthenticationFailed, $"{connection} did not prove it knows the SCRAM credential (invalid server signature)");
    }

    private static async Task<byte[]> StepAsync(KafkaConnection connection, byte[] token, CancellationToken ct)
    {
        var response = await connection.SendAsync<SaslAuthenticateResponse>(new SaslAuthenticateRequest { AuthBytes = token }, 1, ct).ConfigureAwait(false);
        if (response.ErrorCode != 0)
            throw new KafkaException((ErrorCode)response.ErrorCode, response.ErrorMessage ?? $"SASL authentication with {connection} failed");
        return response.AuthBytes;
    }
}
