using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using KafScale.Metadata;
using KafScale.Observability;
using KafScale.Processor;
using KafScale.Processor.Config;
using KafScale.Processor.Leases;
using KafScale.Processor.Tables;
using KafScale.Storage;
using KafScale.Storage.S3;
using Microsoft.Extensions.Logging;

namespace KafScale.Cli;

internal static class ProcessorCommand
{
    public static Command Create()
    {
        var command = new Command("processor", "Processors that read segments straight from object storage.");
        command.Subcommands.Add(IcebergProcessorCommand.Create());
        return command;
    }
}

/// <summary>
/// <c>kafscale processor iceberg</c>: turns topics' segments into Iceberg tables (Parquet data
/// files), reading the bucket directly; no broker needs to be up.
/// </summary>
internal static class IcebergProcessorCommand
{
    private static readonly Option<string> Topics = new("--topics") { Description = "Topics to process, comma-separated [env KAFSCALE_PROCESSOR_TOPICS, default: the topics of --config]" };
    private static readonly Option<string> Warehouse = new("--warehouse") { Description = "Where tables live: a directory, file:///dir or s3://bucket/prefix (with --catalog rest: the storage root for data files) [env KAFSCALE_PROCESSOR_WAREHOUSE, required]" };
    private static readonly Option<string> Namespace = new("--namespace") { Description = "Iceberg namespace of the tables [env KAFSCALE_PROCESSOR_NAMESPACE, default kafscale]" };
    private static readonly Option<string> Catalog = new("--catalog") { Description = "filesystem (Hadoop layout under --warehouse) or rest [env KAFSCALE_PROCESSOR_CATALOG, default filesystem]" };
    private static readonly Option<string> CatalogUri = new("--catalog-uri") { Description = "REST catalog base URL, e.g. http://polaris:8181/api/catalog [env KAFSCALE_PROCESSOR_CATALOG_URI]" };
    private static readonly Option<string> CatalogWarehouse = new("--catalog-warehouse") { Description = "Warehouse name sent to the REST catalog [env KAFSCALE_PROCESSOR_CATALOG_WAREHOUSE]" };
    private static readonly Option<string> CatalogToken = new("--catalog-token") { Description = "Bearer token for the REST catalog [env KAFSCALE_PROCESSOR_CATALOG_TOKEN]" };
    private static readonly Option<string> CatalogCredential = new("--catalog-credential") { Description = "OAuth2 client credential CLIENT_ID:SECRET for the REST catalog [env KAFSCALE_PROCESSOR_CATALOG_CREDENTIAL]" };
    private static readonly Option<string> CatalogScope = new("--catalog-scope") { Description = "OAuth2 scope; Polaris wants PRINCIPAL_ROLE:ALL [env KAFSCALE_PROCESSOR_CATALOG_SCOPE, default catalog]" };
    private static readonly Option<string> CatalogOAuthUri = new("--catalog-oauth-uri") { Description = "OAuth2 token endpoint [env KAFSCALE_PROCESSOR_CATALOG_OAUTH_URI, default --catalog-uri/v1/oauth/tokens]" };
    private static readonly Option<bool> Once = new("--once") { Description = "Process every complete segment present, then exit 0 [env KAFSCALE_PROCESSOR_ONCE=true]" };
    private static readonly Option<string> PollInterval = new("--poll-interval") { Description = "Pause between rounds when not --once: 500ms, 10s, 1m [env KAFSCALE_PROCESSOR_POLL_INTERVAL, default 10s]" };
    private static readonly Option<string> ConfigFile = new("--config") { Description = "YAML or JSON file with per-topic mappings (table, columns, partition) [env KAFSCALE_PROCESSOR_CONFIG]" };
    private static readonly Option<string> Group = new("--group") { Description = "With --etcd-endpoints: instances of one group split the partitions [env KAFSCALE_PROCESSOR_GROUP, default: derived from --warehouse]" };
    private static readonly Option<string> InstanceId = new("--instance-id") { Description = "This instance's name in its group [env KAFSCALE_PROCESSOR_INSTANCE_ID, default HOST-PID-RANDOM]" };
    private static readonly Option<string> LeaseTtl = new("--lease-ttl-ms") { Description = "With --etcd-endpoints: how soon a dead instance's partitions move [env KAFSCALE_PROCESSOR_LEASE_TTL_MS, default 10000]" };
    private static readonly Option<string> MaxCommitBytes = new("--max-commit-bytes") { Description = "Segment bytes read for one commit of a table [env KAFSCALE_PROCESSOR_MAX_COMMIT_BYTES, default 268435456]" };
    private static readonly Option<string> TargetFileBytes = new("--target-file-bytes") { Description = "Record bytes after which a data file is closed [env KAFSCALE_PROCESSOR_TARGET_FILE_BYTES, default 134217728]" };
    private static readonly Option<string> Compression = new("--compression") { Description = "Parquet compression: zstd, snappy or none [env KAFSCALE_PROCESSOR_COMPRESSION, default zstd]" };
    private static readonly Option<string> Parallelism = new("--parallelism") { Description = "Partitions processed at once [env KAFSCALE_PROCESSOR_PARALLELISM, default: processor count]" };
    private static readonly Option<string> Http = new("--http") { Description = "HTTP listener for /metrics, /healthz, /readyz, or 'off' [env KAFSCALE_METRICS_ADDR, default 0.0.0.0:9094]" };
    private static readonly Option<string> LogLevel = new("--log-level") { Description = "trace|debug|info|warn|error [env KAFSCALE_LOG_LEVEL, default info]" };
    private static readonly Option<string> LogFormat = new("--log-format") { Description = "text|json [env KAFSCALE_LOG_FORMAT, default text]" };

