using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using KafScale.Metadata;
using KafScale.Metadata.Embedded;
using KafScale.Metadata.Etcd;
using KafScale.Observability;
using KafScale.Snapshot;
using KafScale.Storage;
using Microsoft.Extensions.Logging;

namespace KafScale.Cli;

/// <summary>
/// <c>kafscale snapshot create | list | restore | prune | schedule</c>: consistent copies of the
/// metadata (etcd or the embedded store) kept in the object store under
/// <c>&lt;namespace&gt;/_snapshots/</c>. Documented in docs/snapshots.md.
/// </summary>
internal static class SnapshotCommand
{
    /// <summary>Default listener of <c>schedule</c>: next to the broker's 9092/9093, not on them.</summary>
    public const string DefaultHttp = "0.0.0.0:9095";

    public static Command Create()
    {
        var command = new Command("snapshot", "Back up and restore the metadata (topics, configs, committed offsets, group state) to and from the object store.");
        command.Subcommands.Add(CreateCommand());
        command.Subcommands.Add(ListCommand());
        command.Subcommands.Add(RestoreCommand());
        command.Subcommands.Add(PruneCommand());
        command.Subcommands.Add(ScheduleCommand());
        return command;
    }

    // ---- create ----------------------------------------------------------------------------------

    private static Command CreateCommand()
    {
        var storage = new StorageOptions();
        var native = new Option<bool>("--etcd-native") { Description = "With etcd: also stream etcd's own database (Maintenance/Snapshot) for 'etcdutl snapshot restore'" };
        var command = new Command("create", "Write a consistent snapshot of the metadata to <namespace>/_snapshots/ and print its id last.");
        storage.AddTo(command);
        command.Options.Add(native);
        command.SetAction(async (parse, ct) =>
        {
            const string name = "kafscale snapshot create";
            if (!TryResolve(parse, storage, name, out StorageSettings? settings)) return 2;
            bool etcdNative = parse.GetValue(native);
            if (etcdNative && !settings!.UsesEtcd)
                return Usage(name, "--etcd-native needs etcd (--etcd-endpoints / KAFSCALE_ETCD_ENDPOINTS); the embedded store has no etcd database to stream");
            using var loggers = Logging.Create(LogLevel.Warning, json: false);
            return await GuardAsync(name, async () =>
            {
                await using IObjectStore store = await settings!.OpenObjectStoreAsync(loggers.CreateLogger("kafscale.s3"), ct).ConfigureAwait(false);
                await using var source = await MetadataSource.OpenAsync(settings, etcdNative, ct).ConfigureAwait(false);
                var repo = new SnapshotRepository(store, settings.Namespace);
                CreatedSnapshot created = await source.CreateSnapshotAsync(repo, DateTimeOffset.UtcNow, ct).ConfigureAwait(false);
                var text = new StringBuilder();
                text.Append(CultureInfo.InvariantCulture, $"source       {source.Describe}\n");
                text.Append(CultureInfo.InvariantCulture, $"revision     {created.Revision}\n");
                text.Append(CultureInfo.InvariantCulture, $"keys         {created.Keys}\n");
                text.Append(CultureInfo.InvariantCulture, $"object       {created.DataKey} ({created.Bytes} bytes)\n");
                text.Append(CultureInfo.InvariantCulture, $"sha256       {created.Sha256}\n");
                if (created.EtcdNativeKey is not null)
                {
                    text.Append(CultureInfo.InvariantCulture, $"etcd-native  {created.EtcdNativeKey} ({created.EtcdNativeBytes} bytes)\n");
                    text.Append(CultureInfo.InvariantCulture, $"etcd-sha256  {created.EtcdNativeSha256}\n");
                }
                text.Append(created.Id).Append('\n');
                Console.Out.Write(text.ToString());
                return 0;
            }).ConfigureAwait(false);
        });
        return command;
    }

    // ---- list ------------------------------------------------------------------------------------

