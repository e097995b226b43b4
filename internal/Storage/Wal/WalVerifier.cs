using System.Globalization;

namespace KafScale.Storage.Wal;

/// <summary>
/// One thing wrong with a WAL object. <paramref name="Check"/> names the check (docs/segments.md,
/// "WAL objects: `segments wal`"); <paramref name="Chunk"/> and <paramref name="Position"/> say where when known.
/// </summary>
public sealed record WalFault(string Key, string Check, int? Chunk, long? Position, string Message);

/// <summary>What <see cref="WalVerifier.Inspect"/> found in one WAL object; Footer is null when the object cannot be opened.</summary>
public sealed record WalObjectReport(string Key, long Size, WalFooter? Footer, IReadOnlyList<WalFault> Faults)
{
    /// <summary>True when no check failed.</summary>
    public bool IsClean => Faults.Count == 0;
}

/// <summary>
/// The checks of <c>kafscale admin segments wal verify</c> on one whole object: its key, header,
/// trailer, footer table, chunk bounds, each chunk's CRC-32C and that each chunk is whole record
/// batches agreeing with its footer entry. Reports every fault it finds instead of throwing.
/// </summary>
public static class WalVerifier
{
    /// <summary>Runs every check on <paramref name="wholeObject"/>, stored under <paramref name="key"/>.</summary>
    public static WalObjectReport Inspect(string key, ReadOnlySpan<byte> wholeObject)
    {
        var faults = new List<WalFault>();
        bool keyParsed = WalKeys.TryParse(key, out long keyCreated, out long keySequence, out int keyBroker);
        if (!keyParsed)
            faults.Add(new WalFault(key, "key", null, null, "the key is not <namespace>/!wal/<created-at, 20 digits>-<sequence, 20 digits>-<broker id, 10 digits>.wal"));

        WalFooter footer;
        try
        {
            footer = WalReader.Open(wholeObject);
        }
        catch (WalCorruptException ex)
        {
            faults.Add(new WalFault(key, CheckOf(ex.Problem), null, null, ex.Message));
            return new WalObjectReport(key, wholeObject.Length, null, faults);
        }

        if (keyParsed && (footer.BrokerId != keyBroker || footer.CreatedAtMs != keyCreated || footer.Sequence != keySequence))
        {
            faults.Add(new WalFault(key, "key", null, null, string.Create(CultureInfo.InvariantCulture,
                $"the header says broker {footer.BrokerId}, created {footer.CreatedAtMs}, sequence {footer.Sequence}; the key says broker {keyBroker}, created {keyCreated}, sequence {keySequence}")));
        }
        for (int i = 0; i < footer.Chunks.Count; i++)
        {
            WalChunkInfo chunk = footer.Chunks[i];
            ReadOnlySpan<byte> bytes = WalReader.ChunkBytes(wholeObject, chunk);
            if (!WalReader.VerifyChunk(bytes, chunk))
            {
                faults.Add(new WalFault(key, "crc", i, chunk.Position, string.Create(CultureInfo.InvariantCulture,
                    $"chunk {i} ({chunk.Topic}-{chunk.Partition}, offsets {chunk.FirstOffset}-{chunk.LastOffset}) does not match its CRC-32C 0x{chunk.Crc32C:X8}")));
            }
            if (WalReader.DescribeBatchProblem(bytes, chunk) is string problem)
                faults.Add(new WalFault(key, "batches", i, chunk.Position, $"chunk {i} ({chunk.Topic}-{chunk.Partition}): {problem}"));
        }
        return new WalObjectReport(key, wholeObject.Length, footer, faults);
    }

    /// <summary>The check name a reader's problem is reported under.</summary>
    public static string CheckOf(WalProblem problem) => problem switch
    {
        WalProblem.TooShort or WalProblem.BadTrailerMagic => "trailer",
        WalProblem.BadFooter or WalProblem.BadFooterCrc => "footer",
        WalProblem.BadHeader => "header",
        WalProblem.ChunkOutOfBounds => "bounds",
        _ => "crc",
    };
}
