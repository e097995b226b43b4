using System.CommandLine;
using System.Net;
using KafScale.Broker;
using KafScale.Broker.Security;
using KafScale.Storage.S3;
using KafScale.WebConsole;
using Microsoft.Extensions.Logging;

namespace KafScale.Cli;

internal static class BrokerCommand
{
    private static readonly Option<string> Listen = new("--listen") { Description = "Kafka listener HOST:PORT [env KAFSCALE_BROKER_ADDR, default 0.0.0.0:9092]" };
    private static readonly Option<string> AdvertisedHost = new("--advertised-host") { Description = "Host name clients are told to connect to [env KAFSCALE_BROKER_HOST, default: this host's name, 127.0.0.1 on loopback]" };
    private static readonly Option<string> AdvertisedPort = new("--advertised-port") { Description = "Port clients are told to connect to [env KAFSCALE_BROKER_PORT, default: the listen port]" };
    private static readonly Option<string> ListenersOption = new("--listeners") { Description = "Kafka listeners NAME://HOST:PORT,... with NAME one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL; replaces --listen [env KAFSCALE_LISTENERS]" };
    private static readonly Option<string> AdvertisedListeners = new("--advertised-listeners") { Description = "Where clients of each listener are told to connect, NAME://HOST:PORT,... [env KAFSCALE_ADVERTISED_LISTENERS, default: --advertised-host (or the bind address) and the listener's port]" };
    private static readonly Option<string> TlsCert = new("--tls-cert") { Description = "PEM certificate (and intermediates) of the SSL and SASL_SSL listeners; reloaded when the file changes [env KAFSCALE_TLS_CERT]" };
    private static readonly Option<string> TlsKey = new("--tls-key") { Description = "PEM private key of --tls-cert [env KAFSCALE_TLS_KEY]" };
    private static readonly Option<string> TlsCa = new("--tls-ca") { Description = "PEM CA certificates client certificates must chain to (mTLS) [env KAFSCALE_TLS_CA]" };
    private static readonly Option<string> TlsClientAuth = new("--tls-client-auth") { Description = "none|requested|required: whether TLS listeners ask for a client certificate; its subject CN becomes the principal [env KAFSCALE_TLS_CLIENT_AUTH, default none]" };
    private static readonly Option<string> SaslMechanismsOption = new("--sasl-mechanisms") { Description = "SASL mechanisms the SASL_* listeners accept, comma separated, of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER [env KAFSCALE_SASL_MECHANISMS, default PLAIN,SCRAM-SHA-256,SCRAM-SHA-512, and OAUTHBEARER when --sasl-oauthbearer-jwks-endpoint-url is set]" };
    private static readonly Option<string> OAuthJwks = new("--sasl-oauthbearer-jwks-endpoint-url") { Description = "JWKS that OAUTHBEARER tokens are checked against: a file path, file: URL or http(s) URL; enables OAUTHBEARER [env KAFSCALE_SASL_OAUTHBEARER_JWKS_ENDPOINT_URL]" };
    private static readonly Option<string> OAuthIssuer = new("--sasl-oauthbearer-expected-issuer") { Description = "The iss claim OAUTHBEARER tokens must carry [env KAFSCALE_SASL_OAUTHBEARER_EXPECTED_ISSUER, default: not checked]" };
    private static readonly Option<string> OAuthAudience = new("--sasl-oauthbearer-expected-audience") { Description = "Audiences, comma separated, one of which an OAUTHBEARER token's aud claim must name [env KAFSCALE_SASL_OAUTHBEARER_EXPECTED_AUDIENCE, default: not checked]" };
    private static readonly Option<string> OAuthSubClaim = new("--sasl-oauthbearer-sub-claim-name") { Description = "The OAUTHBEARER token claim that names the principal User:<value> [env KAFSCALE_SASL_OAUTHBEARER_SUB_CLAIM_NAME, default sub]" };
    private static readonly Option<string> OAuthClockSkew = new("--sasl-oauthbearer-clock-skew-seconds") { Description = "Leeway for the exp, nbf and iat claims of OAUTHBEARER tokens [env KAFSCALE_SASL_OAUTHBEARER_CLOCK_SKEW_SECONDS, default 30]" };
    private static readonly Option<string> SaslSessionLifetime = new("--sasl-session-lifetime-ms") { Description = "Longest SASL session before the client must re-authenticate on its connection (KIP-368, Kafka's connections.max.reauth.ms); 0 = sessions end only when an OAUTHBEARER token expires [env KAFSCALE_SASL_SESSION_LIFETIME_MS, default 0]" };
    private static readonly Option<string> Http = new("--http") { Description = "HTTP listener for /metrics, /healthz, /readyz and the web console under /ui/ [env KAFSCALE_METRICS_ADDR, default 0.0.0.0:9093]" };
    private static readonly Option<string> BrokerId = new("--broker-id") { Description = "Broker id [env KAFSCALE_BROKER_ID, default: allocated from the metadata store]" };
    private static readonly Option<string> LeaseTtl = new("--lease-ttl-ms") { Description = "TTL of the broker's lease: how soon a crashed broker's partitions move [env KAFSCALE_LEASE_TTL_MS, default 5000 with etcd, 30000 embedded]" };
    private static readonly Option<string> LeaderRebalanceDelay = new("--leader-rebalance-delay-ms") { Description = "How long a broker that joins or comes back must stay registered before partitions move to it [env KAFSCALE_LEADER_REBALANCE_DELAY_MS, default 10000]" };
    private static readonly Option<string> FlushInterval = new("--flush-interval-ms") { Description = "Longest wait of a produced byte before the broker's next WAL object (one for all partitions) carries it; 0 = flush when idle [env KAFSCALE_FLUSH_INTERVAL_MS, default 0 on the directory store, 250 on S3]" };
    private static readonly Option<string> FlushMaxBytes = new("--flush-max-bytes") { Description = "Pending bytes that start a flush before the interval ends, and the most one WAL object holds [env KAFSCALE_FLUSH_MAX_BYTES, default 8388608]" };
    private static readonly Option<string> MaxWalUploads = new("--max-wal-uploads") { Description = "WAL objects uploading at once [env KAFSCALE_MAX_WAL_UPLOADS, default 4]" };
    private static readonly Option<string> SegmentBytes = new("--segment-bytes") { Description = "Unsealed bytes of one partition that seal them into a segment, and the largest segment [env KAFSCALE_SEGMENT_BYTES, default 16777216]" };
    private static readonly Option<string> SegmentMs = new("--segment-ms") { Description = "Longest time durable data stays in the WAL before its partition seals it into a segment; bounds per-partition PUTs and processor freshness [env KAFSCALE_SEGMENT_MS, default 300000]" };
    private static readonly Option<string> MaxUnsealedBytes = new("--max-unsealed-bytes") { Description = "Durable bytes held unsealed across partitions before the largest are sealed early [env KAFSCALE_MAX_UNSEALED_BYTES, default 268435456]" };
    private static readonly Option<string> CacheBytes = new("--cache-bytes") { Description = "Memory for recent segments served to consumers [env KAFSCALE_CACHE_BYTES, default 67108864]" };
    private static readonly Option<string> AutoCreate = new("--auto-create-topics") { Description = "Create unknown topics named in Metadata requests when the client allows it [env KAFSCALE_AUTO_CREATE_TOPICS, default true]" };
    private static readonly Option<string> DefaultPartitions = new("--default-partitions") { Description = "Partitions of auto-created topics and of CreateTopics with -1 [env KAFSCALE_AUTO_CREATE_PARTITIONS, default 1]" };
    private static readonly Option<string> GroupInitialRebalanceDelay = new("--group-initial-rebalance-delay-ms") { Description = "How long the first rebalance of an empty consumer group waits for more members (Kafka's group.initial.rebalance.delay.ms) [env KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS, default 3000]" };
    private static readonly Option<string> FetchSessionSlots = new("--max-incremental-fetch-session-cache-slots") { Description = "Fetch sessions (KIP-227) kept at most; 0 turns them off [env KAFSCALE_MAX_INCREMENTAL_FETCH_SESSION_CACHE_SLOTS, default 1000]" };
    private static readonly Option<string> MaxRequest = new("--max-request-bytes") { Description = "Largest request frame accepted [env KAFSCALE_MAX_REQUEST_BYTES, default 104857600]" };
    private static readonly Option<string> LogLevel = new("--log-level") { Description = "trace|debug|info|warn|error [env KAFSCALE_LOG_LEVEL, default info]" };
    private static readonly Option<string> LogFormat = new("--log-format") { Description = "text|json [env KAFSCALE_LOG_FORMAT, default text]" };