    private static Command ListCommand()
    {
        var storage = new StorageOptions();
        var output = new Option<string>("--output") { Description = "text (aligned table) or json [env KAFSCALE_OUTPUT, default text]" };
        var command = new Command("list", "List the snapshots in the object store, oldest first.");
        storage.AddTo(command);
        command.Options.Add(output);
        command.SetAction(async (parse, ct) =>
        {
            const string name = "kafscale snapshot list";
            if (!TryResolve(parse, storage, name, out StorageSettings? settings)) return 2;
            bool json;
            try { json = OutputOption.Parse(new Settings(parse).String(output, "KAFSCALE_OUTPUT", "text")); }
            catch (SettingException ex) { return Usage(name, ex.Message); }
            using var loggers = Logging.Create(LogLevel.Warning, json: false);
            return await GuardAsync(name, async () =>
            {
                await using IObjectStore store = await settings!.OpenObjectStoreAsync(loggers.CreateLogger("kafscale.s3"), ct).ConfigureAwait(false);
                var repo = new SnapshotRepository(store, settings.Namespace);
                List<SnapshotEntry> entries = await repo.ListAsync(readHeaders: true, ct).ConfigureAwait(false);
                if (json)
                {
                    using var stdout = Console.OpenStandardOutput();
                    using (var w = new Utf8JsonWriter(stdout, new JsonWriterOptions { Indented = true }))
                    {
                        w.WriteStartObject();
                        w.WriteString("prefix", repo.Prefix);
                        w.WriteStartArray("snapshots");
                        foreach (SnapshotEntry e in entries)
                        {
                            w.WriteStartObject();
                            w.WriteString("id", e.Id);
                            w.WriteString("time", Time(e.Time));
                            w.WriteBoolean("complete", e.IsComplete && e.Problem is null);
                            w.WriteString("object", e.DataKey);
                            if (e.DataSize is long size) w.WriteNumber("size_bytes", size); else w.WriteNull("size_bytes");
                            if (e.Header is { } h)
                            {
                                w.WriteString("source", h.Source);
                                w.WriteString("source_detail", h.SourceDetail);
                                w.WriteNumber("revision", h.Revision);
                                w.WriteNumber("keys", h.Keys);
                            }
                            if (e.EtcdNativeKey is not null)
                            {
                                w.WriteString("etcd_native_object", e.EtcdNativeKey);
                                w.WriteNumber("etcd_native_size_bytes", e.EtcdNativeSize ?? 0);
                            }
                            if (e.Problem is not null) w.WriteString("problem", e.Problem);
                            w.WriteEndObject();
                        }
                        w.WriteEndArray();
                        w.WriteEndObject();
                    }
                    stdout.Write("\n"u8);
                    return 0;
                }
                var table = new AlignedTable("ID", "TIME", "SOURCE", "REVISION", "KEYS", "SIZE_BYTES", "ETCD_NATIVE", "STATUS");
                foreach (SnapshotEntry e in entries)
                {
                    table.Add(e.Id, Time(e.Time), e.Header?.Source ?? "-", e.Header is { } h ? N(h.Revision) : "-", e.Header is { } k ? N(k.Keys) : "-",
                        e.DataSize is long s ? N(s) : "-", e.EtcdNativeKey is null ? "-" : N(e.EtcdNativeSize ?? 0), e.Problem ?? "ok");
                }
                var text = new StringBuilder();
                if (entries.Count == 0) text.Append("no snapshots under ").Append(repo.Prefix).Append('\n');
                else table.Render(text);
                Console.Out.Write(text.ToString());
                return 0;
            }).ConfigureAwait(false);
        });
        return command;
    }

    // ---- restore ---------------------------------------------------------------------------------

