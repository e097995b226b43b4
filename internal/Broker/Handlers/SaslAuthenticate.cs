using KafScale.Broker.Network;
using KafScale.Broker.Security;
using KafScale.Protocol;
using KafScale.Protocol.Messages;
using Microsoft.Extensions.Logging;

namespace KafScale.Broker.Handlers;

/// <summary>
/// SaslAuthenticate (36): one step of the exchange SaslHandshake started. Completion sets the
/// connection's principal (User:&lt;name&gt;) and the session's lifetime (KIP-368, sent to v1+
/// clients); a failure is SASL_AUTHENTICATION_FAILED with Kafka's message, one log line naming
/// the user and the remote (never the password or token), and the connection closes after the
/// answer. A re-authentication must name the same principal (docs/security.md, "Re-authentication").
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
        if (!client.SaslRequired || client.Sasl is not { } server || client.SaslRawTokens)
        {
            return ValueTask.FromResult<SaslAuthenticateResponse?>(new SaslAuthenticateResponse
            {
                ErrorCode = ErrorCodes.IllegalSaslState,
                ErrorMessage = client.SaslRequired ? "SaslAuthenticate without a SaslHandshake v1 before it, or after authentication completed" : "this listener does not use SASL",
            });
        }
        // A token naming a key the broker has not read yet waits, without a thread, for the read
        // of the key set it starts (bounded by the fetch timeout).
        if (server is OAuthBearerSaslServer oauth && oauth.KeysReadyAsync(request.AuthBytes) is { IsCompleted: false } keys)
            return AnswerWhenReadyAsync(keys, context, client, server, request);
        return ValueTask.FromResult<SaslAuthenticateResponse?>(Answer(context, client, server, request));
    }

    private static async ValueTask<SaslAuthenticateResponse?> AnswerWhenReadyAsync(Task keys, RequestContext context, ClientContext client, SaslServer server, SaslAuthenticateRequest request)
    {
        try { await keys.WaitAsync(JsonWebKeySet.FetchTimeout).ConfigureAwait(false); }
        catch (Exception) { } // a read that failed or took too long: the check then fails with "no key"
        return Answer(context, client, server, request);
    }

    private static SaslAuthenticateResponse Answer(RequestContext context, ClientContext client, SaslServer server, SaslAuthenticateRequest request)
    {
        var step = Evaluate(client, server, request.AuthBytes, context.Dispatcher, out long lifetimeMs);
        var response = new SaslAuthenticateResponse { AuthBytes = step.Challenge, ErrorMessage = null, SessionLifetimeMs = lifetimeMs };
        if (step.Outcome == SaslOutcome.Failed)
        {
            response.ErrorCode = ErrorCodes.SaslAuthenticationFailed;
            response.ErrorMessage = step.Error;
        }
        return response;
    }

    /// <summary>
    /// A bare SASL token after SaslHandshake v0: answered with a bare token frame; a failure
    /// closes the connection without an answer (null), which is all v0 clients expect.
    /// </summary>
    public static ResponseFrame? RawToken(ClientContext client, ReadOnlySpan<byte> token, RequestDispatcher dispatcher)
    {
        if (client.Sasl is not { } server) return null;
        var step = Evaluate(client, server, token, dispatcher, out _);
        if (step.Outcome == SaslOutcome.Failed) return null;
        var frame = ResponseFrame.Rent();
        var w = frame.Writer;
        int start = w.BeginSizePrefix();
        w.WriteRaw(step.Challenge);
        w.EndSizePrefix(start);
        return frame;
    }

    /// <summary>One step, with its effect on the connection: authenticated, re-authenticated, or failed (and closing).</summary>
    private static SaslStep Evaluate(ClientContext client, SaslServer server, ReadOnlySpan<byte> bytes, RequestDispatcher dispatcher, out long lifetimeMs)
    {
        lifetimeMs = 0;
        SaslStep step;
        try { step = server.Evaluate(bytes); }
        catch (Exception ex)
        {
            // A mechanism's bug must not take the broker down: the client fails like any other.
            dispatcher.Log.LogError(ex, "SASL {Mechanism} exchange with {Remote} failed unexpectedly", server.Mechanism, client.Remote);
            step = SaslStep.Fail($"Authentication failed during authentication due to invalid credentials with SASL mechanism {server.Mechanism}");
        }
        if (step.Outcome == SaslOutcome.Complete)
        {
            string principal = "User:" + server.User;
            if (client.Authenticated && principal != client.Principal)
                step = SaslStep.Fail($"Cannot change principals during re-authentication from {client.Principal}: {principal}");
            else
                lifetimeMs = Succeeded(client, server, principal, dispatcher);
        }
        if (step.Outcome == SaslOutcome.Failed) Failed(client, server, step.Error!, dispatcher);
        return step;
    }

    private static long Succeeded(ClientContext client, SaslServer server, string principal, RequestDispatcher dispatcher)
    {
        bool again = client.Authenticated;
        long lifetimeMs = dispatcher.Sasl?.SessionLifetimeFor(server.CredentialExpiresAtMs, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()) ?? 0;
        client.SessionExpiresAt = lifetimeMs > 0 ? Math.Max(1, Environment.TickCount64 + lifetimeMs) : 0;
        if (!again) client.Principal = principal;
        client.Authenticated = true;
        client.Sasl = null;
        client.SaslRawTokens = false;
        dispatcher.Metrics.SaslAuthentication(client.Listener, server.Mechanism, again ? "reauthentication" : "success");
        dispatcher.Log.LogDebug("{Remote} on listener {Listener} {Verb} as {Principal} with {Mechanism}; session lifetime {Lifetime} ms (0: no end)",
            client.Remote, client.Listener, again ? "re-authenticated" : "authenticated", client.Principal, server.Mechanism, lifetimeMs);
        return lifetimeMs;
    }

    private static void Failed(ClientContext client, SaslServer server, string error, RequestDispatcher dispatcher)
    {
        client.Sasl = null;
        client.CloseAfterResponse = true;
        dispatcher.Metrics.SaslAuthentication(client.Listener, server.Mechanism, "failure");
        // The client's message may be Kafka's generic one; the log gets the reason (never the token).
        string reason = server is OAuthBearerSaslServer { Reason: { } r } && !error.Contains(r, StringComparison.Ordinal) ? $"{error} ({r})" : error;
        dispatcher.Log.LogInformation("SASL {Phase} of user {User} from {Remote} on listener {Listener} with {Mechanism} failed: {Error}; closing the connection",
            client.Authenticated ? "re-authentication" : "authentication", server.User ?? "(none given)", client.Remote, client.Listener, server.Mechanism, reason);
    }

    protected override SaslAuthenticateResponse ErrorResponse(SaslAuthenticateRequest request, short errorCode) => new() { ErrorCode = errorCode };
}
