using System.Buffers;
using KafScale.Common;

namespace KafScale.Records;

/// <summary>
/// The four RecordBatch codecs. Data passed in is the records section of a batch (bytes 61..end);
/// the formats are Kafka's: gzip (RFC 1952), snappy (raw block or the xerial-framed stream Java
/// producers write), lz4 (LZ4 frame format) and zstd (zstd frames). The codecs themselves live in
/// KafScale.Common, shared with the Parquet and Avro writers.
/// </summary>
public static class RecordCompression
{
    /// <summary>Decompresses <paramref name="source"/> and appends the result to <paramref name="destination"/>.</summary>
    /// <exception cref="InvalidDataException">The data is not valid for the codec (corrupt or truncated).</exception>
    public static void Decompress(CompressionType codec, ReadOnlySpan<byte> source, IBufferWriter<byte> destination)
    {
        switch (codec)
        {
            case CompressionType.None:
                destination.Write(source);
                break;
            case CompressionType.Gzip:
                GzipCodec.Decompress(source, destination);
                break;
            case CompressionType.Snappy:
                SnappyCodec.DecompressKafka(source, destination);
                break;
            case CompressionType.Lz4:
                Lz4Codec.Decompress(source, destination);
                break;
            case CompressionType.Zstd:
                ZstdCodec.Decompress(source, destination);
                break;
            default:
                throw new InvalidDataException($"unknown compression codec {(int)codec}");
        }
    }

    /// <summary>
    /// Compresses <paramref name="source"/> and appends the result to <paramref name="destination"/>.
    /// <paramref name="level"/> is codec-specific; null uses Kafka's defaults (gzip 6, lz4 fast, zstd 3).
    /// </summary>
    public static void Compress(CompressionType codec, ReadOnlySpan<byte> source, IBufferWriter<byte> destination, int? level = null)
    {
        switch (codec)
        {
            case CompressionType.None:
                destination.Write(source);
                break;
            case CompressionType.Gzip:
                GzipCodec.Compress(source, destination, level);
                break;
            case CompressionType.Snappy:
                SnappyCodec.CompressKafka(source, destination);
                break;
            case CompressionType.Lz4:
                Lz4Codec.Compress(source, destination, level ?? 0);
                break;
            case CompressionType.Zstd:
                ZstdCodec.Compress(source, destination, level ?? ZstdCodec.DefaultLevel);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(codec), codec, "unknown compression codec");
        }
    }
}
