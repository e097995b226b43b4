using Google.Protobuf;
using Grpc.Core;
using EtcdPb = Etcdserverpb;

namespace KafScale.Metadata.Etcd;

/// <summary>What <see cref="EtcdMetadataStore.StreamSnapshotAsync"/> wrote.</summary>
/// <param name="Bytes">Bytes of the database file.</param>
/// <param name="Revision">The store revision in the first response's header.</param>
public sealed record EtcdNativeSnapshot(long Bytes, long Revision);

public sealed partial class EtcdMetadataStore
{
    /// <summary>
    /// Every key under prefix at ONE revision, read in pages of pageSize keys: the first page at
    /// the current revision, the following ones pinned to that revision, so the result is a
    /// consistent cut even while brokers write. If etcd compacts that revision away between pages
    /// the read starts over (up to three times).
    /// </summary>
    public async Task<RangeResult> GetPrefixAtOneRevisionAsync(string prefix, int pageSize, CancellationToken cancellationToken)
    {
        KeyEncoding.ValidatePrefix(prefix);
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return await ReadPagesAsync(prefix, pageSize, cancellationToken).ConfigureAwait(false);
            }
            catch (MetadataStoreException ex) when (attempt < 3 && ex.Message.Contains("compacted", StringComparison.Ordinal))
            {
                // The pinned revision was compacted between two pages: read again at a newer one.
            }
        }
    }

    private async Task<RangeResult> ReadPagesAsync(string prefix, int pageSize, CancellationToken cancellationToken)
    {
        (ByteString start, ByteString end) = EtcdKeys.Prefix(prefix);
        var result = new List<KeyValue>();
        long revision = 0;
        ByteString from = start;
        while (true)
        {
            var request = new EtcdPb.RangeRequest { Key = from, RangeEnd = end, Limit = pageSize, Revision = revision };
            EtcdPb.RangeResponse response = await CallAsync((e, o) => e.Kv.RangeAsync(request, o), repeatable: true, 0, cancellationToken).ConfigureAwait(false);
            if (revision == 0) revision = Revision(response.Header);
            foreach (Mvccpb.KeyValue kv in response.Kvs) result.Add(EtcdKeys.ToKeyValue(kv));
            if (!response.More || response.Kvs.Count == 0) break;
            // The next page starts just after the last key: the key with a zero byte appended.
            ReadOnlySpan<byte> lastKey = response.Kvs[^1].Key.Span;
            var next = new byte[lastKey.Length + 1];
            lastKey.CopyTo(next);
            from = UnsafeByteOperations.UnsafeWrap(next);
        }
        return new RangeResult(result, revision);
    }

    /// <summary>
    /// Streams etcd's own backend database (Maintenance/Snapshot, server streaming) into
    /// destination: the file <c>etcdutl snapshot restore</c> (<c>etcdctl snapshot restore</c> in
    /// etcd 3.4) and <c>snapshot status</c> take. It covers the whole etcd keyspace, not only
    /// KafScale's keys. Fails when the stream ends short of what etcd announced.
    /// </summary>
    public async Task<EtcdNativeSnapshot> StreamSnapshotAsync(Stream destination, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposing.Token);
        (long written, long revision, ulong remaining) = await ReceiveSnapshotAsync(destination, linked.Token).ConfigureAwait(false);
        if (written == 0 || remaining != 0)
            throw new MetadataStoreUnavailableException($"etcd at {_connection.EndpointList} ended its snapshot stream early ({written} bytes received).");
        await destination.FlushAsync(cancellationToken).ConfigureAwait(false);
        return new EtcdNativeSnapshot(written, revision);
    }

    /// <summary>
    /// The server-streaming call itself. No deadline for the whole call (a large database takes as
    /// long as it takes); each message must arrive within the request timeout of the previous one.
    /// Moves to the next endpoint only while nothing has been received (the call never left this process).
    /// </summary>
    private async Task<(long Written, long Revision, ulong Remaining)> ReceiveSnapshotAsync(Stream destination, CancellationToken cancellationToken)
    {
        Exception? last = null;
        for (int attempt = 0; attempt < _connection.EndpointCount; attempt++)
        {
            EtcdEndpoint endpoint = _connection.Preferred;
            string? token = await _connection.EnsureTokenAsync(cancellationToken).ConfigureAwait(false);
            long written = 0;
            long revision = 0;
            ulong remaining = ulong.MaxValue;
            try
            {
                using AsyncServerStreamingCall<EtcdPb.SnapshotResponse> call =
                    endpoint.Maintenance.Snapshot(new EtcdPb.SnapshotRequest(), EtcdConnection.StreamOptions(token, cancellationToken));
                while (true)
                {
                    using (var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
                    {
                        idle.CancelAfter(_connection.RequestTimeout);
                        try
                        {
                            if (!await call.ResponseStream.MoveNext(idle.Token).ConfigureAwait(false)) break;
                        }
                        catch (Exception e) when (e is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled }
                            && idle.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                        {
                            throw new MetadataStoreUnavailableException(
                                $"etcd at {endpoint.Authority} stopped sending its snapshot for {_connection.RequestTimeout.TotalSeconds:0.#} s.");
                        }
                    }
                    EtcdPb.SnapshotResponse chunk = call.ResponseStream.Current;
                    if (revision == 0 && chunk.Header is { } header) revision = header.Revision;
                    await destination.WriteAsync(chunk.Blob.Memory, cancellationToken).ConfigureAwait(false);
                    written += chunk.Blob.Length;
                    remaining = chunk.RemainingBytes;
                }
                return (written, revision, remaining);
            }
            catch (RpcException ex)
            {
                var failure = EtcdRpcException.From(ex, endpoint.Authority);
                if (written > 0 || !failure.NeverSent) throw MapError(failure, 0, _connection.EndpointList, _connection.HasCredentials);
                last = failure;
                _connection.ReportFailure(endpoint);
            }
        }
        throw _connection.Unreachable(last);
    }
}
