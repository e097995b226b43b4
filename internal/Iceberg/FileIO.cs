using System.Runtime.CompilerServices;
using KafScale.Storage;

namespace KafScale.Iceberg;

/// <summary>Reads and writes table files by absolute URI (file:///..., s3://bucket/...).</summary>
public interface IFileIO
{
    Task WriteAsync(string uri, ReadOnlyMemory<byte> data, CancellationToken ct);
    /// <summary>Writes only when nothing exists at the URI; false (nothing written) when it does.</summary>
    Task<bool> CreateIfAbsentAsync(string uri, ReadOnlyMemory<byte> data, CancellationToken ct);
    /// <summary>The whole file, or null when it does not exist.</summary>
    Task<byte[]?> ReadAsync(string uri, CancellationToken ct);
    Task DeleteAsync(string uri, CancellationToken ct);
    /// <summary>URIs of the files whose URI starts with <paramref name="prefixUri"/>, in ascending order.</summary>
    IAsyncEnumerable<string> ListAsync(string prefixUri, CancellationToken ct);
}

/// <summary>
/// Maps absolute URIs under a root to keys of an object store rooted there. For
/// "file:///abs/dir" the store is a directory store on /abs/dir and "file:///abs/dir/a/b" is the
/// key "a/b". For "s3://bucket" or "s3://bucket/prefix" the store is rooted at the bucket and
/// "s3://bucket/prefix/a" is the key "prefix/a" (URIs outside the prefix are refused).
/// </summary>
public sealed class ObjectStoreFileIO : IFileIO
{
    private readonly IObjectStore _store;
    private readonly string _root;      // the root URI without a trailing '/'
    private readonly string _keyBase;   // what the store key starts with for the root ("" or "prefix/")

    public ObjectStoreFileIO(IObjectStore store, string rootUri)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentException.ThrowIfNullOrEmpty(rootUri);
        _store = store;
        _root = rootUri.TrimEnd('/');
        if (_root.StartsWith("file://", StringComparison.Ordinal))
        {
            if (!_root.StartsWith("file:///", StringComparison.Ordinal))
                throw new ArgumentException($"file URI '{rootUri}' must be absolute (file:///path)", nameof(rootUri));
            _keyBase = "";
        }
        else if (_root.StartsWith("s3://", StringComparison.Ordinal) || _root.StartsWith("s3a://", StringComparison.Ordinal) || _root.StartsWith("gs://", StringComparison.Ordinal))
        {
            string afterScheme = _root[(_root.IndexOf("://", StringComparison.Ordinal) + 3)..];
            int slash = afterScheme.IndexOf('/');
            if ((slash < 0 ? afterScheme.Length : slash) == 0)
                throw new ArgumentException($"'{rootUri}' names no bucket", nameof(rootUri));
            _keyBase = slash < 0 ? "" : afterScheme[(slash + 1)..] + "/";
        }
        else
        {
            throw new ArgumentException($"unsupported root URI '{rootUri}': use file:///absolute/dir or s3://bucket[/prefix]", nameof(rootUri));
        }
    }

    public IObjectStore Store => _store;
    public string RootUri => _root;

    /// <summary>The store key of a URI under the root.</summary>
    public string KeyOf(string uri)
    {
        if (uri.Length > _root.Length + 1 && uri.StartsWith(_root, StringComparison.Ordinal) && uri[_root.Length] == '/')
        {
            string rest = uri[(_root.Length + 1)..];
            if (rest.Split('/').Any(s => s is "" or "." or ".."))
                throw new IcebergException($"'{uri}' is not a normalized path under {_root}");
            return _keyBase + rest;
        }
        throw new IcebergException($"'{uri}' is outside this file IO's root {_root}: the table location and warehouse must lie under it");
    }

    private string UriOf(string key) => _root + "/" + key[_keyBase.Length..];

    public Task WriteAsync(string uri, ReadOnlyMemory<byte> data, CancellationToken ct) => _store.PutAsync(KeyOf(uri), data, ct);

    public Task<bool> CreateIfAbsentAsync(string uri, ReadOnlyMemory<byte> data, CancellationToken ct) => _store.CreateIfAbsentAsync(KeyOf(uri), data, ct);

    public Task<byte[]?> ReadAsync(string uri, CancellationToken ct) => _store.GetAsync(KeyOf(uri), ct);

    public Task DeleteAsync(string uri, CancellationToken ct) => _store.DeleteAsync(KeyOf(uri), ct);

    public async IAsyncEnumerable<string> ListAsync(string prefixUri, [EnumeratorCancellation] CancellationToken ct)
    {
        string prefix;
        if (prefixUri == _root || prefixUri == _root + "/")
            prefix = _keyBase;
        else if (prefixUri.StartsWith(_root + "/", StringComparison.Ordinal))
            prefix = _keyBase + prefixUri[(_root.Length + 1)..];
        else
            throw new IcebergException($"'{prefixUri}' is outside this file IO's root {_root}");
        await foreach (ObjectInfo o in _store.ListAsync(prefix, ct).ConfigureAwait(false))
            yield return UriOf(o.Key);
    }
}