    private static readonly Option<string> AuthorizerMode = new("--authorizer") { Description = "none (allow everything) or acl (deny unless an ACL or --super-users allows) [env KAFSCALE_AUTHORIZER, default none]" };
    private static readonly Option<string> SuperUsers = new("--super-users") { Description = "Principals allowed everything when --authorizer acl, User:a,User:b [env KAFSCALE_SUPER_USERS, default none]" };

    private static readonly Option<string> ConsoleOption = new("--console") { Description = "Serve the web console under /ui/ of the --http listener [env KAFSCALE_CONSOLE, default true]", Arity = ArgumentArity.ZeroOrOne };
    private static readonly Option<string> ConsoleWrite = new("--console-write") { Description = "Let the web console create, delete and alter topics, produce test records and reset group offsets [env KAFSCALE_CONSOLE_WRITE, default false]", Arity = ArgumentArity.ZeroOrOne };

    private static readonly StorageOptions Storage = new();

    public static Command Create()
    {
        var command = new Command("broker", "Run a Kafka-protocol broker. With no storage options it runs self-contained under --data-dir.");
        foreach (var o in new[] { Listen, AdvertisedHost, AdvertisedPort, ListenersOption, AdvertisedListeners, TlsCert, TlsKey, TlsCa, TlsClientAuth, SaslMechanismsOption, OAuthJwks, OAuthIssuer, OAuthAudience, OAuthSubClaim, OAuthClockSkew, SaslSessionLifetime, Http, BrokerId })
            command.Options.Add(o);
        Storage.AddTo(command);
        foreach (var o in new[] { LeaseTtl, LeaderRebalanceDelay, FlushInterval, FlushMaxBytes, MaxWalUploads, SegmentBytes, SegmentMs, MaxUnsealedBytes, CacheBytes, FetchSessionSlots, AutoCreate, DefaultPartitions, GroupInitialRebalanceDelay, MaxRequest, LogLevel, LogFormat })
            command.Options.Add(o);
        command.Options.Add(AuthorizerMode);
        command.Options.Add(SuperUsers);
        command.Options.Add(ConsoleOption);
        command.Options.Add(ConsoleWrite);
        command.SetAction(RunAsync);
        return command;
    }

