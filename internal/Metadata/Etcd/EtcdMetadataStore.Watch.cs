using System.Runtime.CompilerServices;
using Google.Protobuf;
using Grpc.Core;
using Mvcc = Mvccpb;
using EtcdPb = Etcdserverpb;
using WatchCall = Grpc.Core.AsyncDuplexStreamingCall<Etcdserverpb.WatchRequest, Etcdserverpb.WatchResponse>;

namespace KafScale.Metadata.Etcd;

public sealed partial class EtcdMetadataStore
{
    private static readonly TimeSpan FirstReconnectDelay = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// One Watch stream (the generated Watch client's duplex call) per call. When the stream
    /// breaks (etcd restarted, endpoint lost), it is re-created on the next endpoint from the
    /// revision after the last one delivered (or after the last progress notification), so no
    /// event is lost or repeated. Ends with a
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
        (ByteString key, ByteString rangeEnd) = EtcdKeys.Prefix(prefix);
        long next = fromRevision;
        TimeSpan delay = FirstReconnectDelay;
        var batch = new List<WatchEvent>();

        while (true)
        {
            ThrowIfStopped(cancellationToken);
            EtcdEndpoint endpoint = _connection.Preferred;
            (WatchCall? call, string? authToken, Exception? failure) = await OpenWatchAsync(endpoint, key, rangeEnd, next, token, cancellationToken).ConfigureAwait(false);
            if (call is not null)
            {
                using (call)
                {
                    while (true)
                    {
                        (EtcdPb.WatchResponse? response, failure) = await NextWatchResponseAsync(call, endpoint, token, cancellationToken).ConfigureAwait(false);
                        if (response is null) break;

                        if (response.Canceled)
                        {
                            if (response.CompactRevision > 0)
                                throw new CompactedRevisionException(next, response.CompactRevision - 1, $"etcd compacted its history at revision {response.CompactRevision}");
                            if (response.CancelReason.Contains("auth", StringComparison.OrdinalIgnoreCase)
                                || response.CancelReason.Contains("token", StringComparison.OrdinalIgnoreCase))
                            {
                                _connection.InvalidateToken(authToken);
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

                        foreach (Mvcc.Event e in response.Events)
                        {
                            var type = e.Type == Mvcc.Event.Types.EventType.Delete ? WatchEventType.Delete : WatchEventType.Put;
                            Mvcc.KeyValue kv = e.Kv ?? throw new MetadataStoreException("etcd sent a watch event without its key-value.");
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
                throw MapError(fatal, 0, _connection.EndpointList, _connection.HasCredentials);
            _connection.ReportFailure(endpoint);
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

    private async Task<(WatchCall? Call, string? Token, Exception? Failure)> OpenWatchAsync(
        EtcdEndpoint endpoint, ByteString key, ByteString rangeEnd, long startRevision, CancellationToken token, CancellationToken callerToken)
    {
        WatchCall? call = null;
        string? authToken = null;
        try
        {
            authToken = await _connection.EnsureTokenAsync(token).ConfigureAwait(false);
            call = endpoint.Watch.Watch(EtcdConnection.StreamOptions(authToken, token));
            var create = new EtcdPb.WatchCreateRequest { Key = key, RangeEnd = rangeEnd, StartRevision = startRevision, ProgressNotify = true };
            await call.RequestStream.WriteAsync(new EtcdPb.WatchRequest { CreateRequest = create }, token).ConfigureAwait(false);
            return (call, authToken, null);
        }
        catch (Exception ex) when (!token.IsCancellationRequested && IsRecoverable(ex))
        {
            call?.Dispose();
            Exception failure = ex is RpcException rpc ? EtcdRpcException.From(rpc, endpoint.Authority) : ex;
            if (failure is EtcdRpcException { IsTokenProblem: true }) _connection.InvalidateToken(authToken);
            return (null, authToken, failure);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            call?.Dispose();
            ThrowIfStopped(callerToken);
            throw;
        }
    }

    private async Task<(EtcdPb.WatchResponse? Response, Exception? Failure)> NextWatchResponseAsync(WatchCall call, EtcdEndpoint endpoint,
        CancellationToken token, CancellationToken callerToken)
    {
        try
        {
            return await call.ResponseStream.MoveNext(token).ConfigureAwait(false)
                ? (call.ResponseStream.Current, null)
                : (null, new IOException($"etcd at {endpoint.Authority} ended the watch stream."));
        }
        catch (RpcException ex) when (!token.IsCancellationRequested)
        {
            return (null, EtcdRpcException.From(ex, endpoint.Authority));
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
        // Grpc.Net.Client reports a message that is not valid protobuf as an RpcException too;
        // InvalidOperationException (ObjectDisposedException among them) is a write on a stream that just broke.
        ex is RpcException or EtcdRpcException or IOException or HttpRequestException or TimeoutException
            or MetadataStoreUnavailableException or OperationCanceledException or InvalidOperationException;

    /// <summary>Errors that a reconnect cannot cure; everything else is retried until cancelled.</summary>
    private static bool IsFatalForWatch(EtcdRpcException ex) =>
        !ex.IsTokenProblem && ex.Status is StatusCode.PermissionDenied or StatusCode.InvalidArgument
            or StatusCode.Unimplemented or StatusCode.FailedPrecondition or StatusCode.OutOfRange;

    private void ThrowIfStopped(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (_disposing.IsCancellationRequested) throw new ObjectDisposedException(nameof(EtcdMetadataStore));
    }
}