    private static Command RestoreCommand()
    {
        var storage = new StorageOptions();
        var id = new Argument<string>("ID") { Description = "The snapshot to restore (see 'kafscale snapshot list')" };
        var force = new Option<bool>("--force") { Description = "Delete the KafScale keys the target already holds and restore over them (never while brokers are registered)" };
        var command = new Command("restore", "Restore a snapshot into an empty embedded store or an empty etcd prefix, after checking its SHA-256. Stop the brokers first.");
        command.Arguments.Add(id);
        storage.AddTo(command);
        command.Options.Add(force);
        command.SetAction(async (parse, ct) =>
        {
            const string name = "kafscale snapshot restore";
            if (!TryResolve(parse, storage, name, out StorageSettings? settings)) return 2;
            string snapshotId = parse.GetValue(id)!;
            using var loggers = Logging.Create(LogLevel.Warning, json: false);
            return await GuardAsync(name, async () =>
            {
                await using IObjectStore store = await settings!.OpenObjectStoreAsync(loggers.CreateLogger("kafscale.s3"), ct).ConfigureAwait(false);
                var repo = new SnapshotRepository(store, settings.Namespace);
                (SnapshotContent content, string sha) = await repo.LoadVerifiedAsync(snapshotId, ct).ConfigureAwait(false);
                await using IMetadataStore target = await settings.OpenMetadataStoreAsync(ct).ConfigureAwait(false);
                RestoreResult result = await MetadataRestore.RestoreAsync(target, content, parse.GetValue(force), ct).ConfigureAwait(false);
                string where = settings.UsesEtcd ? "etcd " + string.Join(',', settings.EtcdEndpoints) : "embedded store " + settings.EmbeddedMetadataPath;
                var text = new StringBuilder();
                text.Append(CultureInfo.InvariantCulture, $"snapshot     {snapshotId} (sha256 {sha} verified)\n");
                text.Append(CultureInfo.InvariantCulture, $"taken from   {content.Header.Source} {content.Header.SourceDetail} at revision {content.Header.Revision}, {Time(content.Header.Created)}\n");
                text.Append(CultureInfo.InvariantCulture, $"restored to  {where}\n");
                if (result.KeysReplaced > 0) text.Append(CultureInfo.InvariantCulture, $"deleted      {result.KeysReplaced} existing key(s) (--force)\n");
                if (result.ProducerIdsFrom is long from)
                    text.Append(CultureInfo.InvariantCulture, $"producer ids next block moved on from {from} to {result.ProducerIdsTo} (ids handed out after the snapshot are not reused)\n");
                if (result.LeaderEpochsMoved > 0)
                    text.Append(CultureInfo.InvariantCulture, $"leader epochs of {result.LeaderEpochsMoved} partition(s) moved on by {MetadataRestore.LeaderEpochMargin}\n");
                text.Append(CultureInfo.InvariantCulture, $"keys         {result.KeysWritten}\n");
                Console.Out.Write(text.ToString());
                return 0;
            }).ConfigureAwait(false);
        });
        return command;
    }

    // ---- prune -----------------------------------------------------------------------------------

    private static Command PruneCommand()
    {
        var storage = new StorageOptions();
        var keep = new Option<string>("--keep") { Description = "Keep the newest N snapshots" };
        var olderThan = new Option<string>("--older-than") { Description = "Delete snapshots older than this: 30s, 15m, 6h, 7d, 2w, 1h30m" };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print what would be deleted, delete nothing" };
        var command = new Command("prune", "Delete old snapshots: --keep N keeps the newest N, --older-than D deletes those older than D; both: only what both select.");
        storage.AddTo(command);
        command.Options.Add(keep);
        command.Options.Add(olderThan);
        command.Options.Add(dryRun);
        command.SetAction(async (parse, ct) =>
        {
            const string name = "kafscale snapshot prune";
            if (!TryResolve(parse, storage, name, out StorageSettings? settings)) return 2;
            int? keepN;
            TimeSpan? age;
            try
            {
                (keepN, age) = RetentionOptions(parse, keep, olderThan, null, null);
            }
            catch (SettingException ex) { return Usage(name, ex.Message); }
            if (keepN is null && age is null) return Usage(name, "give --keep N, --older-than D, or both");
            using var loggers = Logging.Create(LogLevel.Warning, json: false);
            return await GuardAsync(name, async () =>
            {
                await using IObjectStore store = await settings!.OpenObjectStoreAsync(loggers.CreateLogger("kafscale.s3"), ct).ConfigureAwait(false);
                var repo = new SnapshotRepository(store, settings.Namespace);
                List<SnapshotEntry> entries = await repo.ListAsync(readHeaders: false, ct).ConfigureAwait(false);
                List<SnapshotEntry> doomed = SnapshotRepository.SelectForPrune(entries, keepN, age, DateTimeOffset.UtcNow);
                bool dry = parse.GetValue(dryRun);
                var text = new StringBuilder();
                foreach (SnapshotEntry e in doomed)
                {
                    if (!dry) await repo.DeleteAsync(e.Id, ct).ConfigureAwait(false);
                    text.Append(dry ? "would delete " : "deleted ").Append(e.Id).Append('\n');
                }
                text.Append(CultureInfo.InvariantCulture, $"{(dry ? "would delete" : "deleted")} {doomed.Count} snapshot(s), kept {entries.Count - doomed.Count}\n");
                Console.Out.Write(text.ToString());
                return 0;
            }).ConfigureAwait(false);
        });
        return command;
    }

