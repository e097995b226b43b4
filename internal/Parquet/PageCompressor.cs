using KafScale.Common;

namespace KafScale.Parquet;

/// <summary>
/// Compresses page bodies with the file's codec: SNAPPY is one raw snappy block per page (the
/// Parquet convention, not Kafka's xerial framing), ZSTD one zstd frame per page. Both write into
/// one pooled scratch buffer, so a page costs no allocation.
/// </summary>
internal sealed class PageCompressor : IDisposable
{
    private readonly ParquetCompression _compression;
    private readonly int _zstdLevel;
    private readonly PooledBufferWriter _scratch = new(64 * 1024);

    public PageCompressor(ParquetCompression compression, int zstdLevel)
    {
        _compression = compression;
        _zstdLevel = zstdLevel;
    }

    /// <summary>The thrift CompressionCodec value.</summary>
    public int Codec => _compression switch
    {
        ParquetCompression.Snappy => 1,
        ParquetCompression.Zstd => 6,
        _ => 0,
    };

    /// <summary>The compressed body; valid until the next call.</summary>
    public ReadOnlySpan<byte> Compress(ReadOnlySpan<byte> body)
    {
        switch (_compression)
        {
            case ParquetCompression.Snappy:
                _scratch.Clear();
                SnappyCodec.CompressBlock(body, _scratch);
                return _scratch.WrittenSpan;
            case ParquetCompression.Zstd:
                _scratch.Clear();
                ZstdCodec.Compress(body, _scratch, _zstdLevel);
                return _scratch.WrittenSpan;
            default:
                return body;
        }
    }

    public void Dispose() => _scratch.Dispose();
}