    private static async Task<int> RunAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        BrokerConfig config;
        S3StoreOptions? s3;
        LogLevel level;
        bool json;
        ConsoleOptions console;
        try
        {
            var s = new Settings(parse);
            var storage = Storage.Resolve(s);
            s3 = storage.S3;
            config = Resolve(s, storage);
            level = Logging.ParseLevel(s.String(LogLevel, "KAFSCALE_LOG_LEVEL", "info"), LogLevel.Name);
            json = Logging.ParseFormat(s.String(LogFormat, "KAFSCALE_LOG_FORMAT", "text"), LogFormat.Name);
            console = new ConsoleOptions(s.Switch(ConsoleOption, "KAFSCALE_CONSOLE", true), s.Switch(ConsoleWrite, "KAFSCALE_CONSOLE_WRITE", false));
        }
        catch (SettingException ex)
        {
            Console.Error.WriteLine($"kafscale broker: {ex.Message}");
            return 2;
        }

        using var loggerFactory = Logging.Create(level, json);
        var log = loggerFactory.CreateLogger("kafscale.broker");
        // SIGTERM and SIGINT cancel cancellationToken (Program.cs gives the command time to finish).

        BrokerHost host;
        try
        {
            var storeLog = loggerFactory.CreateLogger("kafscale.s3");
            host = await BrokerHost.StartAsync(config, loggerFactory, cancellationToken,
                s3 is null ? null : async ct => await S3ObjectStore.OpenAsync(s3, storeLog, ct).ConfigureAwait(false)).ConfigureAwait(false);
        }
        catch (StartupException ex)
        {
            log.LogCritical("{Message}", ex.Message);
            return 1;
        }
        catch (OperationCanceledException)
        {
            return 0;
        }

