using System.Globalization;
using System.Text;

namespace KafScale.Iceberg;

public interface ICatalog : IAsyncDisposable
{
    IFileIO FileIO { get; }
    Task EnsureNamespaceAsync(string ns, CancellationToken ct);
    /// <summary>The table's current metadata, or null when the table does not exist.</summary>
    Task<TableMetadata?> LoadTableAsync(TableIdentifier id, CancellationToken ct);
    /// <summary>Throws <see cref="TableAlreadyExistsException"/> when it exists (callers then load it).</summary>
    Task<TableMetadata> CreateTableAsync(TableIdentifier id, IcebergSchema schema, PartitionSpec spec,
        IReadOnlyDictionary<string, string> properties, CancellationToken ct);
    /// <summary>Commits updates on top of <paramref name="base"/>; <see cref="CommitConflictException"/> when base is no longer current.</summary>
    Task<TableMetadata> CommitAsync(TableIdentifier id, TableMetadata @base, IReadOnlyList<TableUpdate> updates, CancellationToken ct);
}

/// <summary>
/// The Hadoop-layout catalog on a file system or object store:
/// &lt;warehouse&gt;/&lt;ns levels&gt;/&lt;table&gt;/metadata/vN.metadata.json and version-hint.text.
/// A commit is the conditional create of v(N+1).metadata.json: whoever creates it first wins,
/// the other gets <see cref="CommitConflictException"/>. The version hint is rewritten after;
/// readers do not trust it blindly but probe for higher versions.
/// </summary>
public sealed class FilesystemCatalog : ICatalog
{
    public const string VersionHintFile = "version-hint.text";

    private readonly string _warehouse;

    public FilesystemCatalog(IFileIO io, string warehouseUri)
    {
        ArgumentNullException.ThrowIfNull(io);
        ArgumentException.ThrowIfNullOrEmpty(warehouseUri);
        FileIO = io;
        _warehouse = warehouseUri.TrimEnd('/');
    }

    public IFileIO FileIO { get; }

    public string TableLocation(TableIdentifier id)
    {
        Validate(id);
        return $"{_warehouse}/{string.Join('/', id.NamespaceLevels)}/{id.Name}";
    }

    public string MetadataFile(TableIdentifier id, int version) =>
        $"{TableLocation(id)}/metadata/v{version.ToString(CultureInfo.InvariantCulture)}.metadata.json";

    private static void Validate(TableIdentifier id)
    {
        if (string.IsNullOrEmpty(id.Name) || string.IsNullOrEmpty(id.Namespace)
            || id.NamespaceLevels.Any(l => l.Length == 0 || l.Contains('/') || l is "." or "..")
            || id.Name.Contains('/') || id.Name is "." or "..")
            throw new IcebergException($"invalid table identifier '{id}': namespace levels and table name must be non-empty and contain no '/'");
    }

    /// <summary>Namespaces are directories here: nothing to create.</summary>
    public Task EnsureNamespaceAsync(string ns, CancellationToken ct)
    {
        Validate(new TableIdentifier(ns, "t"));
        return Task.CompletedTask;
    }

    public async Task<TableMetadata?> LoadTableAsync(TableIdentifier id, CancellationToken ct)
    {
        int? version = await CurrentVersionAsync(id, listOnly: false, ct).ConfigureAwait(false);
        if (version is null)
            return null;
        int v = version.Value;
        byte[]? data = await FileIO.ReadAsync(MetadataFile(id, v), ct).ConfigureAwait(false);
        if (data is null && await CurrentVersionAsync(id, listOnly: true, ct).ConfigureAwait(false) is int listed)
        {
            // The hint names a version that is not there (a hand-edited or restored directory): trust the listing.
            v = listed;
            data = await FileIO.ReadAsync(MetadataFile(id, v), ct).ConfigureAwait(false);
        }
        // Probe past the hint: a committer may have died between the create and the hint update.
        while (true)
        {
            byte[]? next = await FileIO.ReadAsync(MetadataFile(id, v + 1), ct).ConfigureAwait(false);
            if (next is null)
                break;
            v++;
            data = next;
        }
        if (data is null)
            throw new IcebergException($"table {id}: {VersionHintFile} names version {v}, but no vN.metadata.json is readable under {TableLocation(id)}/metadata");
        return TableMetadata.Parse(data).WithMetadataLocation(MetadataFile(id, v));
    }

