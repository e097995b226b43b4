using Grpc.Core;
using EtcdPb = Etcdserverpb;

namespace KafScale.Metadata.Etcd;

public sealed partial class EtcdMetadataStore
{
    /// <summary>
    /// One LeaseKeepAlive stream (the generated Lease client's duplex call) shared by every
    /// KeepAliveAsync. Each call writes one request and waits for the answer to THAT request: etcd
    /// answers the requests on a stream in order, so answers are matched to waiting callers per
    /// lease id, first in first out, and a request whose caller gave up keeps its place until its
    /// answer arrives. So an answer always confirms a request sent after its caller started, which
    /// is what the broker's lease deadline (its send time + TTL) relies on. Nothing here sends a
    /// keep-alive on its own or repeats one later: the caller decides when a keep-alive goes out.
    /// A broken stream fails its waiters and is re-opened (on the next endpoint) by the next call.
    /// </summary>
    private sealed class LeaseKeepAliveStream(EtcdMetadataStore store) : IAsyncDisposable
    {
        private readonly SemaphoreSlim _openLock = new(1, 1);
        private readonly object _lock = new();
        private readonly Dictionary<long, Queue<TaskCompletionSource<long>>> _waiters = [];
        private KeepAliveCall? _call;

        private EtcdConnection Connection => store._connection;

        /// <summary>An open stream: gRPC allows one write at a time on it.</summary>
        private sealed class KeepAliveCall(AsyncDuplexStreamingCall<EtcdPb.LeaseKeepAliveRequest, EtcdPb.LeaseKeepAliveResponse> call, EtcdEndpoint endpoint, string? token)
        {
            public readonly AsyncDuplexStreamingCall<EtcdPb.LeaseKeepAliveRequest, EtcdPb.LeaseKeepAliveResponse> Call = call;
            public readonly EtcdEndpoint Endpoint = endpoint;
            public readonly string? Token = token;
            public readonly SemaphoreSlim WriteLock = new(1, 1);
        }

        public async Task<TimeSpan?> KeepAliveAsync(long leaseId, CancellationToken cancellationToken)
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, store._disposing.Token);
            CancellationToken token = linked.Token;
            Exception? last = null;
            // Each endpoint once, plus one more for a stream that had silently died before this call.
            for (int attempt = 0; attempt <= Connection.EndpointCount; attempt++)
            {
                KeepAliveCall? call = null;
                var waiter = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
                bool sent = false;
                try
                {
                    call = await EnsureCallAsync(token).ConfigureAwait(false);
                    await call.WriteLock.WaitAsync(token).ConfigureAwait(false);
                    try
                    {
                        // Queued under the write lock, so the queue order is the order on the wire.
                        lock (_lock)
                        {
                            if (!_waiters.TryGetValue(leaseId, out Queue<TaskCompletionSource<long>>? queue))
                                _waiters[leaseId] = queue = new Queue<TaskCompletionSource<long>>();
                            queue.Enqueue(waiter);
                        }
                        // Not cancellable half way: a cancelled write could leave the request on the wire unanswered in our books.
                        await call.Call.RequestStream.WriteAsync(new EtcdPb.LeaseKeepAliveRequest { ID = leaseId }, CancellationToken.None)
                            .WaitAsync(Connection.RequestTimeout, CancellationToken.None).ConfigureAwait(false);
                        sent = true;
                    }
                    finally
                    {
                        call.WriteLock.Release();
                    }
                    long ttl = await waiter.Task.WaitAsync(Connection.RequestTimeout, token).ConfigureAwait(false);
                    // etcd answers TTL 0 (or less) for a lease it does not know: expired or revoked.
                    return ttl > 0 ? TimeSpan.FromSeconds(ttl) : null;
                }
                catch (Exception ex) when (!token.IsCancellationRequested && IsRecoverable(ex))
                {
                    Exception failure = ex is RpcException rpc ? EtcdRpcException.From(rpc, call?.Endpoint.Authority ?? Connection.Preferred.Authority) : ex;
                    last = failure;
                    Forget(leaseId, waiter);
                    if (call is not null) Break(call, failure);
                    if (failure is EtcdRpcException { IsTokenProblem: true }) Connection.InvalidateToken(call?.Token);
                }
                catch (OperationCanceledException)
                {
                    // A request that went out keeps its place in the queue: its answer is still coming.
                    if (!sent) Forget(leaseId, waiter);
                    if (store._disposing.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                        throw new ObjectDisposedException(nameof(EtcdMetadataStore));
                    throw;
                }
            }
            if (last is EtcdRpcException error && !EtcdConnection.IsTransient(error) && !error.IsTokenProblem)
                throw MapError(error, leaseId, Connection.EndpointList, Connection.HasCredentials);
            throw Connection.Unreachable(last);
        }