    private static (int? Keep, TimeSpan? OlderThan) RetentionOptions(ParseResult parse, Option<string> keep, Option<string> olderThan, string? keepEnv, string? olderEnv)
    {
        var s = new Settings(parse);
        string? keepRaw = keepEnv is null ? Explicit(parse, keep) : s.Raw(keep, keepEnv);
        string? ageRaw = olderEnv is null ? Explicit(parse, olderThan) : s.Raw(olderThan, olderEnv);
        int? keepN = null;
        TimeSpan? age = null;
        if (keepRaw is not null)
        {
            if (!int.TryParse(keepRaw, NumberStyles.None, CultureInfo.InvariantCulture, out int k) || k < 1)
                throw new SettingException($"invalid value '{keepRaw}' for --keep{EnvNote(keepEnv)}: expected a whole number of snapshots, 1 or more");
            keepN = k;
        }
        if (ageRaw is not null)
        {
            if (!Durations.TryParse(ageRaw, out TimeSpan d) || d <= TimeSpan.Zero)
                throw new SettingException($"invalid value '{ageRaw}' for --older-than{EnvNote(olderEnv)}: expected a duration such as 30s, 15m, 6h, 7d or 2w");
            age = d;
        }
        return (keepN, age);
    }

    private static string EnvNote(string? env) => env is null ? "" : $" ({env})";

    private static string? Explicit(ParseResult parse, Option<string> option) =>
        parse.GetResult(option) is { Implicit: false } ? parse.GetValue(option) : null;

    // ---- schedule --------------------------------------------------------------------------------

    private static Command ScheduleCommand()
    {
        var storage = new StorageOptions();
        var interval = new Option<string>("--interval") { Description = "Time between snapshots: 30s, 15m, 6h, 1d [env KAFSCALE_SNAPSHOT_INTERVAL, default 1h]" };
        var http = new Option<string>("--http") { Description = $"HTTP listener for /metrics (kafscale_snapshot_age_seconds) and /healthz [env KAFSCALE_SNAPSHOT_HTTP_ADDR, default {DefaultHttp}]" };
        var keep = new Option<string>("--keep") { Description = "After each snapshot, keep only the newest N [env KAFSCALE_SNAPSHOT_KEEP]" };
        var olderThan = new Option<string>("--older-than") { Description = "After each snapshot, delete those older than D [env KAFSCALE_SNAPSHOT_OLDER_THAN]" };
        var native = new Option<bool>("--etcd-native") { Description = "With etcd: also stream etcd's own database each time" };
        var logLevel = new Option<string>("--log-level") { Description = "trace|debug|info|warn|error [env KAFSCALE_LOG_LEVEL, default info]" };
        var logFormat = new Option<string>("--log-format") { Description = "text|json [env KAFSCALE_LOG_FORMAT, default text]" };
        var command = new Command("schedule", "Run until stopped, taking a snapshot every --interval (the first at once); serves kafscale_snapshot_age_seconds on --http for alerting.");
        storage.AddTo(command);
        foreach (Option o in new Option[] { interval, http, keep, olderThan, native, logLevel, logFormat }) command.Options.Add(o);
        command.SetAction(async (parse, ct) =>
        {
            const string name = "kafscale snapshot schedule";
            if (!TryResolve(parse, storage, name, out StorageSettings? settings)) return 2;
            TimeSpan every;
            IPEndPoint endpoint;
            int? keepN;
            TimeSpan? age;
            LogLevel level;
            bool jsonLogs;
            try
            {
                var s = new Settings(parse);
                string raw = s.String(interval, "KAFSCALE_SNAPSHOT_INTERVAL", "1h");
                if (!Durations.TryParse(raw, out every) || every < TimeSpan.FromSeconds(1))
                    throw new SettingException($"invalid value '{raw}' for --interval (KAFSCALE_SNAPSHOT_INTERVAL): expected a duration of 1s or more such as 30s, 15m, 6h or 1d");
                endpoint = s.Endpoint(http, "KAFSCALE_SNAPSHOT_HTTP_ADDR", DefaultHttp);
                (keepN, age) = RetentionOptions(parse, keep, olderThan, "KAFSCALE_SNAPSHOT_KEEP", "KAFSCALE_SNAPSHOT_OLDER_THAN");
                level = Logging.ParseLevel(s.String(logLevel, "KAFSCALE_LOG_LEVEL", "info"), logLevel.Name);
                jsonLogs = Logging.ParseFormat(s.String(logFormat, "KAFSCALE_LOG_FORMAT", "text"), logFormat.Name);
                if (parse.GetValue(native) && !settings!.UsesEtcd)
                    throw new SettingException("--etcd-native needs etcd (--etcd-endpoints / KAFSCALE_ETCD_ENDPOINTS)");
            }
            catch (SettingException ex) { return Usage(name, ex.Message); }
            return await RunScheduleAsync(settings!, every, endpoint, keepN, age, parse.GetValue(native), level, jsonLogs, ct).ConfigureAwait(false);
        });
        return command;
    }