    private async Task<int?> CurrentVersionAsync(TableIdentifier id, bool listOnly, CancellationToken ct)
    {
        string metadataDir = TableLocation(id) + "/metadata";
        byte[]? hint = listOnly ? null : await FileIO.ReadAsync(metadataDir + "/" + VersionHintFile, ct).ConfigureAwait(false);
        if (hint is not null && int.TryParse(Encoding.UTF8.GetString(hint).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int hinted) && hinted > 0)
            return hinted;
        // No (readable) hint: the highest vN.metadata.json wins.
        int? best = null;
        await foreach (string uri in FileIO.ListAsync(metadataDir + "/", ct).ConfigureAwait(false))
        {
            if (ParseVersion(uri) is int n && (best is null || n > best))
                best = n;
        }
        return best;
    }

    /// <summary>N of a ".../vN.metadata.json" URI, or null.</summary>
    public static int? ParseVersion(string uri)
    {
        string name = uri[(uri.LastIndexOf('/') + 1)..];
        if (!name.StartsWith('v') || !name.EndsWith(".metadata.json", StringComparison.Ordinal))
            return null;
        return int.TryParse(name.AsSpan(1, name.Length - 1 - ".metadata.json".Length), NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n : null;
    }

    public async Task<TableMetadata> CreateTableAsync(TableIdentifier id, IcebergSchema schema, PartitionSpec spec,
        IReadOnlyDictionary<string, string> properties, CancellationToken ct)
    {
        if (await LoadTableAsync(id, ct).ConfigureAwait(false) is not null)
            throw new TableAlreadyExistsException($"table {id} already exists");
        TableMetadata metadata = TableMetadata.NewTable(TableLocation(id), schema, spec, properties);
        string path = MetadataFile(id, 1);
        if (!await FileIO.CreateIfAbsentAsync(path, metadata.ToJson(), ct).ConfigureAwait(false))
            throw new TableAlreadyExistsException($"table {id} already exists (created concurrently)");
        await WriteHintAsync(id, 1, ct).ConfigureAwait(false);
        return metadata.WithMetadataLocation(path);
    }

    public async Task<TableMetadata> CommitAsync(TableIdentifier id, TableMetadata @base, IReadOnlyList<TableUpdate> updates, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(@base);
        int version = (@base.MetadataLocation is { } loc && loc.StartsWith(TableLocation(id) + "/metadata/", StringComparison.Ordinal) ? ParseVersion(loc) : null)
            ?? throw new ArgumentException($"the base metadata of {id} was not loaded from this catalog (metadata location '{@base.MetadataLocation}')", nameof(@base));
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        TableMetadata next = @base.WithPreviousFileLogged(now).Apply(updates, now);
        string path = MetadataFile(id, version + 1);
        if (!await FileIO.CreateIfAbsentAsync(path, next.ToJson(), ct).ConfigureAwait(false))
            throw new CommitConflictException($"table {id}: version {version + 1} was committed by another writer; reload and retry");
        try
        {
            await WriteHintAsync(id, version + 1, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The commit is durable; readers probe past a stale hint.
        }
        return next.WithMetadataLocation(path);
    }

    private Task WriteHintAsync(TableIdentifier id, int version, CancellationToken ct) =>
        FileIO.WriteAsync($"{TableLocation(id)}/metadata/{VersionHintFile}", Encoding.UTF8.GetBytes(version.ToString(CultureInfo.InvariantCulture)), ct);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
