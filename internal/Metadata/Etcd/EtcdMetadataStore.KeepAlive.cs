using Pb = KafScale.Metadata.Etcd.Protocol;

namespace KafScale.Metadata.Etcd;

public sealed partial class EtcdMetadataStore
{
    private const string LeaseKeepAlive = "/etcdserverpb.Lease/LeaseKeepAlive";

    /// <summary>
    /// One LeaseKeepAlive stream shared by every KeepAliveAsync. etcd answers each request on the
    /// stream in order, so answers are matched to waiting callers per lease id, first in first out.
    /// A broken stream fails its waiters and is re-opened (on the next endpoint) by the next call.
    /// </summary>
    private sealed class LeaseKeepAliveStream(EtcdMetadataStore store) : IAsyncDisposable
    {
        private readonly SemaphoreSlim _openLock = new(1, 1);
        private readonly object _lock = new();
        private readonly Dictionary<long, Queue<TaskCompletionSource<long>>> _waiters = [];
        private GrpcDuplexCall? _call;
        private string? _callToken;

        private EtcdGrpcChannel Channel => store._channel;

        public async Task<TimeSpan?> KeepAliveAsync(long leaseId, CancellationToken cancellationToken)
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, store._disposing.Token);
            CancellationToken token = linked.Token;
            Exception? last = null;
            // Each endpoint once, plus one more for a stream that had silently died before this call.
            for (int attempt = 0; attempt <= Channel.EndpointCount; attempt++)
            {
                GrpcDuplexCall? call = null;
                var waiter = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
                bool sent = false;
                try
                {
                    call = await EnsureCallAsync(token).ConfigureAwait(false);
                    lock (_lock)
                    {
                        if (!_waiters.TryGetValue(leaseId, out Queue<TaskCompletionSource<long>>? queue))
                            _waiters[leaseId] = queue = new Queue<TaskCompletionSource<long>>();
                        queue.Enqueue(waiter);
                    }
                    await call.WriteAsync(new Pb.LeaseKeepAliveRequest { ID = leaseId }, token).ConfigureAwait(false);
                    sent = true;
                    long ttl = await waiter.Task.WaitAsync(Channel.RequestTimeout, token).ConfigureAwait(false);
                    // etcd answers TTL 0 (or less) for a lease it does not know: expired or revoked.
                    return ttl > 0 ? TimeSpan.FromSeconds(ttl) : null;
                }
                catch (Exception ex) when (!token.IsCancellationRequested && IsRecoverable(ex))
                {
                    last = ex;
                    Forget(leaseId, waiter);
                    if (call is not null) Break(call, ex);
                    if (ex is EtcdRpcException { IsTokenProblem: true }) Channel.InvalidateToken(_callToken);
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
            if (last is EtcdRpcException rpc && !EtcdGrpcChannel.IsTransient(rpc) && !rpc.IsTokenProblem)
                throw MapError(rpc, leaseId, Channel.EndpointList, Channel.HasCredentials);
            throw Channel.Unreachable(last);
        }

        private async Task<GrpcDuplexCall> EnsureCallAsync(CancellationToken token)
        {
            await _openLock.WaitAsync(token).ConfigureAwait(false);
            try
            {
                if (_call is { } existing) return existing;
                Uri endpoint = Channel.Preferred;
                string? authToken = await Channel.EnsureTokenAsync(token).ConfigureAwait(false);
                // The stream outlives the call that opened it: only disposing the store ends it.
                GrpcDuplexCall call = Channel.StartDuplex(endpoint, LeaseKeepAlive, authToken, store._disposing.Token);
                lock (_lock)
                {
                    _call = call;
                    _callToken = authToken;
                }
                _ = Task.Run(() => ReadLoopAsync(call, endpoint));
                return call;
            }
            finally
            {
                _openLock.Release();
            }
        }

        private async Task ReadLoopAsync(GrpcDuplexCall call, Uri endpoint)
        {
            try
            {
                while (true)
                {
                    byte[]? message = await call.ReadAsync(store._disposing.Token).ConfigureAwait(false);
                    if (message is null) throw new IOException($"etcd at {call.Endpoint} ended the lease keep-alive stream.");
                    Pb.LeaseKeepAliveResponse response = Pb.ProtoMessage.Parse<Pb.LeaseKeepAliveResponse>(message);
                    TaskCompletionSource<long>? waiter = null;
                    lock (_lock)
                    {
                        if (_waiters.TryGetValue(response.ID, out Queue<TaskCompletionSource<long>>? queue) && queue.TryDequeue(out waiter) && queue.Count == 0)
                            _waiters.Remove(response.ID);
                    }
                    waiter?.TrySetResult(response.TTL);
                }
            }
            catch (Exception ex)
            {
                if (!store._disposing.IsCancellationRequested) Channel.ReportFailure(endpoint);
                Break(call, ex);
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
        private void Break(GrpcDuplexCall call, Exception cause)
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
            _ = call.DisposeAsync().AsTask();
        }

        public async ValueTask DisposeAsync()
        {
            GrpcDuplexCall? call;
            lock (_lock) call = _call;
            if (call is not null)
            {
                Break(call, new ObjectDisposedException(nameof(EtcdMetadataStore)));
                await call.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
