using KafScale.Client;

namespace KafScale.LoadGen;

/// <summary>
/// The security options every loadgen command that talks to a broker takes, in the words of
/// Kafka's client settings (scripts/bench-security.sh drives a SASL_SSL listener with them).
/// </summary>
internal static class SecurityArguments
{
    public const string Usage = """
          --security-protocol P PLAINTEXT|SSL|SASL_PLAINTEXT|SASL_SSL                [PLAINTEXT]
          --sasl-mechanism M    PLAIN|SCRAM-SHA-256|SCRAM-SHA-512                   [PLAIN]
          --sasl-username U     --sasl-password W                                   []
          --tls-ca FILE         PEM CA the broker's certificate must chain to       [system roots]
        """;

    public static KafkaSecurityOptions Read(Arguments args)
    {
        string protocolName = args.String("security-protocol") ?? "PLAINTEXT";
        if (!KafkaSecurityOptions.TryParseProtocol(protocolName, out KafkaSecurityProtocol protocol))
            throw new UsageException($"--security-protocol {protocolName}: expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL");
        var security = new KafkaSecurityOptions
        {
            Protocol = protocol,
            SaslMechanism = (args.String("sasl-mechanism") ?? "PLAIN").ToUpperInvariant(),
            SaslUsername = args.String("sasl-username"),
            SaslPassword = args.String("sasl-password"),
            TlsCaPath = args.String("tls-ca"),
        };
        if (security.UsesSasl && (security.SaslUsername is null || security.SaslPassword is null))
            throw new UsageException($"--security-protocol {protocolName} needs --sasl-username and --sasl-password");
        return security;
    }
}