    private static readonly StorageOptions Storage = new();

    public const string DefaultHttp = "0.0.0.0:9094";

    public static Command Create()
    {
        var command = new Command("iceberg", "Write topics into Iceberg tables (Parquet), exactly once, reading segments from the bucket (no broker needed).");
        foreach (var o in new Option[] { Topics, Warehouse, Namespace, Catalog, CatalogUri, CatalogWarehouse, CatalogToken, CatalogCredential, CatalogScope, CatalogOAuthUri, Once, PollInterval, ConfigFile })
            command.Options.Add(o);
        Storage.AddTo(command);
        Storage.EtcdEndpoints.Description = "etcd endpoints, host:port or http(s)://host:port, comma-separated, for several instances splitting the partitions; credentials from KAFSCALE_ETCD_USERNAME / KAFSCALE_ETCD_PASSWORD [env KAFSCALE_ETCD_ENDPOINTS, default: none, this instance owns every partition]";
        Storage.DataDir.Description = "Directory whose objects/ holds the segments (the broker's --data-dir) [env KAFSCALE_DATA_DIR, default ./kafscale-data]";
        foreach (var o in new Option[] { Group, InstanceId, LeaseTtl, MaxCommitBytes, TargetFileBytes, Compression, Parallelism, Http, LogLevel, LogFormat })
            command.Options.Add(o);
        command.SetAction(RunAsync);
        return command;
    }

    private sealed record Resolved(
        ProcessorOptions Options, StorageSettings Storage, WarehouseLocation Warehouse, S3StoreOptions? WarehouseS3, CatalogSettings Catalog,
        string Group, string InstanceId, TimeSpan LeaseTtl, string Compression, IPEndPoint? Http, LogLevel Level, bool Json);

    private static async Task<int> RunAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        Resolved r;
        try { r = Resolve(new Settings(parse), parse); }
        catch (SettingException ex)
        {
            Console.Error.WriteLine($"kafscale processor iceberg: {ex.Message}");
            return 2;
        }

