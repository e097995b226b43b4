using KafScale.Metadata.Embedded;
using KafScale.Protocol;
using KafScale.Records;
using KafScale.Snapshot;
using KafScale.Storage;

namespace KafScale.Fuzz;

/// <summary>
/// Replays the committed corpus through every fuzz target in-process, the way afl-fuzz runs
/// them: each seed (corpus/TARGET), each of its truncations and single-byte corruptions, and
/// each saved crash input (crashes/TARGET, inputs that once broke a reader). An input passes
/// when only the reader's documented exception escapes, it allocates less than the request
/// size limit and it finishes in time (docs/reliability.md, Fuzzing).
/// </summary>
public class FuzzRegressionTests
{
    private static readonly TimeSpan PerFileTimeout = TimeSpan.FromSeconds(20);

    public static TheoryData<string> Targets()
    {
        var data = new TheoryData<string>();
        foreach (FuzzTarget target in FuzzTargets.All)
            data.Add(target.Name);
        return data;
    }

    private static string[] Files(string folder, string target)
    {
        string directory = Path.Combine(AppContext.BaseDirectory, folder, target);
        return Directory.Exists(directory) ? [.. Directory.GetFiles(directory).Order(StringComparer.Ordinal)] : [];
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public async Task Every_seed_its_variants_and_every_saved_crash_get_only_a_documented_answer(string name)
    {
        FuzzTarget target = FuzzTargets.Get(name);
        string[] seeds = Files("corpus", name);
        Assert.NotEmpty(seeds);
        var failures = new List<string>();
        foreach (string file in seeds.Concat(Files("crashes", name)))
        {
            byte[] input = await File.ReadAllBytesAsync(file);
            IEnumerable<(string Variant, byte[] Bytes)> inputs = seeds.Contains(file) ? Variants(name, input) : new[] { ("as saved", input) };
            Task run = Task.Run(() =>
            {
                foreach ((string variant, byte[] bytes) in inputs)
                {
                    try
                    {
                        FuzzTargets.RunChecked(target, bytes);
                    }
                    catch (Exception e)
                    {
                        lock (failures)
                            failures.Add($"{Path.GetFileName(file)} ({variant}): {e.GetType().Name}: {e.Message}");
                    }
                }
            });
            try
            {
                await run.WaitAsync(PerFileTimeout);
            }
            catch (TimeoutException)
            {
                failures.Add($"{Path.GetFileName(file)}: still running after {PerFileTimeout.TotalSeconds} s (a hang)");
                break;
            }
        }
        Assert.True(failures.Count == 0, $"{failures.Count} input(s) broke the {name} target:\n" + string.Join("\n", failures.Take(20)));
    }

    /// <summary>
    /// The seed, every truncation of it, and the seed with each byte set to 0xFF: cheap,
    /// deterministic neighbours that hit length checks at every position. The metadata log
    /// target writes files per input, so it takes every 16th position only.
    /// </summary>
    private static IEnumerable<(string Variant, byte[] Bytes)> Variants(string target, byte[] seed)
    {
        yield return ("as written", seed);
        int step = target == "metadata-log" ? 16 : 1;
        for (int length = 0; length < seed.Length; length += step)
            yield return ($"first {length} bytes", seed[..length]);
        for (int i = 0; i < seed.Length; i += step)
        {
            if (seed[i] == 0xFF)
                continue;
            byte[] corrupt = (byte[])seed.Clone();
            corrupt[i] = 0xFF;
            yield return ($"byte {i} set to 0xFF", corrupt);
        }
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public async Task Seeds_are_valid_inputs_that_the_readers_accept(string name)
    {
        string[] seeds = Files("corpus", name);
        Assert.NotEmpty(seeds);
        foreach (string file in seeds)
        {
            byte[] input = await File.ReadAllBytesAsync(file);
            switch (name)
            {
                case "request":
                    AcceptRequest(file, input);
                    break;
                case "records":
                    Assert.Equal(BatchValidationResult.Ok, RecordBatchValidator.Validate(input, out BatchSummary summary));
                    Assert.Equal(summary.RecordCount, RecordBatchReader.ReadAll(input).Count);
                    break;
                case "segment":
                    int length = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(input);
                    SegmentVerification verification = SegmentReader.Verify(input.AsSpan(4, length), input.AsMemory(4 + length));
                    Assert.True(verification.IsValid, $"{file}: {verification.Message}");
                    break;
                case "metadata-log":
                    await AcceptMetadataLogAsync(input);
                    break;
                case "snapshot":
                    SnapshotContent content = SnapshotFormat.Read(input);
                    Assert.Equal(content.Header.Keys, content.Entries.Count);
                    break;
                case "wal":
                    KafScale.Storage.Wal.WalFooter footer = KafScale.Storage.Wal.WalReader.OpenVerified(input);
                    foreach (KafScale.Storage.Wal.WalChunkInfo chunk in footer.Chunks)
                        Assert.Null(KafScale.Storage.Wal.WalReader.DescribeBatchProblem(KafScale.Storage.Wal.WalReader.ChunkBytes(input, chunk), chunk));
                    break;
                default:
                    Assert.Fail($"no acceptance check for target {name}");
                    break;
            }
        }
    }

    private static void AcceptRequest(string file, byte[] frame)
    {
        var header = KafkaRequestHeader.Parse(frame);
        IKafkaMessage request = KafkaMessages.CreateRequest(header.ApiKey)!;
        var reader = new KafkaReader(frame.AsMemory(header.BodyOffset));
        request.Read(ref reader, header.ApiVersion);
        Assert.True(reader.Remaining == 0, $"{file}: {reader.Remaining} bytes left after the body");
    }

    private static async Task AcceptMetadataLogAsync(byte[] wal)
    {
        string directory = Directory.CreateTempSubdirectory("kafscale-fuzz-").FullName;
        try
        {
            await File.WriteAllBytesAsync(Path.Combine(directory, "wal"), wal);
            EmbeddedImage image = await EmbeddedStoreReader.ReadAsync(directory, CancellationToken.None);
            Assert.Contains(image.Kvs, kv => kv.Key == "/kafscale/topics/orders/config" && kv.Version == 2);
            Assert.DoesNotContain(image.Kvs, kv => kv.Key == "/kafscale/cluster/id");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