    private static async Task<int> RunScheduleAsync(StorageSettings settings, TimeSpan every, IPEndPoint endpoint, int? keep, TimeSpan? olderThan,
        bool etcdNative, LogLevel level, bool jsonLogs, CancellationToken cancellationToken)
    {
        using var loggers = Logging.Create(level, jsonLogs);
        ILogger log = loggers.CreateLogger("kafscale.snapshot");
        // SIGTERM and SIGINT cancel cancellationToken (Program.cs gives the command time to finish).

        IObjectStore store;
        try
        {
            store = await settings.OpenObjectStoreAsync(loggers.CreateLogger("kafscale.s3"), cancellationToken).ConfigureAwait(false);
        }
        catch (StorageOpenException ex)
        {
            log.LogCritical("{Message}", ex.Message);
            return 1;
        }
        catch (OperationCanceledException) { return 0; }
        await using var _ = store;
        var repo = new SnapshotRepository(store, settings.Namespace);
        var scheduler = new SnapshotScheduler(repo, async ct => await MetadataSource.OpenAsync(settings, etcdNative, ct).ConfigureAwait(false),
            new SnapshotSchedule(every, keep, olderThan), log);
        await scheduler.LoadExistingAsync(cancellationToken).ConfigureAwait(false);
        var registry = new MetricsRegistry();
        scheduler.RegisterMetrics(registry);

        HttpEndpoint httpEndpoint;
        try
        {
            httpEndpoint = new HttpEndpoint(endpoint, loggers.CreateLogger("kafscale.http"));
        }
        catch (SocketException ex)
        {
            log.LogCritical("cannot listen on {Endpoint} for --http / KAFSCALE_SNAPSHOT_HTTP_ADDR: {Error}; pick a free HOST:PORT", endpoint, ex.Message);
            return 1;
        }
        await using var __ = httpEndpoint;
        httpEndpoint.Map("/metrics", () => new HttpReply(200, "text/plain; version=0.0.4; charset=utf-8", registry.Render()));
        httpEndpoint.Map("/healthz", () => scheduler.LastError is not { } error
            ? new HttpReply(200, "text/plain", "ok\n")
            : new HttpReply(200, "text/plain", "ok (last snapshot failed: " + error + ")\n"));
        httpEndpoint.Start();
        log.LogInformation("taking a metadata snapshot every {Interval} into {Prefix}; metrics on http://{Endpoint}/metrics", Durations.Format(every), repo.Prefix, httpEndpoint.LocalEndPoint);

        await scheduler.RunAsync(cancellationToken).ConfigureAwait(false);
        log.LogInformation("stopped");
        return 0;
    }

