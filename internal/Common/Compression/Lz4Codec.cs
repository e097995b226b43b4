using System.Buffers;
using System.Buffers.Binary;
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
        int direct = DecodeIndependentBlocks(new ReadOnlySpan<byte>(frame, length), destination);
        if (direct > 0)
            return direct;
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
        catch (Exception e) when (e is ArgumentException or IndexOutOfRangeException or NotSupportedException or InvalidOperationException
            or NotImplementedException)
        {
            // A corrupt block surfaces from the block decoder as one of these; a frame asking for
            // a feature the library lacks (a predefined dictionary: its flag is one bit of the
            // header) as NotImplementedException. Kafka's own reader refuses those frames too.
            throw new InvalidDataException("lz4: " + e.Message, e);
        }
    }

    /// <summary>
    /// The common case, a frame of independent blocks (what Kafka's producers write), decoded
    /// block by block straight into the destination: the library's frame reader would decode each
    /// block into a buffer of its own and copy it out, which costs more than the decoding. Returns
    /// the bytes of input the frame took, or 0 when the frame is of another kind (linked blocks,
    /// a dictionary id, a skippable frame) and the frame reader must handle it. Header and content
    /// checksums are not checked: a batch's CRC-32C covers its compressed bytes already.
    /// </summary>
    private static int DecodeIndependentBlocks(ReadOnlySpan<byte> frame, IBufferWriter<byte> destination)
    {
        const uint Magic = 0x184D2204;
        const int IndependentBlocks = 0x20, BlockChecksum = 0x10, ContentSize = 0x08, ContentChecksum = 0x04, DictionaryId = 0x01;
        if (frame.Length < 7 || BinaryPrimitives.ReadUInt32LittleEndian(frame) != Magic)
            return 0;
        byte flags = frame[4];
        if ((flags & 0xC0) != 0x40 || (flags & IndependentBlocks) == 0 || (flags & DictionaryId) != 0)
            return 0;
        int blockMax = ((frame[5] >> 4) & 0x7) switch { 4 => 64 << 10, 5 => 256 << 10, 6 => 1 << 20, 7 => 4 << 20, _ => 0 };
        if (blockMax == 0)
            return 0;
        int position = 4 + 2 + ((flags & ContentSize) != 0 ? 8 : 0) + 1;
        while (true)
        {
            if (position + 4 > frame.Length)
                throw Truncated();
            uint header = BinaryPrimitives.ReadUInt32LittleEndian(frame[position..]);
            position += 4;
            if (header == 0)
                break;
            int size = (int)(header & 0x7FFFFFFF);
            if (size > blockMax || position + size + ((flags & BlockChecksum) != 0 ? 4 : 0) > frame.Length)
                throw size > blockMax ? new InvalidDataException("lz4: a block is larger than the frame's block size") : Truncated();
            ReadOnlySpan<byte> block = frame.Slice(position, size);
            Span<byte> target = destination.GetSpan(blockMax);
            int n;
            if ((header & 0x80000000) != 0)
            {
                block.CopyTo(target);
                n = size;
            }
            else
            {
                n = LZ4Codec.Decode(block, target[..blockMax]);
                if (n < 0)
                    throw new InvalidDataException("lz4: a block does not decode");
            }
            destination.Advance(n);
            position += size + ((flags & BlockChecksum) != 0 ? 4 : 0);
        }
        if ((flags & ContentChecksum) != 0)
        {
            if (position + 4 > frame.Length)
                throw Truncated();
            position += 4;
        }
        return position;
    }

    private static InvalidDataException Truncated() => new("lz4: the frame is truncated");

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
