using BenchmarkDotNet.Attributes;
using KafScale.Records;
using KafScale.Storage;

namespace KafScale.Benchmarks;

/// <summary>
/// The per-partition work of a Produce before its append: validating a partition blob (lengths,
/// magic, CRC-32C, record framing) and patching offsets. Both must allocate nothing.
/// </summary>
[MemoryDiagnoser]
public class RecordBatchBenchmarks
{
    private byte[] _blob = [];
    private byte[] _copy = [];
    private ReadOnlyMemory<byte>[] _segmentBatches = [];

    [Params(1, 16)]
    public int RecordKiB { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        // 16 KiB of 1 KiB records per batch, two batches per blob: a typical librdkafka blob.
        var value = new byte[1024];
        Random.Shared.NextBytes(value);
        var parts = new List<byte[]>();
        for (int b = 0; b < 2; b++)
        {
            using var builder = new RecordBatchBuilder(CompressionType.None);
            for (int i = 0; i < 16 * RecordKiB; i++) builder.Add(null, value, 1_700_000_000_000 + i);
            builder.BaseOffset = b * 16 * RecordKiB;
            parts.Add(builder.Build());
        }
        _blob = [.. parts.SelectMany(p => p)];
        _copy = (byte[])_blob.Clone();
        _segmentBatches = [_blob];
    }

    [Benchmark]
    public long Validate()
    {
        var result = RecordBatchValidator.Validate(_blob, out var summary);
        return result == BatchValidationResult.Ok ? summary.RecordCount : -1;
    }

    [Benchmark]
    public long PatchOffsets()
    {
        long offset = 0;
        foreach (var batch in RecordBatch.EnumerateBatches(_copy))
        {
            var header = new RecordBatchHeader(batch);
            offset += header.LastOffsetDelta + 1;
        }
        RecordBatch.PatchBaseOffset(_copy, offset);
        return offset;
    }

    [Benchmark]
    public int PlanSegment() => SegmentWriter.Plan(_segmentBatches).SegmentSize;
}
