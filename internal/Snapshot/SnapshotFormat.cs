using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using KafScale.Metadata;

namespace KafScale.Snapshot;

/// <summary>The first line of a snapshot file: what it is and where it came from.</summary>
public sealed record SnapshotHeader(
    string Id, DateTimeOffset Created, string Source, string SourceDetail, long Revision, string Prefix, long Keys,
    long ExcludedLeased, long ExcludedDerived, bool WhileOpen);

/// <summary>A parsed snapshot: header and the keys in ascending order.</summary>
public sealed record SnapshotContent(SnapshotHeader Header, IReadOnlyList<KeyValuePair<string, byte[]>> Entries);

/// <summary>A snapshot file that is not what the format requires.</summary>
public sealed class SnapshotFormatException(string message) : Exception(message);

/// <summary>
/// The metadata snapshot file, version 1: UTF-8 JSON lines (docs/snapshots.md).
/// <code>
/// {"format":"kafscale-metadata-snapshot","version":1,"id":"...","created":"RFC3339","source":"etcd|embedded",
///  "source_detail":"...","revision":N,"prefix":"/kafscale/","keys":N,"excluded_leased":N,"excluded_derived":N,"while_open":false}
/// {"key":"/kafscale/cluster/id","value":"&lt;base64&gt;"}
/// ...
/// {"end":true,"keys":N}
/// </code>
/// Only keys and values are kept: revisions, versions and leases belong to the store that wrote
/// them. The end line lets a reader tell a whole file from a cut one even without the SHA-256.
/// </summary>
public static class SnapshotFormat
{
    public const string FormatName = "kafscale-metadata-snapshot";
    public const int Version = 1;

    /// <summary>The root of every KafScale key; the snapshot covers exactly this prefix.</summary>
    public const string Prefix = "/kafscale/";

    /// <summary>Derived state the controller rewrites on its own: upstream's cluster view, naming brokers of the moment.</summary>
    public static readonly string[] DerivedKeys = ["/kafscale/metadata/snapshot"];

    /// <summary>
    /// The keys that belong in a snapshot: under <see cref="Prefix"/>, not bound to a lease
    /// (broker registrations, partition leader and coordinator keys are ephemeral and re-created
    /// by live brokers), and not derived.
    /// </summary>
    public static (List<KeyValue> Kept, long Leased, long Derived) Select(IEnumerable<KeyValue> kvs)
    {
        var kept = new List<KeyValue>();
        long leased = 0, derived = 0;
        foreach (KeyValue kv in kvs)
        {
            if (!kv.Key.StartsWith(Prefix, StringComparison.Ordinal)) continue;
            if (kv.Lease != 0) { leased++; continue; }
            if (Array.IndexOf(DerivedKeys, kv.Key) >= 0) { derived++; continue; }
            kept.Add(kv);
        }
        kept.Sort((a, b) => CompareUtf8(a.Key, b.Key));
        return (kept, leased, derived);
    }

    private static int CompareUtf8(string a, string b) =>
        Encoding.UTF8.GetBytes(a).AsSpan().SequenceCompareTo(Encoding.UTF8.GetBytes(b));

