using System.Runtime.CompilerServices;

namespace KafScale.Storage;

/// <summary>One object in a listing.</summary>
public readonly record struct ObjectInfo(string Key, long Size);

/// <summary>
/// The object store that holds segments. Objects are immutable once written; keys use '/' as
/// the separator. Two implementations: a local directory and S3.
/// </summary>
public interface IObjectStore : IAsyncDisposable
{
    /// <summary>A short name for logs and metrics ("dir", "s3").</summary>
    string Kind { get; }

    /// <summary>Where the objects live, for people to read (a directory, <c>s3://bucket</c>); by default <see cref="Kind"/>.</summary>
    string Location => Kind;

    /// <summary>True when <see cref="CreateIfAbsentAsync"/> really refuses to overwrite.</summary>
    bool SupportsConditionalCreate { get; }

    /// <summary>Writes the whole object durably (replaces an existing one).</summary>
    Task PutAsync(string key, ReadOnlyMemory<byte> data, CancellationToken cancellationToken);

    /// <summary>
    /// Writes an object that can be rebuilt from others after a crash (a segment's .index from
    /// its .kfs). A store where durability costs a separate step may skip it; readers must then
    /// be ready to find the object missing or unreadable after a crash. By default a normal put.
    /// </summary>
    Task PutRebuildableAsync(string key, ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
        PutAsync(key, data, cancellationToken);

    /// <summary>
    /// Writes the object only if no object with that key exists. Returns false (and writes
    /// nothing) when the key is already taken.
    /// </summary>
    Task<bool> CreateIfAbsentAsync(string key, ReadOnlyMemory<byte> data, CancellationToken cancellationToken);

    /// <summary>
    /// True when <see cref="CreateIfAbsentAsync(string, IReadOnlyList{ReadOnlyMemory{byte}}, CancellationToken)"/>
    /// writes the parts as they are, without copying them into one array first.
    /// </summary>
    bool WritesPartsInPlace => false;

    /// <summary>
    /// How many large objects (sealed segments) are worth writing at once, or null for no limit
    /// of the store's own. A local disk writes them one after another anyway, and many at once
    /// only delay the small durable writes beside them.
    /// </summary>
    int? LargeWritesAtOnce => null;

    /// <summary>
    /// <see cref="CreateIfAbsentAsync(string, ReadOnlyMemory{byte}, CancellationToken)"/> of the
    /// object made of <paramref name="parts"/> back to back. A store that can write them as they
    /// are (a local file: one gathered write) saves the copy into one array; by default they are
    /// copied into one and created as usual.
    /// </summary>
    Task<bool> CreateIfAbsentAsync(string key, IReadOnlyList<ReadOnlyMemory<byte>> parts, CancellationToken cancellationToken)
    {
        long length = 0;
        foreach (ReadOnlyMemory<byte> part in parts)
            length += part.Length;
        byte[] whole = new byte[length];
        int position = 0;
        foreach (ReadOnlyMemory<byte> part in parts)
        {
            part.Span.CopyTo(whole.AsSpan(position));
            position += part.Length;
        }
        return CreateIfAbsentAsync(key, whole, cancellationToken);
    }

    /// <summary>The whole object, or null when it does not exist.</summary>
    Task<byte[]?> GetAsync(string key, CancellationToken cancellationToken);

    /// <summary>
    /// Reads up to destination.Length bytes starting at offset. Returns the number of bytes
    /// read (less than requested only at the end of the object). Throws
    /// <see cref="ObjectNotFoundException"/> when the object does not exist.
    /// </summary>
    Task<int> ReadRangeAsync(string key, long offset, Memory<byte> destination, CancellationToken cancellationToken);

    /// <summary>Size of the object, or null when it does not exist.</summary>
    Task<long?> GetSizeAsync(string key, CancellationToken cancellationToken);

    /// <summary>Objects whose key starts with prefix, in ascending key order.</summary>
    IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken);

    /// <summary>
    /// Objects whose key starts with prefix and sorts (ordinally) after startAfter, in ascending
    /// key order: S3's ListObjectsV2 StartAfter, so a store lists only the end of a long prefix.
    /// </summary>
    async IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, string? startAfter, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (ObjectInfo o in ListAsync(prefix, cancellationToken).ConfigureAwait(false))
        {
            if (startAfter is null || string.CompareOrdinal(o.Key, startAfter) > 0) yield return o;
        }
    }

    /// <summary>Deletes the object; deleting a missing object is not an error.</summary>
    Task DeleteAsync(string key, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes an object whose return after a crash does no harm (a WAL object whose chunks are
    /// all sealed: whoever finds it again deletes it again). A store where durability costs a
    /// separate step may skip it. By default a normal delete.
    /// </summary>
    Task DeleteGarbageAsync(string key, CancellationToken cancellationToken) => DeleteAsync(key, cancellationToken);

}

public sealed class ObjectNotFoundException(string key) : Exception($"object '{key}' does not exist")
{
    public string Key { get; } = key;
}
