using Pb = KafScale.Metadata.Etcd.Protocol;

namespace KafScale.Metadata.Etcd;

/// <summary>What <see cref="EtcdMetadataStore.StreamSnapshotAsync"/> wrote.</summary>
/// <param name="Bytes">Bytes of the database file.</param>
/// <param name="Revision">The store revision in the first response's header.</param>
public sealed record EtcdNativeSnapshot(long Bytes, long Revision);

public sealed partial class EtcdMetadataStore
{
    private const string MaintenanceSnapshot = "/etcdserverpb.Maintenance/Snapshot";

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
        (byte[] start, ReadOnlyMemory<byte> end) = EtcdKeys.Prefix(prefix);
        var result = new List<KeyValue>();
        long revision = 0;
        ReadOnlyMemory<byte> from = start;
        while (true)
        {
            var request = new Pb.RangeRequest { Key = from, RangeEnd = end, Limit = pageSize, Revision = revision };
            Pb.RangeResponse response = await CallAsync<Pb.RangeResponse>(Range, request, repeatable: true, 0, cancellationToken).ConfigureAwait(false);
            if (revision == 0) revision = Revision(response.Header);
            foreach (Pb.KeyValue kv in response.Kvs) result.Add(EtcdKeys.ToKeyValue(kv));
            if (!response.More || response.Kvs.Count == 0) break;
            // The next page starts just after the last key: the key with a zero byte appended.
            ReadOnlySpan<byte> lastKey = response.Kvs[^1].Key.Span;
            var next = new byte[lastKey.Length + 1];
            lastKey.CopyTo(next);
            from = next;
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
        long written = 0;
        long revision = 0;
        ulong remaining = ulong.MaxValue;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposing.Token);
        try
        {
            await _channel.ServerStreamAsync(MaintenanceSnapshot, new Pb.SnapshotRequest(), async (message, ct) =>
            {
                Pb.SnapshotResponse chunk = Pb.ProtoMessage.Parse<Pb.SnapshotResponse>(message);
                if (revision == 0 && chunk.Header is { } header) revision = header.Revision;
                await destination.WriteAsync(chunk.Blob, ct).ConfigureAwait(false);
                written += chunk.Blob.Length;
                remaining = chunk.RemainingBytes;
            }, linked.Token).ConfigureAwait(false);
        }
        catch (EtcdRpcException ex)
        {
            throw MapError(ex, 0, _channel.EndpointList, _channel.HasCredentials);
        }
        if (written == 0 || remaining != 0)
            throw new MetadataStoreUnavailableException($"etcd at {_channel.EndpointList} ended its snapshot stream early ({written} bytes received).");
        await destination.FlushAsync(cancellationToken).ConfigureAwait(false);
        return new EtcdNativeSnapshot(written, revision);
    }
}
