using System.Buffers;
using K4os.Compression.LZ4;
using K4os.Compression.LZ4.Streams;
using K4os.Compression.LZ4.Streams.Adapters;
using K4os.Compression.LZ4.Streams.Frames;

namespace KafScale.Common;

/// <summary>
/// LZ4 in the LZ4 frame format, which Kafka uses for magic 2 batches, through K4os (managed). We
/// write what Kafka's Java producer writes: 64 KB independent blocks, no content size, no
/// checksums beyond the header's.
/// </summary>
public static unsafe class Lz4Codec
{
    private const int ChunkSize = 64 * 1024;
    private const int MaxLevel = (int)LZ4Level.L12_MAX;

    // One settings object per level (0 fast, 3..12 high compression), built once.
    private static readonly LZ4EncoderSettings[] s_settings = BuildSettings();

    private static readonly Func<ILZ4Descriptor, K4os.Compression.LZ4.Encoders.ILZ4Decoder> s_createDecoder =
        static descriptor => descriptor.CreateDecoder();

    /// <summary>Appends one LZ4 frame holding <paramref name="source"/>. Levels: 0..2 fast, 3..12 high compression.</summary>
    public static void Compress(ReadOnlySpan<byte> source, IBufferWriter<byte> destination, int level = 0)
    {
        LZ4EncoderSettings settings = s_settings[Math.Clamp(level, 0, MaxLevel)];
        LZ4Frame.Encode(source, destination, settings);
    }

    /// <summary>
    /// Appends the content of the LZ4 frames in <paramref name="source"/>. Kafka sends one frame;
    /// concatenated frames are legal, and the library's reader stops after the first, so frames
    /// are read one after another. Skippable frames are skipped.
    /// </summary>
    /// <exception cref="InvalidDataException">The data is not a whole, valid LZ4 frame.</exception>
    public static void Decompress(ReadOnlySpan<byte> source, IBufferWriter<byte> destination)
    {
        if (source.IsEmpty)
            throw new InvalidDataException("lz4: empty input");
        fixed (byte* start = source)
        {
            int consumed = 0;
            while (consumed < source.Length)
                consumed += DecodeFrame(start + consumed, source.Length - consumed, destination);
        }
    }

    private static int DecodeFrame(byte* frame, int length, IBufferWriter<byte> destination)
    {
        try
        {
            using var reader = new ByteSpanLZ4FrameReader(new UnsafeByteSpan(frame, length), s_createDecoder);
            if (!reader.OpenFrame())
                throw new InvalidDataException("lz4: no frame where one should start");
            while (true)
            {
                Span<byte> span = destination.GetSpan(ChunkSize);
                int n = reader.ReadManyBytes(span, interactive: true);
                if (n == 0)
                    break;
                destination.Advance(n);
            }
            // The reader's stream state is its position in the input (GetBytesRead counts output).
            int consumed = reader.StreamState;
            if (consumed <= 0 || consumed > length)
                throw new InvalidDataException("lz4: the frame reader consumed no input");
            return consumed;
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException("lz4: the frame is truncated", e);
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith("lz4:", StringComparison.Ordinal))
        {
            throw new InvalidDataException("lz4: " + e.Message, e);
        }
        catch (Exception e) when (e is ArgumentException or IndexOutOfRangeException or NotSupportedException or InvalidOperationException)
        {
            // A corrupt block surfaces from the block decoder as one of these.
            throw new InvalidDataException("lz4: " + e.Message, e);
        }
    }

    private static LZ4EncoderSettings[] BuildSettings()
    {
        var settings = new LZ4EncoderSettings[MaxLevel + 1];
        for (int level = 0; level <= MaxLevel; level++)
        {
            settings[level] = new LZ4EncoderSettings
            {
                ChainBlocks = false,
                BlockSize = K4os.Compression.LZ4.Internal.Mem.K64,
                ContentChecksum = false,
                BlockChecksum = false,
                CompressionLevel = level < (int)LZ4Level.L03_HC ? LZ4Level.L00_FAST : (LZ4Level)level,
            };
        }
        return settings;
    }
}