        private async Task<KeepAliveCall> EnsureCallAsync(CancellationToken token)
        {
            await _openLock.WaitAsync(token).ConfigureAwait(false);
            try
            {
                if (_call is { } existing) return existing;
                EtcdEndpoint endpoint = Connection.Preferred;
                string? authToken = await Connection.EnsureTokenAsync(token).ConfigureAwait(false);
                // The stream outlives the call that opened it: only disposing the store ends it.
                var call = new KeepAliveCall(endpoint.Lease.LeaseKeepAlive(EtcdConnection.StreamOptions(authToken, store._disposing.Token)), endpoint, authToken);
                lock (_lock) _call = call;
                _ = Task.Run(() => ReadLoopAsync(call), CancellationToken.None);
                return call;
            }
            finally
            {
                _openLock.Release();
            }
        }

        private async Task ReadLoopAsync(KeepAliveCall call)
        {
            try
            {
                IAsyncStreamReader<EtcdPb.LeaseKeepAliveResponse> responses = call.Call.ResponseStream;
                while (await responses.MoveNext(store._disposing.Token).ConfigureAwait(false))
                {
                    EtcdPb.LeaseKeepAliveResponse response = responses.Current;
                    TaskCompletionSource<long>? waiter = null;
                    lock (_lock)
                    {
                        if (_waiters.TryGetValue(response.ID, out Queue<TaskCompletionSource<long>>? queue) && queue.TryDequeue(out waiter) && queue.Count == 0)
                            _waiters.Remove(response.ID);
                    }
                    waiter?.TrySetResult(response.TTL);
                }
                throw new IOException($"etcd at {call.Endpoint.Authority} ended the lease keep-alive stream.");
            }
            catch (Exception ex)
            {
                if (!store._disposing.IsCancellationRequested) Connection.ReportFailure(call.Endpoint);
                Break(call, ex is RpcException rpc ? EtcdRpcException.From(rpc, call.Endpoint.Authority) : ex);
            }
        }

        /// <summary>Takes a caller's place out of the queue when its request never went out.</summary>
        private void Forget(long leaseId, TaskCompletionSource<long> waiter)
        {
            lock (_lock)
            {
                if (!_waiters.TryGetValue(leaseId, out Queue<TaskCompletionSource<long>>? queue)) return;
                var kept = new Queue<TaskCompletionSource<long>>(queue.Where(w => !ReferenceEquals(w, waiter)));
                if (kept.Count == 0) _waiters.Remove(leaseId); else _waiters[leaseId] = kept;
            }
        }

        /// <summary>Forgets a failed stream and fails everyone waiting on it.</summary>
        private void Break(KeepAliveCall call, Exception cause)
        {
            List<TaskCompletionSource<long>> orphans = [];
            lock (_lock)
            {
                if (!ReferenceEquals(_call, call)) return;
                _call = null;
                foreach (Queue<TaskCompletionSource<long>> queue in _waiters.Values) orphans.AddRange(queue);
                _waiters.Clear();
            }
            foreach (TaskCompletionSource<long> orphan in orphans) orphan.TrySetException(cause);
            call.Call.Dispose();
        }

        public ValueTask DisposeAsync()
        {
            KeepAliveCall? call;
            lock (_lock) call = _call;
            if (call is not null) Break(call, new ObjectDisposedException(nameof(EtcdMetadataStore)));
            return ValueTask.CompletedTask;
        }
    }
}