        WebConsoleServer? web = console.Enabled ? WebConsoleServer.Attach(host, console, loggerFactory.CreateLogger("kafscale.console")) : null;
        if (web is not null) log.LogInformation("web console on http://{Http}/ui/ ({Mode})", host.HttpEndPoint, console.Write ? "read-write" : "read-only");

        try { await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false); }
        catch (OperationCanceledException) { }
        log.LogInformation("shutting down: flushing pending data");
        if (web is not null) await web.DisposeAsync().ConfigureAwait(false);
        await host.DisposeAsync().ConfigureAwait(false);
        log.LogInformation("stopped");
        return 0;
    }

    /// <summary>
    /// Default flush interval on S3: every flush is one paid PUT for all partitions, so the
    /// interval is the cost bound (4 PUTs per second per broker at 250 ms, whatever the partition
    /// count), and the produce latency floor.
    /// </summary>
    public const int DefaultS3FlushIntervalMs = 250;

    private static BrokerConfig Resolve(Settings s, StorageSettings storage)
    {
        var listen = s.Endpoint(Listen, "KAFSCALE_BROKER_ADDR", "0.0.0.0:9092");
        string defaultHost = IPAddress.IsLoopback(listen.Address) ? "127.0.0.1"
            : listen.Address.Equals(IPAddress.Any) || listen.Address.Equals(IPAddress.IPv6Any) ? Dns.GetHostName() : listen.Address.ToString();
        var config = new BrokerConfig
        {
            Listen = listen,
            AdvertisedHost = s.String(AdvertisedHost, "KAFSCALE_BROKER_HOST", defaultHost),
            AdvertisedPort = s.Int(AdvertisedPort, "KAFSCALE_BROKER_PORT", listen.Port, 1, 65535),
            Http = s.Endpoint(Http, "KAFSCALE_METRICS_ADDR", "0.0.0.0:9093"),
            BrokerId = s.Int(BrokerId, "KAFSCALE_BROKER_ID", -1, -1, int.MaxValue),
            DataDir = storage.DataDir,
            ObjectsDir = storage.ObjectsDir,
            EtcdEndpoints = storage.EtcdEndpoints,
            EtcdUsername = storage.EtcdUsername,
            EtcdPassword = storage.EtcdPassword,
            EtcdTls = storage.EtcdTls,
            // etcd counts whole seconds and will not go below about 2 s.
            LeaseTtlMs = s.Int(LeaseTtl, "KAFSCALE_LEASE_TTL_MS", 0, 1000, 300_000),
            LeaderRebalanceDelayMs = s.Int(LeaderRebalanceDelay, "KAFSCALE_LEADER_REBALANCE_DELAY_MS", 10_000, 0, 3_600_000),
            FlushIntervalMs = s.Int(FlushInterval, "KAFSCALE_FLUSH_INTERVAL_MS", storage.S3 is not null ? DefaultS3FlushIntervalMs : 0, 0, 60_000),
            WalMergeObjects = storage.S3 is not null ? BrokerConfig.DefaultS3WalMergeObjects : 0,
            FlushMaxBytes = s.Long(FlushMaxBytes, "KAFSCALE_FLUSH_MAX_BYTES", 8L * 1024 * 1024, 1024, 1024L * 1024 * 1024),
            MaxWalUploads = s.Int(MaxWalUploads, "KAFSCALE_MAX_WAL_UPLOADS", 4, 1, 64),
            SegmentMs = s.Long(SegmentMs, "KAFSCALE_SEGMENT_MS", BrokerConfig.DefaultSegmentMs, 0, 7L * 24 * 3600 * 1000),
            MaxUnsealedBytes = s.Long(MaxUnsealedBytes, "KAFSCALE_MAX_UNSEALED_BYTES", 256L * 1024 * 1024, 1024 * 1024, long.MaxValue),
            Namespace = storage.Namespace,
            SegmentBytes = s.Int(SegmentBytes, "KAFSCALE_SEGMENT_BYTES", 16 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
            CacheBytes = s.Long(CacheBytes, "KAFSCALE_CACHE_BYTES", 64L * 1024 * 1024, 0, long.MaxValue),
            FetchSessionCacheSlots = s.Int(FetchSessionSlots, "KAFSCALE_MAX_INCREMENTAL_FETCH_SESSION_CACHE_SLOTS", 1000, 0, 1_000_000),
            AutoCreateTopics = s.Bool(AutoCreate, "KAFSCALE_AUTO_CREATE_TOPICS", true),
            DefaultPartitions = s.Int(DefaultPartitions, "KAFSCALE_AUTO_CREATE_PARTITIONS", 1, 1, 100_000),
            GroupInitialRebalanceDelayMs = s.Int(GroupInitialRebalanceDelay, "KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS", 3_000, 0, 300_000),
            MaxRequestBytes = s.Int(MaxRequest, "KAFSCALE_MAX_REQUEST_BYTES", 100 * 1024 * 1024, 1024, int.MaxValue),
        };
        ResolveAuthorizer(s, config);
        ResolveSecurity(s, config);
        config.StoreHealth = new KafScale.Observability.StoreHealthThresholds(
            LatencyWarnMs: EnvDouble("KAFSCALE_S3_LATENCY_WARN_MS", 500),
            LatencyCritMs: EnvDouble("KAFSCALE_S3_LATENCY_CRIT_MS", 3000),
            ErrorRateWarn: EnvDouble("KAFSCALE_S3_ERROR_RATE_WARN", 0.2),
            ErrorRateCrit: EnvDouble("KAFSCALE_S3_ERROR_RATE_CRIT", 0.6),
            WindowSeconds: (int)EnvDouble("KAFSCALE_S3_HEALTH_WINDOW_SEC", 60));
        return config;
    }

    /// <summary>--authorizer and --super-users (docs/security.md, "ACLs").</summary>
    private static void ResolveAuthorizer(Settings s, BrokerConfig config)
    {
        string mode = s.String(AuthorizerMode, "KAFSCALE_AUTHORIZER", "none");
        config.AclAuthorizer = mode.ToLowerInvariant() switch
        {
            "none" => false,
            "acl" => true,
            _ => throw new SettingException($"invalid value '{mode}' for {AuthorizerMode.Name} (KAFSCALE_AUTHORIZER): expected none or acl"),
        };
        // Kafka's super.users separates with ';'; a ',' list is accepted too.
        var users = new List<string>();
        foreach (var part in (s.Raw(SuperUsers, "KAFSCALE_SUPER_USERS") ?? "").Split([',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int colon = part.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || colon == part.Length - 1)
                throw new SettingException($"invalid principal '{part}' in {SuperUsers.Name} (KAFSCALE_SUPER_USERS): expected TYPE:NAME, for example User:admin");
            users.Add(part);
        }
        config.SuperUsers = users;
    }

    /// <summary>
    /// --listeners, --advertised-listeners, TLS and SASL (docs/security.md). Without --listeners
    /// the broker has the one PLAINTEXT listener of --listen, as before.
    /// </summary>
    private static void ResolveSecurity(Settings s, BrokerConfig config)
    {
        string? listeners = s.Raw(ListenersOption, "KAFSCALE_LISTENERS");
        string? advertised = s.Raw(AdvertisedListeners, "KAFSCALE_ADVERTISED_LISTENERS");
        string? explicitHost = s.Raw(AdvertisedHost, "KAFSCALE_BROKER_HOST");
        if (listeners is not null)
        {
            var entries = Listeners.Parse(listeners, out string? error) ?? throw new SettingException($"invalid value for {ListenersOption.Name} (KAFSCALE_LISTENERS): {error}");
            var ads = new List<ListenerEntry>();
            if (advertised is not null)
            {
                ads = Listeners.Parse(advertised, out error) ?? throw new SettingException($"invalid value for {AdvertisedListeners.Name} (KAFSCALE_ADVERTISED_LISTENERS): {error}");
                foreach (var a in ads)
                    if (!entries.Exists(e => e.Protocol == a.Protocol))
                        throw new SettingException($"invalid value for {AdvertisedListeners.Name} (KAFSCALE_ADVERTISED_LISTENERS): {a.Name} is not one of --listeners ({listeners})");
            }
            var list = new List<ListenerConfig>();
            foreach (var e in entries)
            {
                var bind = Settings.ResolveEndpoint(e.Host.Length == 0 ? "0.0.0.0" : e.Host, e.Port, $"{ListenersOption.Name} (KAFSCALE_LISTENERS)");
                var ad = ads.FindIndex(a => a.Protocol == e.Protocol) is int i and >= 0 ? ads[i] : (ListenerEntry?)null;
                string host = ad?.Host is { Length: > 0 } h ? h : explicitHost ?? DefaultHost(bind.Address);
                list.Add(new ListenerConfig(e.Protocol, bind, host, ad?.Port ?? e.Port));
            }
            config.Listeners = list;
        }
        else if (advertised is not null)
        {
            throw new SettingException($"{AdvertisedListeners.Name} (KAFSCALE_ADVERTISED_LISTENERS) needs --listeners (KAFSCALE_LISTENERS); with --listen use --advertised-host and --advertised-port");
        }

        string? cert = s.Raw(TlsCert, "KAFSCALE_TLS_CERT"), key = s.Raw(TlsKey, "KAFSCALE_TLS_KEY"), ca = s.Raw(TlsCa, "KAFSCALE_TLS_CA");
        var clientAuth = s.String(TlsClientAuth, "KAFSCALE_TLS_CLIENT_AUTH", "none").ToLowerInvariant() switch
        {
            "none" => KafScale.Broker.Security.TlsClientAuth.None,
            "requested" => KafScale.Broker.Security.TlsClientAuth.Requested,
            "required" => KafScale.Broker.Security.TlsClientAuth.Required,
            var other => throw new SettingException($"invalid value '{other}' for {TlsClientAuth.Name} (KAFSCALE_TLS_CLIENT_AUTH): expected none, requested or required"),
        };
        if ((cert is null) != (key is null))
            throw new SettingException($"{TlsCert.Name} and {TlsKey.Name} (KAFSCALE_TLS_CERT, KAFSCALE_TLS_KEY) go together: give both PEM files");
        if (clientAuth != KafScale.Broker.Security.TlsClientAuth.None && ca is null)
            throw new SettingException($"{TlsClientAuth.Name} {clientAuth.ToString().ToLowerInvariant()} needs {TlsCa.Name} (KAFSCALE_TLS_CA): the CA client certificates must chain to");
        if (cert is not null) config.Tls = new TlsSettings(cert, key!, ca, clientAuth);
        bool usesTls = config.EffectiveListeners().Any(l => l.UsesTls);
        if (usesTls && cert is null)
            throw new SettingException($"an SSL or SASL_SSL listener needs {TlsCert.Name} and {TlsKey.Name} (KAFSCALE_TLS_CERT, KAFSCALE_TLS_KEY)");

        ResolveOAuthBearer(s, config);
        var defaults = config.OAuthBearer is null ? SaslMechanisms.Defaults : [.. SaslMechanisms.Defaults, SaslMechanisms.OAuthBearer];
        string mechanisms = s.String(SaslMechanismsOption, "KAFSCALE_SASL_MECHANISMS", string.Join(',', defaults));
        var enabled = new List<string>();
        foreach (var m in mechanisms.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            string canonical = SaslMechanisms.Canonical(m)
                ?? throw new SettingException($"invalid value '{m}' in {SaslMechanismsOption.Name} (KAFSCALE_SASL_MECHANISMS): expected some of {string.Join(", ", SaslMechanisms.Supported)}");
            if (!enabled.Contains(canonical)) enabled.Add(canonical);
        }
        if (enabled.Count == 0 && config.EffectiveListeners().Any(l => l.UsesSasl))
            throw new SettingException($"{SaslMechanismsOption.Name} (KAFSCALE_SASL_MECHANISMS) is empty but a SASL_* listener needs at least one mechanism");
        if (enabled.Contains(SaslMechanisms.OAuthBearer) && config.OAuthBearer is null)
            throw new SettingException($"{SaslMechanismsOption.Name} (KAFSCALE_SASL_MECHANISMS) names OAUTHBEARER but {OAuthJwks.Name} (KAFSCALE_SASL_OAUTHBEARER_JWKS_ENDPOINT_URL) is not set: OAUTHBEARER needs a JWKS to check tokens with");
        config.SaslMechanisms = enabled;
        config.SaslSessionLifetimeMs = s.Long(SaslSessionLifetime, "KAFSCALE_SASL_SESSION_LIFETIME_MS", 0, 0, long.MaxValue / 2);
    }

    /// <summary>The --sasl-oauthbearer-* settings (docs/security.md, "OAUTHBEARER"): none without a JWKS.</summary>
    private static void ResolveOAuthBearer(Settings s, BrokerConfig config)
    {
        string? jwks = s.Raw(OAuthJwks, "KAFSCALE_SASL_OAUTHBEARER_JWKS_ENDPOINT_URL");
        string? issuer = s.Raw(OAuthIssuer, "KAFSCALE_SASL_OAUTHBEARER_EXPECTED_ISSUER");
        string? audience = s.Raw(OAuthAudience, "KAFSCALE_SASL_OAUTHBEARER_EXPECTED_AUDIENCE");
        string subClaim = s.String(OAuthSubClaim, "KAFSCALE_SASL_OAUTHBEARER_SUB_CLAIM_NAME", "sub").Trim();
        int skew = s.Int(OAuthClockSkew, "KAFSCALE_SASL_OAUTHBEARER_CLOCK_SKEW_SECONDS", 30, 0, 3600);
        if (string.IsNullOrWhiteSpace(jwks))
        {
            if (issuer is not null || audience is not null)
                throw new SettingException($"{OAuthIssuer.Name} and {OAuthAudience.Name} need {OAuthJwks.Name} (KAFSCALE_SASL_OAUTHBEARER_JWKS_ENDPOINT_URL)");
            return;
        }
        jwks = jwks.Trim();
        if (jwks.Contains("://", StringComparison.Ordinal) && !OAuthBearerSettings.IsHttp(jwks) && !jwks.StartsWith("file:", StringComparison.OrdinalIgnoreCase))
            throw new SettingException($"invalid value for {OAuthJwks.Name} (KAFSCALE_SASL_OAUTHBEARER_JWKS_ENDPOINT_URL): expected a file path, a file: URL or an http(s) URL");
        if (subClaim.Length == 0)
            throw new SettingException($"{OAuthSubClaim.Name} (KAFSCALE_SASL_OAUTHBEARER_SUB_CLAIM_NAME) is empty");
        config.OAuthBearer = new OAuthBearerSettings
        {
            JwksSource = jwks,
            ExpectedIssuer = string.IsNullOrWhiteSpace(issuer) ? null : issuer.Trim(),
            ExpectedAudiences = (audience ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries),
            SubClaimName = subClaim,
            ClockSkewSeconds = skew,
        };
    }

    /// <summary>The advertised host when none is given: 127.0.0.1 on loopback, this host's name on a wildcard, else the address.</summary>
    private static string DefaultHost(IPAddress address) =>
        IPAddress.IsLoopback(address) ? "127.0.0.1"
        : address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) ? Dns.GetHostName() : address.ToString();

    /// <summary>Object-store health thresholds are environment-only, with upstream KafScale's names.</summary>
    private static double EnvDouble(string name, double fallback)
    {
        var raw = Environment.GetEnvironmentVariable(name);
        if (string.IsNullOrEmpty(raw)) return fallback;
        if (!double.TryParse(raw, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double v) || v < 0)
            throw new SettingException($"invalid value '{raw}' for {name}: expected a non-negative number");
        return v;
    }
}