        using var loggerFactory = Logging.Create(r.Level, r.Json);
        var log = loggerFactory.CreateLogger("kafscale.processor");
        using var stopAfterRound = new CancellationTokenSource();
        // SIGTERM/SIGINT (turned into this token by the command-line host) lets the round in
        // progress commit, then the loop ends; the host bounds how long that may take.
        void SoftStop()
        {
            try
            {
                if (stopAfterRound.IsCancellationRequested) return;
                log.LogInformation("stop requested: finishing the current round");
                stopAfterRound.Cancel();
            }
            catch (ObjectDisposedException) { }
        }
        using var hostStop = cancellationToken.Register(SoftStop);

        var registry = new MetricsRegistry();
        var metrics = new ProcessorMetrics(registry);
        HttpEndpoint? http = null;
        IObjectStore? segments = null;
        IMetadataStore? metadata = null;
        IPartitionOwnership? ownership = null;
        ITableStore? tables = null;
        try
        {
            ProcessorService? service = null;
            if (r.Http is not null)
            {
                try { http = new HttpEndpoint(r.Http, log); }
                catch (Exception ex) when (ex is System.Net.Sockets.SocketException)
                {
                    throw new ProcessorException($"cannot listen on {r.Http} for --http (KAFSCALE_METRICS_ADDR): {ex.Message}; pick another address or 'off'");
                }
                http.Map("/metrics", () => new HttpReply(200, "text/plain; version=0.0.4", registry.Render()));
                http.Map("/healthz", () => new HttpReply(200, "text/plain", "ok\n"));
                http.Map("/readyz", () => service?.Ready == true ? new HttpReply(200, "text/plain", "ready\n") : new HttpReply(503, "text/plain", "not ready: first round not finished\n"));
                http.Start();
            }
            segments = await r.Storage.OpenObjectStoreAsync(loggerFactory.CreateLogger("kafscale.s3"), cancellationToken).ConfigureAwait(false);
            tables = await TableBackend.OpenAsync(r.Warehouse, r.WarehouseS3, r.Catalog, r.Options.CommitAttempts, loggerFactory.CreateLogger("kafscale.iceberg"), cancellationToken).ConfigureAwait(false);
            if (r.Storage.UsesEtcd)
            {
                metadata = await r.Storage.OpenMetadataStoreAsync(cancellationToken).ConfigureAwait(false);
                ownership = await LeaseOwnership.StartAsync(metadata, $"/kafscale/processors/{r.Group}", r.InstanceId, r.LeaseTtl, log, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                ownership = new SoleOwnership();
            }
            service = new ProcessorService(r.Options, segments, tables, TableBackend.Format(r.Compression), ownership, metrics, log);
            int code = await service.RunAsync(CancellationToken.None, stopAfterRound.Token).ConfigureAwait(false);
            return code;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            log.LogInformation("stopped");
            return 0;
        }
        catch (Exception ex) when (ex is ProcessorException or StorageOpenException or TableBackendException)
        {
            Console.Error.WriteLine($"kafscale processor iceberg: {ex.Message}");
            return 1;
        }
        finally
        {
            if (ownership is not null) await ownership.DisposeAsync().ConfigureAwait(false);
            if (metadata is not null) await metadata.DisposeAsync().ConfigureAwait(false);
            if (tables is not null) await tables.DisposeAsync().ConfigureAwait(false);
            if (segments is not null) await segments.DisposeAsync().ConfigureAwait(false);
            if (http is not null) await http.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static Resolved Resolve(Settings s, ParseResult parse)
    {
        var storage = Storage.Resolve(s);
        ProcessorConfig config = new();
        if (s.Raw(ConfigFile, "KAFSCALE_PROCESSOR_CONFIG") is string path)
        {
            try { config = ProcessorConfig.Load(path); }
            catch (ConfigException ex) { throw new SettingException($"bad --config (KAFSCALE_PROCESSOR_CONFIG): {ex.Message}"); }
        }
        var topics = (s.Raw(Topics, "KAFSCALE_PROCESSOR_TOPICS") ?? "")
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var t in topics)
            if (t.Contains('/') || t is "." or "..")
                throw new SettingException($"invalid topic '{t}' in --topics (KAFSCALE_PROCESSOR_TOPICS)");
        if (topics.Length == 0 && config.Topics.Count == 0)
            throw new SettingException("--topics (KAFSCALE_PROCESSOR_TOPICS) is required unless --config names topics");
        string ns = s.String(Namespace, "KAFSCALE_PROCESSOR_NAMESPACE", "kafscale");
        if (ns.Length == 0 || ns.Contains('/') || ns.StartsWith('.') || ns.EndsWith('.'))
            throw new SettingException($"invalid value '{ns}' for --namespace (KAFSCALE_PROCESSOR_NAMESPACE): expected a name like kafscale or lake.raw");
        var warehouseRaw = s.Raw(Warehouse, "KAFSCALE_PROCESSOR_WAREHOUSE")
            ?? throw new SettingException("--warehouse (KAFSCALE_PROCESSOR_WAREHOUSE) is required: a directory, file:///dir or s3://bucket/prefix");
        var warehouse = WarehouseLocation.Parse(warehouseRaw, "--warehouse (KAFSCALE_PROCESSOR_WAREHOUSE)");

        string catalogKind = s.String(Catalog, "KAFSCALE_PROCESSOR_CATALOG", "filesystem").ToLowerInvariant();
        if (catalogKind is not ("filesystem" or "rest"))
            throw new SettingException($"invalid value '{catalogKind}' for --catalog (KAFSCALE_PROCESSOR_CATALOG): expected filesystem or rest");
        string? uri = s.Raw(CatalogUri, "KAFSCALE_PROCESSOR_CATALOG_URI");
        if (catalogKind == "rest")
        {
            if (uri is null) throw new SettingException("--catalog rest needs --catalog-uri (KAFSCALE_PROCESSOR_CATALOG_URI), e.g. http://polaris:8181/api/catalog");
            if (!Uri.TryCreate(uri, UriKind.Absolute, out var u) || u.Scheme is not ("http" or "https"))
                throw new SettingException($"invalid value '{uri}' for --catalog-uri (KAFSCALE_PROCESSOR_CATALOG_URI): expected an http(s) URL");
        }
        else if (uri is not null)
        {
            throw new SettingException("--catalog-uri (KAFSCALE_PROCESSOR_CATALOG_URI) needs --catalog rest");
        }
        string? credential = s.Raw(CatalogCredential, "KAFSCALE_PROCESSOR_CATALOG_CREDENTIAL");
        if (credential is not null && credential.IndexOf(':') <= 0)
            throw new SettingException("invalid value for --catalog-credential (KAFSCALE_PROCESSOR_CATALOG_CREDENTIAL): expected CLIENT_ID:SECRET");
        var catalog = new CatalogSettings(catalogKind, uri, s.Raw(CatalogWarehouse, "KAFSCALE_PROCESSOR_CATALOG_WAREHOUSE"),
            s.Raw(CatalogToken, "KAFSCALE_PROCESSOR_CATALOG_TOKEN"), credential, s.String(CatalogScope, "KAFSCALE_PROCESSOR_CATALOG_SCOPE", "catalog"), s.Raw(CatalogOAuthUri, "KAFSCALE_PROCESSOR_CATALOG_OAUTH_URI"));

        bool once = parse.GetResult(Once) is { Implicit: false } ? parse.GetValue(Once) : EnvBool("KAFSCALE_PROCESSOR_ONCE");
        var poll = Duration(s.Raw(PollInterval, "KAFSCALE_PROCESSOR_POLL_INTERVAL") ?? "10s", "--poll-interval (KAFSCALE_PROCESSOR_POLL_INTERVAL)");
        string compression = s.String(Compression, "KAFSCALE_PROCESSOR_COMPRESSION", "zstd").ToLowerInvariant();
        if (compression is not ("zstd" or "snappy" or "none"))
            throw new SettingException($"invalid value '{compression}' for --compression (KAFSCALE_PROCESSOR_COMPRESSION): expected zstd, snappy or none");
        string httpRaw = s.String(Http, "KAFSCALE_METRICS_ADDR", DefaultHttp);
        IPEndPoint? httpEndpoint = httpRaw.Equals("off", StringComparison.OrdinalIgnoreCase) ? null : s.Endpoint(Http, "KAFSCALE_METRICS_ADDR", DefaultHttp);
        string group = s.String(Group, "KAFSCALE_PROCESSOR_GROUP", DefaultGroup(warehouse.Uri, ns));
        if (group.Length == 0 || group.Contains('/'))
            throw new SettingException($"invalid value '{group}' for --group (KAFSCALE_PROCESSOR_GROUP): no '/' allowed");
        string instance = s.String(InstanceId, "KAFSCALE_PROCESSOR_INSTANCE_ID",
            $"{Dns.GetHostName()}-{Environment.ProcessId}-{RandomNumberGenerator.GetHexString(4, lowercase: true)}");
        if (instance.Contains('/')) throw new SettingException($"invalid value '{instance}' for --instance-id (KAFSCALE_PROCESSOR_INSTANCE_ID): no '/' allowed");

        var options = new ProcessorOptions
        {
            Topics = topics,
            SegmentNamespace = storage.Namespace,
            TableNamespace = ns,
            Config = config,
            Once = once,
            PollInterval = poll,
            MaxCommitBytes = s.Long(MaxCommitBytes, "KAFSCALE_PROCESSOR_MAX_COMMIT_BYTES", 256L * 1024 * 1024, 1024 * 1024, 64L * 1024 * 1024 * 1024),
            TargetFileBytes = s.Long(TargetFileBytes, "KAFSCALE_PROCESSOR_TARGET_FILE_BYTES", 128L * 1024 * 1024, 1024 * 1024, 16L * 1024 * 1024 * 1024),
            Parallelism = s.Int(Parallelism, "KAFSCALE_PROCESSOR_PARALLELISM", Math.Max(1, Environment.ProcessorCount), 1, 256),
        };
        S3StoreOptions? warehouseS3 = null;
        if (warehouse.Bucket is not null)
        {
            // The warehouse bucket is reached with the same endpoint and credentials as the segments.
            warehouseS3 = storage.S3 is not null
                ? storage.S3 with { Bucket = warehouse.Bucket, ReadBucket = null, CreateBucketIfMissing = false }
                : new S3StoreOptions
                {
                    Bucket = warehouse.Bucket,
                    Endpoint = s.Raw(Storage.S3Endpoint, "KAFSCALE_S3_ENDPOINT"),
                    Region = s.String(Storage.S3Region, "KAFSCALE_S3_REGION", "us-east-1"),
                    PathStyle = s.Bool(Storage.S3PathStyle, "KAFSCALE_S3_PATH_STYLE", false),
                    AccessKey = Environment.GetEnvironmentVariable("KAFSCALE_S3_ACCESS_KEY") is { Length: > 0 } a ? a : null,
                    SecretKey = Environment.GetEnvironmentVariable("KAFSCALE_S3_SECRET_KEY") is { Length: > 0 } k ? k : null,
                    SessionToken = Environment.GetEnvironmentVariable("KAFSCALE_S3_SESSION_TOKEN") is { Length: > 0 } t ? t : null,
                };
        }
        return new Resolved(options, storage, warehouse, warehouseS3, catalog, group, instance,
            TimeSpan.FromMilliseconds(s.Int(LeaseTtl, "KAFSCALE_PROCESSOR_LEASE_TTL_MS", 10_000, 2000, 300_000)), compression, httpEndpoint,
            Logging.ParseLevel(s.String(LogLevel, "KAFSCALE_LOG_LEVEL", "info"), LogLevel.Name),
            Logging.ParseFormat(s.String(LogFormat, "KAFSCALE_LOG_FORMAT", "text"), LogFormat.Name));
    }

    /// <summary>Instances writing the same warehouse and namespace share partitions by default.</summary>
    private static string DefaultGroup(string warehouseUri, string ns)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(warehouseUri.TrimEnd('/') + "|" + ns));
        return "iceberg-" + Convert.ToHexStringLower(hash.AsSpan(0, 6));
    }

    private static bool EnvBool(string name) => Environment.GetEnvironmentVariable(name)?.ToLowerInvariant() switch
    {
        null or "" or "false" or "0" or "no" or "off" => false,
        "true" or "1" or "yes" or "on" => true,
        var v => throw new SettingException($"invalid value '{v}' for {name}: expected true or false"),
    };

    /// <summary>500ms, 10s, 2m, 1h, or a bare number of seconds.</summary>
    public static TimeSpan Duration(string raw, string what)
    {
        string t = raw.Trim().ToLowerInvariant();
        (string num, double scale) = t.EndsWith("ms") ? (t[..^2], 1.0) : t.EndsWith('s') ? (t[..^1], 1000.0)
            : t.EndsWith('m') ? (t[..^1], 60_000.0) : t.EndsWith('h') ? (t[..^1], 3_600_000.0) : (t, 1000.0);
        if (!double.TryParse(num, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || v < 0 || v * scale > 86_400_000 || double.IsNaN(v))
            throw new SettingException($"invalid value '{raw}' for {what}: expected a duration like 500ms, 10s or 1m (at most 24h)");
        return TimeSpan.FromMilliseconds(Math.Max(10, v * scale));
    }
}

