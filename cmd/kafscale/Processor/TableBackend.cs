using KafScale.Iceberg;
using KafScale.Parquet;
using KafScale.Processor.Iceberg;
using KafScale.Processor.Tables;
using KafScale.Storage;
using KafScale.Storage.S3;
using Microsoft.Extensions.Logging;

namespace KafScale.Cli;

/// <summary>The catalog or warehouse cannot be used: one line naming the setting.</summary>
internal sealed class TableBackendException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Opens the Iceberg catalog and the Parquet format the processor writes with.</summary>
internal static class TableBackend
{
    public static IDataFileFormat Format(string compression) => new ParquetDataFileFormat(compression switch
    {
        "snappy" => ParquetCompression.Snappy,
        "none" => ParquetCompression.Uncompressed,
        _ => ParquetCompression.Zstd,
    });

    public static async Task<ITableStore> OpenAsync(WarehouseLocation warehouse, S3StoreOptions? s3, CatalogSettings catalog, int commitAttempts, ILogger log, CancellationToken ct)
    {
        IObjectStore store;
        string root;
        if (warehouse.LocalPath is string path)
        {
            try { store = new LocalDirectoryObjectStore(path); }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new TableBackendException($"cannot use '{path}' as the warehouse (--warehouse / KAFSCALE_PROCESSOR_WAREHOUSE): {ex.Message}", ex);
            }
            root = "file://" + path;
        }
        else
        {
            try { store = await S3ObjectStore.OpenAsync(s3!, log, ct).ConfigureAwait(false); }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                throw new TableBackendException($"cannot use the warehouse {warehouse.Uri} (--warehouse / KAFSCALE_PROCESSOR_WAREHOUSE, --s3-endpoint, KAFSCALE_S3_ACCESS_KEY): {ex.Message}", ex);
            }
            root = $"s3://{warehouse.Bucket}";
        }
        var io = new ObjectStoreFileIO(store, root);
        if (catalog.Kind != "rest")
            return new IcebergTableStore(new FilesystemCatalog(io, warehouse.Uri), $"the filesystem catalog at {warehouse.Uri}", commitAttempts);
        try
        {
            var rest = await RestCatalog.ConnectAsync(new RestCatalogOptions
            {
                Uri = catalog.Uri!,
                Warehouse = catalog.Warehouse,
                Token = catalog.Token,
                Credential = catalog.Credential,
                Scope = catalog.Scope,
                OAuth2ServerUri = catalog.OAuthUri,
            }, io, ct).ConfigureAwait(false);
            return new IcebergTableStore(rest, $"the REST catalog at {catalog.Uri}", commitAttempts);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new TableBackendException($"cannot use the REST catalog at {catalog.Uri} (--catalog-uri / KAFSCALE_PROCESSOR_CATALOG_URI, --catalog-token, --catalog-credential): {ex.Message}", ex);
        }
    }
}
