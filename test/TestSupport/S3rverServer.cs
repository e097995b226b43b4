namespace KafScale.TestSupport;

/// <summary>
/// s3rver on a free loopback port and its own data directory, with its buckets created; it can be
/// stopped and started again on the same data (an S3 outage). s3rver accepts any SigV4 signature
/// (--allow-mismatched-signatures) but only its own access key. s3rver ignores If-None-Match, so brokers on
/// it are fenced by their lease deadline only.
/// </summary>
public sealed class S3rverServer : IAsyncDisposable
{
    public const string AccessKey = "S3RVER";
    public const string SecretKey = "S3RVER";

    private readonly ServerProcess _process;
    private readonly string _data;

    private S3rverServer(string root, string bucket, string[] moreBuckets)
    {
        Bucket = bucket;
        Port = ServerProcess.FreePort();
        string data = Path.Combine(root, "s3rver");
        _data = data;
        Directory.CreateDirectory(data);
        _process = new ServerProcess("s3rver", FindExecutable(), () =>
        {
            List<string> args = ["-d", data, "-a", "127.0.0.1", "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--allow-mismatched-signatures", "--silent"];
            foreach (string b in (string[])[bucket, .. moreBuckets])
            {
                args.Add("--configure-bucket");
                args.Add(b);
            }

            return args;
        }, Path.Combine(root, "s3rver.log"), new Dictionary<string, string> { ["NODE_OPTIONS"] = "--openssl-legacy-provider" });
    }

    /// <summary>The first bucket created.</summary>
    public string Bucket { get; }
    public int Port { get; }
    public string Endpoint => $"http://127.0.0.1:{Port}";

    /// <summary>The s3rver process itself, for faults a stop cannot play (SIGSTOP).</summary>
    public ServerProcess Process => _process;

    /// <summary>Starts s3rver with its data and log under <paramref name="root"/> and the buckets created.</summary>
    public static async Task<S3rverServer> StartAsync(string root, string bucket, params string[] moreBuckets)
    {
        var server = new S3rverServer(root, bucket, moreBuckets);
        try
        {
            await server.StartAgainAsync().ConfigureAwait(false);
            return server;
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Options for a store on one of this server's buckets, with fast retries for tests.</summary>
    public KafScale.Storage.S3.S3StoreOptions OptionsFor(string bucket) => new()
    {
        Bucket = bucket,
        Endpoint = Endpoint,
        PathStyle = true,
        AccessKey = AccessKey,
        SecretKey = SecretKey,
        RetryBaseDelay = TimeSpan.FromMilliseconds(10),
        RetryMaxDelay = TimeSpan.FromMilliseconds(100),
        RequestTimeout = TimeSpan.FromSeconds(10),
    };

    public Task StartAgainAsync()
    {
        DropTornPuts();
        return _process.StartAsync(Port);
    }

    /// <summary>
    /// An S3 PUT is atomic: a key either has the whole new object or does not exist. s3rver writes
    /// an object's data, then its MD5 file, then its metadata file, as separate steps, so a kill
    /// between or during them (StopAsync) leaves a key whose metadata does not parse (s3rver then
    /// answers HTTP 500 for ever), a key with data but no metadata at all (s3rver then serves the
    /// partial data without the headers a PUT sets, and the S3 client fails to parse the answer),
    /// or, when the PUT overwrote an earlier one, whose data or MD5 file does not match the earlier
    /// metadata (s3rver then serves a truncated body or an ETag that is not an MD5, which S3
    /// clients refuse). Such a PUT never completed and was never acknowledged (s3rver answers
    /// after writing the metadata); removing its files before the restart gives the state real S3
    /// would have for a key whose only PUT failed.
    /// </summary>
    private void DropTornPuts()
    {
        const string MetadataSuffix = "._S3rver_metadata.json";
        const string DataSuffix = "._S3rver_object";
        foreach (string data in Directory.EnumerateFiles(_data, "*" + DataSuffix, SearchOption.AllDirectories).ToList())
        {
            string stem = data[..^DataSuffix.Length];
            string metadata = stem + MetadataSuffix, md5 = data + ".md5";
            if (File.Exists(metadata) && IsWhole(metadata, data, md5))
                continue;
            foreach (string file in new[] { metadata, data, md5 })
                File.Delete(file);
        }
    }

    private static bool IsWhole(string metadata, string data, string md5)
    {
        try
        {
            using var _ = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(metadata));
        }
        catch (System.Text.Json.JsonException)
        {
            return false;
        }
        if (!File.Exists(md5))
            return false;
        string expected = File.ReadAllText(md5).Trim();
        string actual = Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(File.ReadAllBytes(data)));
        return string.Equals(expected, actual, StringComparison.Ordinal);
    }

    public Task StopAsync() => _process.KillAsync();

    private static string FindExecutable()
    {
        string executable = Path.Combine(RepoPaths.Root, "test", "servers", "node_modules", ".bin", "s3rver");
        if (!File.Exists(executable))
            throw new InvalidOperationException($"s3rver is not installed at {executable}: run scripts/install-deps.sh (it runs npm ci in test/servers).");
        return executable;
    }

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