/// <summary>The REST (or filesystem) catalog settings.</summary>
internal sealed record CatalogSettings(string Kind, string? Uri, string? Warehouse, string? Token, string? Credential, string Scope, string? OAuthUri);

/// <summary>A parsed --warehouse: a local directory or an S3 location.</summary>
internal sealed record WarehouseLocation(string Uri, string? LocalPath, string? Bucket, string Prefix)
{
    public static WarehouseLocation Parse(string raw, string what)
    {
        string bad = $"invalid value '{raw}' for {what}: expected a directory, file:///dir or s3://bucket/prefix";
        if (raw.StartsWith("s3://", StringComparison.OrdinalIgnoreCase) || raw.StartsWith("s3a://", StringComparison.OrdinalIgnoreCase))
        {
            string rest = raw[(raw.IndexOf("://", StringComparison.Ordinal) + 3)..];
            int slash = rest.IndexOf('/');
            string bucket = slash < 0 ? rest : rest[..slash];
            string prefix = slash < 0 ? "" : rest[(slash + 1)..].Trim('/');
            if (bucket.Length < 3 || bucket.Length > 63 || !bucket.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '.'))
                throw new SettingException(bad + " (the bucket name is not valid)");
            return new WarehouseLocation(prefix.Length == 0 ? $"s3://{bucket}" : $"s3://{bucket}/{prefix}", null, bucket, prefix);
        }
        string path;
        if (raw.StartsWith("file:", StringComparison.OrdinalIgnoreCase))
        {
            if (!System.Uri.TryCreate(raw, UriKind.Absolute, out var u) || !u.IsFile) throw new SettingException(bad);
            path = u.LocalPath;
        }
        else if (raw.Contains("://", StringComparison.Ordinal))
        {
            throw new SettingException(bad + " (unsupported scheme)");
        }
        else
        {
            path = raw;
        }
        if (path.Length == 0) throw new SettingException(bad);
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        if (File.Exists(full)) throw new SettingException($"invalid value '{raw}' for {what}: {full} is a file, not a directory");
        return new WarehouseLocation("file://" + full, full, null, "");
    }
}
