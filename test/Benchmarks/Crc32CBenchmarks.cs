using BenchmarkDotNet.Attributes;
using KafScale.Common;

namespace KafScale.Benchmarks;

/// <summary>
/// CRC-32C over a produce batch (16 KiB), a WAL object (1 MiB) and a sealed segment (16 MiB):
/// one chain of the CPU's instruction (the previous release) against three lanes side by side.
/// </summary>
public class Crc32CBenchmarks
{
    private byte[] _data = [];

    [Params(16 * 1024, 1024 * 1024, 16 * 1024 * 1024)]
    public int Bytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _data = new byte[Bytes];
        new Random(7).NextBytes(_data);
    }

    [Benchmark(Baseline = true)]
    public uint OneLane() => Crc32C.AppendOneLane(0xFFFFFFFFu, _data);

    [Benchmark]
    public uint ThreeLanes() => Crc32C.AppendHardware(0xFFFFFFFFu, _data);
}
