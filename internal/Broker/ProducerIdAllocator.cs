using System.Globalization;
using System.Text;
using KafScale.Metadata;

namespace KafScale.Broker;

/// <summary>
/// Hands out producer ids for InitProducerId from blocks reserved in the metadata store, so
/// ids stay unique across brokers and restarts while costing one store write per block.
/// </summary>
internal sealed class ProducerIdAllocator(IMetadataStore metadata, int blockSize = 1000)
{
    public const string Key = "/kafscale/producer_ids/next_block";
    private readonly SemaphoreSlim _lock = new(1, 1);
    private long _next;
    private long _end;

    public async Task<long> NextAsync(CancellationToken ct)
    {
        await _lock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_next >= _end) await ReserveBlockAsync(ct).ConfigureAwait(false);
            return _next++;
        }
        finally { _lock.Release(); }
    }

    private async Task ReserveBlockAsync(CancellationToken ct)
    {
        for (int attempt = 0; attempt < 100; attempt++)
        {
            var current = await metadata.GetAsync(Key, ct).ConfigureAwait(false);
            long start = current is null ? 0 : long.Parse(Encoding.ASCII.GetString(current.Value), CultureInfo.InvariantCulture);
            long end = start + blockSize;
            var compare = current is null ? Compare.KeyMissing(Key) : Compare.ModRevisionEquals(Key, current.ModRevision);
            var result = await metadata.TxnAsync(new TxnRequest([compare], [TxnOp.Put(Key, Encoding.ASCII.GetBytes(end.ToString(CultureInfo.InvariantCulture)))], []), ct).ConfigureAwait(false);
            if (result.Succeeded)
            {
                _next = start;
                _end = end;
                return;
            }
        }
        throw new InvalidOperationException("could not reserve a block of producer ids: the metadata store kept changing under us");
    }
}