    public static byte[] Write(SnapshotHeader header, IReadOnlyList<KeyValue> kvs)
    {
        var buffer = new ArrayBufferWriter<byte>(4096 + kvs.Count * 128);
        var options = new JsonWriterOptions { Indented = false, SkipValidation = false };
        using (var w = new Utf8JsonWriter(buffer, options))
        {
            w.WriteStartObject();
            w.WriteString("format", FormatName);
            w.WriteNumber("version", Version);
            w.WriteString("id", header.Id);
            w.WriteString("created", header.Created.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
            w.WriteString("source", header.Source);
            w.WriteString("source_detail", header.SourceDetail);
            w.WriteNumber("revision", header.Revision);
            w.WriteString("prefix", header.Prefix);
            w.WriteNumber("keys", kvs.Count);
            w.WriteNumber("excluded_leased", header.ExcludedLeased);
            w.WriteNumber("excluded_derived", header.ExcludedDerived);
            w.WriteBoolean("while_open", header.WhileOpen);
            w.WriteEndObject();
            w.Flush();
            buffer.Write("\n"u8);
            foreach (KeyValue kv in kvs)
            {
                w.Reset(buffer);
                w.WriteStartObject();
                w.WriteString("key", kv.Key);
                w.WriteBase64String("value", kv.Value);
                w.WriteEndObject();
                w.Flush();
                buffer.Write("\n"u8);
            }
            w.Reset(buffer);
            w.WriteStartObject();
            w.WriteBoolean("end", true);
            w.WriteNumber("keys", kvs.Count);
            w.WriteEndObject();
            w.Flush();
            buffer.Write("\n"u8);
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Parses only the header line (the start of the file is enough).</summary>
    public static SnapshotHeader ReadHeader(ReadOnlySpan<byte> start)
    {
        int newline = start.IndexOf((byte)'\n');
        if (newline < 0) throw new SnapshotFormatException("the file does not start with a header line");
        return ParseHeader(start[..newline]);
    }

    public static SnapshotContent Read(ReadOnlySpan<byte> data)
    {
        int newline = data.IndexOf((byte)'\n');
        if (newline < 0) throw new SnapshotFormatException("the file does not start with a header line");
        SnapshotHeader header = ParseHeader(data[..newline]);
        ReadOnlySpan<byte> rest = data[(newline + 1)..];
        // The header's count sizes the list only as far as the file could hold that many key
        // lines (at least 20 bytes each): a forged count must not allocate.
        var entries = new List<KeyValuePair<string, byte[]>>((int)Math.Min(header.Keys, rest.Length / 20));
        bool ended = false;
        int line = 1;
        while (!rest.IsEmpty)
        {
            line++;
            int end = rest.IndexOf((byte)'\n');
            if (end < 0) throw new SnapshotFormatException($"line {line} is not terminated: the file is cut short");
            ReadOnlySpan<byte> text = rest[..end];
            rest = rest[(end + 1)..];
            if (ended) throw new SnapshotFormatException($"line {line} follows the end line");
            try
            {
                using JsonDocument doc = JsonDocument.Parse(text.ToArray());
                JsonElement root = doc.RootElement;
                if (root.TryGetProperty("end", out JsonElement e) && e.ValueKind == JsonValueKind.True)
                {
                    long count = root.GetProperty("keys").GetInt64();
                    if (count != entries.Count || count != header.Keys)
                        throw new SnapshotFormatException($"the end line counts {count} keys, the header {header.Keys}, the file holds {entries.Count}");
                    ended = true;
                    continue;
                }
                string key = root.GetProperty("key").GetString() ?? throw new SnapshotFormatException($"line {line} has a null key");
                byte[] value = root.GetProperty("value").GetBytesFromBase64();
                entries.Add(new KeyValuePair<string, byte[]>(key, value));
            }
            catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            {
                throw new SnapshotFormatException($"line {line} is not a key line: {ex.Message}");
            }
        }
        if (!ended) throw new SnapshotFormatException("the end line is missing: the file is cut short");
        return new SnapshotContent(header, entries);
    }

    private static SnapshotHeader ParseHeader(ReadOnlySpan<byte> line)
    {
        try
        {
            using JsonDocument doc = JsonDocument.Parse(line.ToArray());
            JsonElement r = doc.RootElement;
            if (r.ValueKind != JsonValueKind.Object || !r.TryGetProperty("format", out JsonElement f) || f.GetString() != FormatName)
                throw new SnapshotFormatException($"the file is not a {FormatName} (its first line has no matching \"format\")");
            int version = r.GetProperty("version").GetInt32();
            if (version != Version)
                throw new SnapshotFormatException($"snapshot format version {version} is not supported by this kafscale (it reads version {Version})");
            if (!DateTimeOffset.TryParse(RequiredString(r, "created"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out DateTimeOffset created))
                throw new SnapshotFormatException("the header line's \"created\" is not a date and time");
            long keys = r.GetProperty("keys").GetInt64();
            if (keys < 0)
                throw new SnapshotFormatException($"the header line counts {keys} keys");
            return new SnapshotHeader(
                RequiredString(r, "id"),
                created,
                RequiredString(r, "source"),
                r.TryGetProperty("source_detail", out JsonElement d) ? d.GetString() ?? "" : "",
                r.GetProperty("revision").GetInt64(),
                RequiredString(r, "prefix"),
                keys,
                r.TryGetProperty("excluded_leased", out JsonElement l) ? l.GetInt64() : 0,
                r.TryGetProperty("excluded_derived", out JsonElement x) ? x.GetInt64() : 0,
                r.TryGetProperty("while_open", out JsonElement o) && o.ValueKind == JsonValueKind.True);
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new SnapshotFormatException($"the header line is malformed: {ex.Message}");
        }
    }

    /// <summary>A header field that must be a string; JSON null or a missing field is a malformed header.</summary>
    private static string RequiredString(JsonElement header, string name) =>
        header.GetProperty(name).GetString() ?? throw new SnapshotFormatException($"the header line's \"{name}\" is null");

    public static string Sha256Hex(ReadOnlySpan<byte> data) => Convert.ToHexStringLower(SHA256.HashData(data));

    /// <summary>The checksum object's content, in sha256sum's format so `sha256sum -c` checks a downloaded copy.</summary>
    public static byte[] ChecksumFile(string hex, string fileName) => Encoding.ASCII.GetBytes($"{hex}  {fileName}\n");

    /// <summary>The hex digest from a checksum object; null when it is not one.</summary>
    public static string? ParseChecksumFile(ReadOnlySpan<byte> content)
    {
        string text = Encoding.ASCII.GetString(content).Trim();
        int space = text.IndexOf(' ');
        string hex = space < 0 ? text : text[..space];
        return hex.Length == 64 && hex.All(char.IsAsciiHexDigit) ? hex.ToLowerInvariant() : null;
    }
}
