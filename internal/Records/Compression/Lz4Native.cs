using System.Runtime.InteropServices;

namespace KafScale.Records;

/// <summary>The LZ4 frame API (lz4frame.h) of the system liblz4 (1.8 or later).</summary>
internal static unsafe partial class Lz4Native
{
    private const string Library = "liblz4.so.1";

    /// <summary>LZ4F_VERSION: the ABI version of the frame API.</summary>
    public const uint FrameVersion = 100;

    private static readonly Lazy<Exception?> s_loadError = new(() => NativeCodecLoader.TryLoad(Library, "lz4", "liblz4-1"));

    public static void EnsureLoaded()
    {
        if (s_loadError.Value is Exception e)
            throw e;
    }

    // Mirrors LZ4F_preferences_t (with LZ4F_frameInfo_t inlined); enums are C ints.
    [StructLayout(LayoutKind.Sequential)]
    public struct Preferences
    {
        public int BlockSizeId;
        public int BlockMode;
        public int ContentChecksumFlag;
        public int FrameType;
        public ulong ContentSize;
        public uint DictId;
        public int BlockChecksumFlag;
        public int CompressionLevel;
        public uint AutoFlush;
        public uint FavorDecSpeed;
        public uint Reserved0;
        public uint Reserved1;
        public uint Reserved2;
    }

    public const int BlockSize64KB = 4;
    public const int BlockIndependent = 1;

    [LibraryImport(Library)]
    public static partial nuint LZ4F_createDecompressionContext(nint* dctx, uint version);

    [LibraryImport(Library)]
    public static partial nuint LZ4F_freeDecompressionContext(nint dctx);

    [LibraryImport(Library)]
    public static partial nuint LZ4F_decompress(nint dctx, byte* dst, nuint* dstSize, byte* src, nuint* srcSize, void* options);

    [LibraryImport(Library)]
    public static partial nuint LZ4F_compressFrameBound(nuint srcSize, Preferences* preferences);

    [LibraryImport(Library)]
    public static partial nuint LZ4F_compressFrame(byte* dst, nuint dstCapacity, byte* src, nuint srcSize, Preferences* preferences);

    [LibraryImport(Library)]
    public static partial uint LZ4F_isError(nuint code);

    [LibraryImport(Library)]
    public static partial byte* LZ4F_getErrorName(nuint code);

    public static string ErrorName(nuint code) => Marshal.PtrToStringUTF8((nint)LZ4F_getErrorName(code)) ?? "unknown error";
}

/// <summary>Loads a codec's system library on first use and explains what to install when it is missing.</summary>
internal static class NativeCodecLoader
{
    public static Exception? TryLoad(string library, string codec, string debianPackage)
    {
        if (NativeLibrary.TryLoad(library, typeof(NativeCodecLoader).Assembly, null, out _))
            return null;
        return new CodecUnavailableException(
            $"{codec} compression needs the system library {library}, which could not be loaded; " +
            $"install the Debian/Ubuntu package {debianPackage} (apt-get install {debianPackage})");
    }
}
