using System.Runtime.InteropServices;

namespace KafScale.Records;

/// <summary>The streaming and one-shot API (zstd.h) of the system libzstd (1.3 or later).</summary>
internal static unsafe partial class ZstdNative
{
    private const string Library = "libzstd.so.1";

    private static readonly Lazy<Exception?> s_loadError = new(() => NativeCodecLoader.TryLoad(Library, "zstd", "libzstd1"));

    public static void EnsureLoaded()
    {
        if (s_loadError.Value is Exception e)
            throw e;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct InBuffer
    {
        public byte* Src;
        public nuint Size;
        public nuint Pos;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct OutBuffer
    {
        public byte* Dst;
        public nuint Size;
        public nuint Pos;
    }

    [LibraryImport(Library)]
    public static partial nint ZSTD_createDStream();

    [LibraryImport(Library)]
    public static partial nuint ZSTD_freeDStream(nint zds);

    [LibraryImport(Library)]
    public static partial nuint ZSTD_initDStream(nint zds);

    [LibraryImport(Library)]
    public static partial nuint ZSTD_decompressStream(nint zds, OutBuffer* output, InBuffer* input);

    [LibraryImport(Library)]
    public static partial nuint ZSTD_compressBound(nuint srcSize);

    [LibraryImport(Library)]
    public static partial nuint ZSTD_compress(byte* dst, nuint dstCapacity, byte* src, nuint srcSize, int compressionLevel);

    [LibraryImport(Library)]
    public static partial uint ZSTD_isError(nuint code);

    [LibraryImport(Library)]
    public static partial byte* ZSTD_getErrorName(nuint code);

    public static string ErrorName(nuint code) => Marshal.PtrToStringUTF8((nint)ZSTD_getErrorName(code)) ?? "unknown error";
}
