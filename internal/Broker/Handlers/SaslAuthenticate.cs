using KafScale.Broker.Network;
using KafScale.Broker.Security;
using KafScale.Protocol;
using KafScale.Protocol.Messages;
using Microsoft.Extensions.Logging;

namespace KafScale.Broker.Handlers;

/// <summary>
/// SaslAuthenticate (36): one step of the exchange SaslHandshake started. Completion sets the
/// connection's principal (User:&lt;name&gt;); a failure is SASL_AUTHENTICATION_FAILED with
/// Kafka's message, one log line naming the user and the remote (never the password), and the
/// connection closes after the answer.
/// </summary>
internal sealed class SaslAuthenticateHandler : ApiHandler<SaslAuthenticateRequest, SaslAuthenticateResponse>
{
    public override short ApiKey => SaslAuthenticateRequest.ApiKey;
    public override string Name => "SaslAuthenticate";
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => SaslAuthenticateRequest.HighestSupportedVersion;

    protected override ValueTask<SaslAuthenticateResponse?> HandleAsync(RequestContext context, SaslAuthenticateRequest request, short version)
    {
        var client = context.Client;
        if (!client.SaslRequired || client.Authenticated || client.Sasl is not { } server || client.SaslRawTokens)
        {
            return ValueTask.FromResult<SaslAuthenticateResponse?>(new SaslAuthenticateResponse
            {
                ErrorCode = ErrorCodes.IllegalSaslState,
                ErrorMessage = client.SaslRequired ? "SaslAuthenticate without a SaslHandshake v1 before it, or after authentication completed" : "this listener does not use SASL",
            });
        }
        var step = server.Evaluate(request.AuthBytes);
        var response = new SaslAuthenticateResponse { AuthBytes = step.Challenge, ErrorMessage = null };
        switch (step.Outcome)
        {
            case SaslOutcome.Complete:
                Succeeded(client, server, context.Dispatcher);
                break;
            case SaslOutcome.Failed:
                Failed(client, server, step.Error!, context.Dispatcher);
                response.ErrorCode = ErrorCodes.SaslAuthenticationFailed;
                response.ErrorMessage = step.Error;
                break;
        }
        return ValueTask.FromResult<SaslAuthenticateResponse?>(response);
    }

    /// <summary>
    /// A bare SASL token after SaslHandshake v0: answered with a bare token frame; a failure
    /// closes the connection without an answer (null), which is all v0 clients expect.
    /// </summary>
    public static ResponseFrame? RawToken(ClientContext client, ReadOnlySpan<byte> token, RequestDispatcher dispatcher)
    {
        if (client.Sasl is not { } server) return null;
        var step = server.Evaluate(token);
        if (step.Outcome == SaslOutcome.Failed)
        {
            Failed(client, server, step.Error!, dispatcher);
            return null;
        }
        if (step.Outcome == SaslOutcome.Complete) Succeeded(client, server, dispatcher);
        var frame = ResponseFrame.Rent();
        var w = frame.Writer;
        int start = w.BeginSizePrefix();
        w.WriteRaw(step.Challenge);
        w.EndSizePrefix(start);
        return frame;
    }

    private static void Succeeded(ClientContext client, SaslServer server, RequestDispatcher dispatcher)
    {
        client.Principal = "User:" + server.User;
        client.Authenticated = true;
        client.Sasl = null;
        client.SaslRawTokens = false;
        dispatcher.Metrics.SaslAuthentication(client.Listener, server.Mechanism, "success");
        dispatcher.Log.LogDebug("{Remote} on listener {Listener} authenticated as {Principal} with {Mechanism}", client.Remote, client.Listener, client.Principal, server.Mechanism);
    }

    private static void Failed(ClientContext client, SaslServer server, string error, RequestDispatcher dispatcher)
    {
        client.Sasl = null;
        client.CloseAfterResponse = true;
        dispatcher.Metrics.SaslAuthentication(client.Listener, server.Mechanism, "failure");
        dispatcher.Log.LogInformation("SASL authentication of user {User} from {Remote} on listener {Listener} with {Mechanism} failed: {Error}; closing the connection",
            server.User ?? "(none given)", client.Remote, client.Listener, server.Mechanism, error);
    }

    protected override SaslAuthenticateResponse ErrorResponse(SaslAuthenticateRequest request, short errorCode) => new() { ErrorCode = errorCode };
}
