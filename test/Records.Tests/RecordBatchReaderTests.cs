using System.Text;

namespace KafScale.Records.Tests;

public class RecordBatchReaderTests
{
    // Built by kafka-python 2.0.2's DefaultRecordBatchBuilder (an independent encoder):
    // producer 1234/5, base sequence 7; records (k0,v0,[h=x]) (null,"hello..",[]) (k2,null,[a=null]).
    private const string KafkaPythonUncompressed =
        "00000000000000000000006a00000000021f709f680000000000020000018bcfe568000000018bcfe5680500000000000004d2000500000007000000031c000000046b3004763002026802783a000a02012e68656c6c6f2068656c6c6f2068656c6c6f2068656c6c6f0016000604046b320102026101";

    // kafka-python, gzip, four records of "abcdefgh" x 10 with null keys.
    private const string KafkaPythonGzip =
        "00000000000000000000006900000000025fc854ba0001000000030000018bcfe568000000018bcfe56803ffffffffffffffffffffffffffff000000041f8b0800e510026b02ff5bc7c8c0c0c0b8803131293925352d3d835a34c33a460626261a19ccc2422383d9d8686130001e442de864010000";

    [Fact]
    public void A_batch_from_another_client_library_validates_and_decodes()
    {
        byte[] batch = Convert.FromHexString(KafkaPythonUncompressed);
        Assert.Equal(BatchValidationResult.Ok, RecordBatchValidator.Validate(batch, out BatchSummary s));
        Assert.Equal(1234, s.FirstProducerId);
        Assert.Equal(5, s.FirstProducerEpoch);
        Assert.Equal(7, s.FirstBaseSequence);
        Assert.Equal(1700000000005, s.MaxTimestamp);

        List<Record> r = RecordBatchReader.ReadAll(batch);
        Assert.Equal(3, r.Count);
        Assert.Equal("k0"u8.ToArray(), r[0].Key);
        Assert.Equal("v0"u8.ToArray(), r[0].Value);
        Assert.Equal("h", r[0].Headers.Single().Key);
        Assert.Equal("x"u8.ToArray(), r[0].Headers[0].Value);
        Assert.Null(r[1].Key);
        Assert.Equal(1700000000005, r[1].Timestamp);
        Assert.Equal(1700000000003, r[2].Timestamp);
        Assert.Null(r[2].Value);
        Assert.Equal("a", r[2].Headers[0].Key);
        Assert.Null(r[2].Headers[0].Value);
        Assert.Equal([0L, 1, 2], r.Select(x => x.Offset));
    }

    [Fact]
    public void A_gzip_batch_from_another_client_library_decodes()
    {
        byte[] batch = Convert.FromHexString(KafkaPythonGzip);
        Assert.Equal(BatchValidationResult.Ok, RecordBatchValidator.Validate(batch, out _));
        List<Record> r = RecordBatchReader.ReadAll(batch);
        Assert.Equal(4, r.Count);
        Assert.All(r, x => Assert.Equal(Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("abcdefgh", 10))), x.Value));
        Assert.Equal([1700000000000L, 1700000000001, 1700000000002, 1700000000003], r.Select(x => x.Timestamp));
    }

    [Fact]
    public void The_span_reader_exposes_keys_values_and_headers_without_copying()
    {
        byte[] batch = Convert.FromHexString(KafkaPythonUncompressed);
        using var reader = new RecordBatchReader(batch);
        Assert.Equal(3, reader.Remaining);
        Assert.True(reader.TryReadNext(out RecordView first));
        Assert.False(first.KeyIsNull);
        Assert.True(first.Key.SequenceEqual("k0"u8));
        Assert.Equal(1, first.HeaderCount);
        foreach (RecordHeaderView h in first.Headers)
        {
            Assert.True(h.Key.SequenceEqual("h"u8));
            Assert.True(h.Value.SequenceEqual("x"u8));
        }
        Assert.True(reader.TryReadNext(out RecordView second));
        Assert.True(second.KeyIsNull);
        Assert.True(reader.TryReadNext(out RecordView third));
        Assert.True(third.ValueIsNull);
        Assert.False(reader.TryReadNext(out _));
    }

    [Fact]
    public void Reading_an_uncompressed_batch_allocates_nothing()
    {
        byte[] batch = TestBatches.Mixed(CompressionType.None, records: 20);
        long sum = Walk(batch);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 50; i++)
            sum += Walk(batch);
        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
        Assert.True(sum > 0);

        static long Walk(byte[] batch)
        {
            long total = 0;
            using var reader = new RecordBatchReader(batch);
            while (reader.TryReadNext(out RecordView r))
            {
                total += r.Offset + r.Value.Length;
                foreach (RecordHeaderView h in r.Headers)
                    total += h.Key.Length;
            }
            return total;
        }
    }

    [Fact]
    public void Several_batches_are_read_in_order_with_their_offsets()
    {
        byte[] a = TestBatches.Mixed(CompressionType.None, baseOffset: 10, records: 3);
        byte[] b = TestBatches.Mixed(CompressionType.Zstd, baseOffset: 13, records: 2);
        List<Record> records = RecordBatchReader.ReadAll(a.Concat(b).ToArray());
        Assert.Equal([10L, 11, 12, 13, 14], records.Select(r => r.Offset));
    }

    [Fact]
    public void A_malformed_record_throws_invalid_data()
    {
        byte[] batch = TestBatches.VectorBatch();
        batch[RecordBatch.RecordsOffset + 4] = 0x09; // key length -5
        Assert.Throws<InvalidDataException>(() => RecordBatchReader.ReadAll(batch));
    }

    [Fact]
    public void Batch_walk_stops_before_a_partial_batch()
    {
        byte[] two = TestBatches.VectorBatch().Concat(TestBatches.VectorBatch()).ToArray();
        RecordBatchEnumerator walk = RecordBatch.EnumerateBatches(two.AsSpan(0, 100));
        Assert.True(walk.MoveNext());
        Assert.Equal(0, walk.Position);
        Assert.Equal(70, walk.Current.Length);
        Assert.False(walk.MoveNext());
        Assert.True(walk.StoppedEarly);
        Assert.Equal(70, walk.Consumed);
    }
}
