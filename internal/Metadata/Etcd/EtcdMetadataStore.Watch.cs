using System.Runtime.CompilerServices;
using Pb = KafScale.Metadata.Etcd.Protocol;

namespace KafScale.Metadata.Etcd;

public sealed partial class EtcdMetadataStore
{
    private const string Watch = "/etcdserverpb.Watch/Watch";
    private static readonly TimeSpan FirstReconnectDelay = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// One Watch stream per call. When the stream breaks (etcd restarted, endpoint lost), it is
    /// re-created on the next endpoint from the revision after the last one delivered (or after
    /// the last progress notification), so no event is lost or repeated. Ends with a
    /// <see cref="CompactedRevisionException"/> when etcd has compacted the revision it needs.
    /// fromRevision 0 means from the moment the watch is created on the server, which happens on
    /// the first MoveNextAsync.
    /// </summary>
    public IAsyncEnumerable<WatchEvent> WatchAsync(string prefix, long fromRevision, CancellationToken cancellationToken)
    {
        KeyEncoding.ValidatePrefix(prefix);
        ArgumentOutOfRangeException.ThrowIfNegative(fromRevision);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return WatchCoreAsync(prefix, fromRevision, cancellationToken);
    }

    private async IAsyncEnumerable<WatchEvent> WatchCoreAsync(string prefix, long fromRevision, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposing.Token);
        CancellationToken token = linked.Token;
        (byte[] key, ReadOnlyMemory<byte> rangeEnd) = EtcdKeys.Prefix(prefix);
        long next = fromRevision;
        TimeSpan delay = FirstReconnectDelay;
        var batch = new List<WatchEvent>();

        while (true)
        {
            ThrowIfStopped(cancellationToken);
            Uri endpoint = _channel.Preferred;
            (GrpcDuplexCall? call, string? authToken, Exception? failure) = await OpenWatchAsync(endpoint, key, rangeEnd, next, token, cancellationToken).ConfigureAwait(false);
            if (call is not null)
            {
                await using (call.ConfigureAwait(false))
                {
                    while (true)
                    {
                        (Pb.WatchResponse? response, failure) = await NextWatchResponseAsync(call, token, cancellationToken).ConfigureAwait(false);
                        if (response is null) break;

                        if (response.Canceled)
                        {
                            if (response.CompactRevision > 0)
                                throw new CompactedRevisionException(next, response.CompactRevision - 1, $"etcd compacted its history at revision {response.CompactRevision}");
                            if (response.CancelReason.Contains("auth", StringComparison.OrdinalIgnoreCase)
                                || response.CancelReason.Contains("token", StringComparison.OrdinalIgnoreCase))
                            {
                                _channel.InvalidateToken(authToken);
                                failure = new MetadataStoreException($"etcd cancelled the watch: {response.CancelReason}");
                                break;
                            }
                            throw new MetadataStoreException($"etcd cancelled the watch of '{prefix}': {response.CancelReason}");
                        }
                        if (response.Created)
                        {
                            // From here on the server will deliver everything after its revision at creation.
                            if (next == 0) next = Revision(response.Header) + 1;
                            delay = FirstReconnectDelay;
                        }
                        if (response.Events.Count == 0)
                        {
                            // A progress notification: nothing up to this revision is left to deliver.
                            if (!response.Created && next != 0) next = Math.Max(next, Revision(response.Header) + 1);
                            continue;
                        }

                        foreach (Pb.Event e in response.Events)
                        {
                            var type = e.Type == Pb.EventType.Delete ? WatchEventType.Delete : WatchEventType.Put;
                            Pb.KeyValue kv = e.Kv ?? throw new MetadataStoreException("etcd sent a watch event without its key-value.");
                            batch.Add(new WatchEvent(type, EtcdKeys.ToKeyValue(kv)));
                        }
                        // A response holds whole revisions (we never ask for fragments), so resuming after
                        // its last revision neither repeats nor skips an event.
                        next = batch[^1].Kv.ModRevision + 1;
                        foreach (WatchEvent e in batch) yield return e;
                        batch.Clear();
                    }
                }
            }

            ThrowIfStopped(cancellationToken);
            if (failure is EtcdRpcException fatal && IsFatalForWatch(fatal))
                throw MapError(fatal, 0, _channel.EndpointList, _channel.HasCredentials);
            _channel.ReportFailure(endpoint);
            try
            {
                await Task.Delay(delay, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                ThrowIfStopped(cancellationToken);
                throw;
            }
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.MaxReconnectDelay.Ticks));
        }
    }

    private async Task<(GrpcDuplexCall? Call, string? Token, Exception? Failure)> OpenWatchAsync(
        Uri endpoint, byte[] key, ReadOnlyMemory<byte> rangeEnd, long startRevision, CancellationToken token, CancellationToken callerToken)
    {
        GrpcDuplexCall? call = null;
        string? authToken = null;
        try
        {
            authToken = await _channel.EnsureTokenAsync(token).ConfigureAwait(false);
            call = _channel.StartDuplex(endpoint, Watch, authToken, token);
            var create = new Pb.WatchCreateRequest { Key = key, RangeEnd = rangeEnd, StartRevision = startRevision, ProgressNotify = true };
            await call.WriteAsync(new Pb.WatchRequest { CreateRequest = create }, token).ConfigureAwait(false);
            return (call, authToken, null);
        }
        catch (Exception ex) when (!token.IsCancellationRequested && IsRecoverable(ex))
        {
            if (call is not null) await call.DisposeAsync().ConfigureAwait(false);
            if (ex is EtcdRpcException { IsTokenProblem: true }) _channel.InvalidateToken(authToken);
            return (null, authToken, ex);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            if (call is not null) await call.DisposeAsync().ConfigureAwait(false);
            ThrowIfStopped(callerToken);
            throw;
        }
    }

    private async Task<(Pb.WatchResponse? Response, Exception? Failure)> NextWatchResponseAsync(GrpcDuplexCall call, CancellationToken token, CancellationToken callerToken)
    {
        try
        {
            byte[]? message = await call.ReadAsync(token).ConfigureAwait(false);
            return message is null
                ? (null, new IOException($"etcd at {call.Endpoint} ended the watch stream."))
                : (Pb.ProtoMessage.Parse<Pb.WatchResponse>(message), null);
        }
        catch (Exception ex) when (!token.IsCancellationRequested && IsRecoverable(ex))
        {
            return (null, ex);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            ThrowIfStopped(callerToken); // disposing the store ends the watch with ObjectDisposedException
            throw;
        }
    }

    private static bool IsRecoverable(Exception ex) =>
        // IOException includes a message that is not valid protobuf (Protocol.InvalidProtobufException).
        ex is EtcdRpcException or IOException or HttpRequestException or TimeoutException
            or MetadataStoreUnavailableException or OperationCanceledException;

    /// <summary>Errors that a reconnect cannot cure; everything else is retried until cancelled.</summary>
    private static bool IsFatalForWatch(EtcdRpcException ex) =>
        !ex.IsTokenProblem && ex.Status is GrpcStatusCode.PermissionDenied or GrpcStatusCode.InvalidArgument
            or GrpcStatusCode.Unimplemented or GrpcStatusCode.FailedPrecondition or GrpcStatusCode.OutOfRange;

    private void ThrowIfStopped(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (_disposing.IsCancellationRequested) throw new ObjectDisposedException(nameof(EtcdMetadataStore));
    }
}