    // ---- shared ----------------------------------------------------------------------------------

    private static bool TryResolve(ParseResult parse, StorageOptions storage, string name, out StorageSettings? settings)
    {
        try
        {
            settings = storage.Resolve(new Settings(parse));
            return true;
        }
        catch (SettingException ex)
        {
            Console.Error.WriteLine($"{name}: {ex.Message}");
            settings = null;
            return false;
        }
    }

    private static int Usage(string name, string message)
    {
        Console.Error.WriteLine($"{name}: {message}");
        return 2;
    }

    /// <summary>Runs an action; every expected failure becomes one line on stderr and exit code 1.</summary>
    private static async Task<int> GuardAsync(string name, Func<Task<int>> action)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return 130;
        }
        catch (Exception ex) when (ex is StorageOpenException or SnapshotIntegrityException or RestoreRefusedException or SnapshotFormatException
            or MetadataStoreException or IOException or UnauthorizedAccessException or HttpRequestException or ArgumentException
            or Amazon.Runtime.AmazonServiceException or InvalidDataException)
        {
            Console.Error.WriteLine($"{name}: {ex.Message}");
            return 1;
        }
    }

    private static string N(long v) => v.ToString(CultureInfo.InvariantCulture);

    private static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
}

/// <summary>
/// Where a snapshot's keys come from: etcd (one range read at one revision, paged) or the
/// embedded store's files (read without opening the store; see <see cref="EmbeddedStoreReader"/>).
/// </summary>
internal sealed class MetadataSource : ISnapshotSource
{
    private readonly StorageSettings _settings;
    private readonly EtcdMetadataStore? _etcd;
    private readonly bool _etcdNative;

    private MetadataSource(StorageSettings settings, EtcdMetadataStore? etcd, bool etcdNative)
    {
        _settings = settings;
        _etcd = etcd;
        _etcdNative = etcdNative;
    }

    public string Describe => _etcd is not null ? "etcd " + string.Join(',', _settings.EtcdEndpoints) : "embedded " + _settings.EmbeddedMetadataPath;

    /// <param name="etcdNative">With etcd: also stream etcd's own database into each snapshot.</param>
    public static async Task<MetadataSource> OpenAsync(StorageSettings settings, bool etcdNative, CancellationToken ct)
    {
        if (!settings.UsesEtcd) return new MetadataSource(settings, null, false);
        IMetadataStore store = await settings.OpenMetadataStoreAsync(ct).ConfigureAwait(false);
        return new MetadataSource(settings, (EtcdMetadataStore)store, etcdNative);
    }

    public async Task<CreatedSnapshot> CreateSnapshotAsync(SnapshotRepository repo, DateTimeOffset now, CancellationToken ct)
    {
        MetadataImage image;
        ReadOnlyMemory<byte>? native = null;
        if (_etcd is not null)
        {
            RangeResult range = await _etcd.GetPrefixAtOneRevisionAsync(SnapshotFormat.Prefix, 1000, ct).ConfigureAwait(false);
            image = new MetadataImage("etcd", string.Join(',', _settings.EtcdEndpoints), range.Revision, range.Kvs, WhileOpen: false);
            if (_etcdNative)
            {
                using var buffer = new MemoryStream();
                await _etcd.StreamSnapshotAsync(buffer, ct).ConfigureAwait(false);
                native = buffer.ToArray();
            }
        }
        else
        {
            EmbeddedImage embedded;
            try
            {
                embedded = await EmbeddedStoreReader.ReadAsync(_settings.EmbeddedMetadataPath, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
            {
                throw new StorageOpenException(ex.Message, ex);
            }
            image = new MetadataImage("embedded", _settings.EmbeddedMetadataPath, embedded.Revision, embedded.Kvs, embedded.WhileOpen);
        }
        return await repo.CreateAsync(image, native, now, ct).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (_etcd is not null) await _etcd.DisposeAsync().ConfigureAwait(false);
    }
}
