using KafScale.Broker.Network;
using KafScale.Broker.Security;
using KafScale.Protocol;
using KafScale.Protocol.Messages;
using Microsoft.Extensions.Logging;

namespace KafScale.Broker.Handlers;

/// <summary>
/// SaslHandshake (17): the client names a mechanism; the answer lists the enabled ones. On a
/// listener without SASL it is ILLEGAL_SASL_STATE; a mechanism not enabled is
/// UNSUPPORTED_SASL_MECHANISM and the connection closes after the answer, as in Kafka. v0 means
/// the SASL tokens follow as bare frames (docs/security.md, "SASL"). Once authenticated, a
/// handshake starts a re-authentication (KIP-368) when the session has a lifetime, and is
/// ILLEGAL_SASL_STATE otherwise; a re-authentication must use v1 and the mechanism the
/// connection authenticated with (docs/security.md, "Re-authentication").
/// </summary>
internal sealed class SaslHandshakeHandler(SaslAuthenticator authenticator) : ApiHandler<SaslHandshakeRequest, SaslHandshakeResponse>
{
    public override short ApiKey => SaslHandshakeRequest.ApiKey;
    public override string Name => "SaslHandshake";
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => SaslHandshakeRequest.HighestSupportedVersion;

    protected override ValueTask<SaslHandshakeResponse?> HandleAsync(RequestContext context, SaslHandshakeRequest request, short version)
    {
        var client = context.Client;
        var response = new SaslHandshakeResponse { Mechanisms = [.. authenticator.Enabled] };
        bool reauthentication = client.Authenticated && client.SessionExpiresAt != 0 && version >= 1;
        if (!client.SaslRequired || (client.Authenticated && !reauthentication) || client.Sasl is not null)
        {
            response.ErrorCode = ErrorCodes.IllegalSaslState;
            return ValueTask.FromResult<SaslHandshakeResponse?>(response);
        }
        if (!authenticator.IsEnabled(request.Mechanism) || SaslServer.Create(request.Mechanism, authenticator) is not { } server)
        {
            response.ErrorCode = ErrorCodes.UnsupportedSaslMechanism;
            context.Dispatcher.Log.LogInformation("SASL handshake from {Remote} on listener {Listener} asked for mechanism {Mechanism}, which is not enabled (--sasl-mechanisms: {Enabled}); closing the connection",
                client.Remote, client.Listener, request.Mechanism, string.Join(',', authenticator.Enabled));
            context.Dispatcher.Metrics.SaslAuthentication(client.Listener, "unsupported", "failure");
            client.CloseAfterResponse = true;
            return ValueTask.FromResult<SaslHandshakeResponse?>(response);
        }
        if (reauthentication && request.Mechanism != client.SaslMechanism)
        {
            // Kafka answers the handshake and fails the exchange that follows it.
            server = new RefusingSaslServer(request.Mechanism,
                $"SASL mechanism '{request.Mechanism}' requested by client is not supported for re-authentication of mechanism '{client.SaslMechanism}'");
        }
        client.Sasl = server;
        if (!reauthentication) client.SaslMechanism = server.Mechanism;
        client.SaslRawTokens = version == 0;
        return ValueTask.FromResult<SaslHandshakeResponse?>(response);
    }

    protected override SaslHandshakeResponse ErrorResponse(SaslHandshakeRequest request, short errorCode) =>
        new() { ErrorCode = errorCode, Mechanisms = [.. authenticator.Enabled] };
}
