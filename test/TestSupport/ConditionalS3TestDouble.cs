using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security;
using System.Security.Cryptography;
using System.Text;
using KafScale.Storage.S3;

namespace KafScale.TestSupport;

/// <summary>
/// An in-process S3 stand-in on a loopback port that, unlike s3rver, honours
/// <c>If-None-Match: *</c> on PUT (412 PreconditionFailed when the key exists). It implements
/// only what the object store needs, path-style: HEAD/PUT bucket, PUT (atomic check-and-set),
/// GET (with Range), HEAD and DELETE object, ListObjectsV2 with pagination, and multipart
/// uploads (create, part, complete with the same If-None-Match rule, abort). Signatures are not
/// checked. Hooks let fencing tests hold a PUT (<see cref="BeforePut"/>), fail requests
/// (<see cref="FailNext"/>) or play a store that ignores the header (<see cref="HonourIfNoneMatch"/>).
/// </summary>
public sealed class ConditionalS3TestDouble : IAsyncDisposable
{
    private readonly HttpListener _listener;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, SortedDictionary<string, byte[]>> _buckets = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _requests = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private readonly ConcurrentDictionary<Task, bool> _handling = new();
    private readonly Dictionary<string, MultipartUpload> _uploads = new(StringComparer.Ordinal);
    private int _failuresLeft;
    private int _failureStatus;
    private string _failureCode = "";
    private Func<string, bool>? _failureMatch;

    private ConditionalS3TestDouble(HttpListener listener, int port, IEnumerable<string> buckets)
    {
        _listener = listener;
        Port = port;
        foreach (string bucket in buckets)
            _buckets[bucket] = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        _accepting = AcceptAsync();
    }

    public int Port { get; }

    public string Endpoint => $"http://127.0.0.1:{Port}";

    /// <summary>When false the double behaves like s3rver: If-None-Match is ignored and a PUT always overwrites.</summary>
    public bool HonourIfNoneMatch { get; set; } = true;

    /// <summary>Runs before each object PUT or multipart completion is applied; a test can hold a writer here.</summary>
    public Func<PutRequest, Task>? BeforePut { get; set; }

    /// <summary>Every request as "METHOD /path?query", in arrival order.</summary>
    public IReadOnlyList<string> Requests => [.. _requests];

    /// <summary>Starts on a free loopback port with the given buckets.</summary>
    public static ConditionalS3TestDouble Start(params string[] buckets)
    {
        for (int attempt = 1; ; attempt++)
        {
            int port = FreePort();
            var listener = new HttpListener();
            listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            try
            {
                listener.Start();
                return new ConditionalS3TestDouble(listener, port, buckets);
            }
            catch (HttpListenerException) when (attempt < 5)
            {
                listener.Close();
            }
        }
    }

    /// <summary>Options for an <see cref="S3ObjectStore"/> on one of the double's buckets, with fast retries.</summary>
    public S3StoreOptions OptionsFor(string bucket) => new()
    {
        Bucket = bucket,
        Endpoint = Endpoint,
        PathStyle = true,
        AccessKey = "test",
        SecretKey = "test",
        RetryBaseDelay = TimeSpan.FromMilliseconds(5),
        RetryMaxDelay = TimeSpan.FromMilliseconds(50),
        RequestTimeout = TimeSpan.FromSeconds(10),
    };

    /// <summary>Multipart uploads created and neither completed nor aborted.</summary>
    public int PendingUploads
    {
        get { lock (_lock) return _uploads.Count; }
    }

    /// <summary>
    /// The next <paramref name="count"/> requests are answered with this error; with
    /// <paramref name="match"/>, only requests whose line ("PUT /bucket/key?query") it accepts.
    /// </summary>
    public void FailNext(int count, int statusCode = 503, string errorCode = "SlowDown", Func<string, bool>? match = null)
    {
        lock (_lock)
        {
            _failuresLeft = count;
            _failureStatus = statusCode;
            _failureCode = errorCode;
            _failureMatch = match;
        }
    }

    public void CreateBucket(string bucket)
    {
        lock (_lock) _buckets.TryAdd(bucket, new SortedDictionary<string, byte[]>(StringComparer.Ordinal));
    }

    /// <summary>Writes an object directly, as another writer would.</summary>
    public void PutObject(string bucket, string key, byte[] data)
    {
        lock (_lock) _buckets[bucket][key] = data.ToArray();
    }

    public byte[]? GetObject(string bucket, string key)
    {
        lock (_lock) return _buckets.TryGetValue(bucket, out var objects) && objects.TryGetValue(key, out byte[]? data) ? data.ToArray() : null;
    }

    public IReadOnlyList<string> Keys(string bucket)
    {
        lock (_lock) return _buckets.TryGetValue(bucket, out var objects) ? [.. objects.Keys] : [];
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (HttpListenerException)
            {
                continue;
            }
            Task handling = Task.Run(() => HandleAsync(context));
            _handling.TryAdd(handling, true);
            _ = handling.ContinueWith(t => _handling.TryRemove(t, out _), TaskScheduler.Default);
        }
    }

    private async Task HandleAsync(HttpListenerContext context)
    {
        HttpListenerRequest request = context.Request;
        HttpListenerResponse response = context.Response;
        try
        {
            string rawPath = request.Url!.AbsolutePath;
            string line = $"{request.HttpMethod} {request.RawUrl}";
            _requests.Enqueue(line);
            string path = rawPath.TrimStart('/');
            int slash = path.IndexOf('/');
            string bucket = Uri.UnescapeDataString(slash < 0 ? path : path[..slash]);
            string key = slash < 0 ? "" : Uri.UnescapeDataString(path[(slash + 1)..]);
            byte[] body = await ReadBodyAsync(request).ConfigureAwait(false);

            if (TakeFailure(line) is (int status, string code))
            {
                await ErrorAsync(response, request, status, code, "injected failure").ConfigureAwait(false);
                return;
            }
            if (bucket.Length == 0)
            {
                await ErrorAsync(response, request, 501, "NotImplemented", "ListBuckets is not implemented by this double").ConfigureAwait(false);
                return;
            }
            if (key.Length > 0 && (HasFlag(request, "uploads") || request.QueryString["uploadId"] is not null))
                await HandleMultipartAsync(request, response, bucket, key, body).ConfigureAwait(false);
            else if (key.Length == 0)
                await HandleBucketAsync(request, response, bucket).ConfigureAwait(false);
            else
                await HandleObjectAsync(request, response, bucket, key, body).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
        {
            // The client went away.
        }
        finally
        {
            try
            {
                response.Close();
            }
            catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException or InvalidOperationException)
            {
            }
        }
    }

    private async Task HandleBucketAsync(HttpListenerRequest request, HttpListenerResponse response, string bucket)
    {
        bool exists;
        lock (_lock) exists = _buckets.ContainsKey(bucket);
        switch (request.HttpMethod)
        {
            case "HEAD":
                response.StatusCode = exists ? 200 : 404;
                return;
            case "PUT":
                if (exists)
                {
                    await ErrorAsync(response, request, 409, "BucketAlreadyOwnedByYou", "bucket exists").ConfigureAwait(false);
                    return;
                }
                CreateBucket(bucket);
                response.StatusCode = 200;
                return;
            case "GET" when request.QueryString["list-type"] == "2":
                if (!exists)
                {
                    await ErrorAsync(response, request, 404, "NoSuchBucket", "The specified bucket does not exist").ConfigureAwait(false);
                    return;
                }
                await ListAsync(request, response, bucket).ConfigureAwait(false);
                return;
            default:
                await ErrorAsync(response, request, 501, "NotImplemented", $"{request.HttpMethod} on a bucket is not implemented by this double").ConfigureAwait(false);
                return;
        }
    }

    private async Task HandleObjectAsync(HttpListenerRequest request, HttpListenerResponse response, string bucket, string key, byte[] body)
    {
        bool bucketExists;
        lock (_lock) bucketExists = _buckets.ContainsKey(bucket);
        if (!bucketExists)
        {
            await ErrorAsync(response, request, 404, "NoSuchBucket", "The specified bucket does not exist").ConfigureAwait(false);
            return;
        }
        switch (request.HttpMethod)
        {
            case "PUT":
            {
                bool conditional = request.Headers["If-None-Match"] == "*";
                if (BeforePut is { } hook)
                    await hook(new PutRequest(bucket, key, body, conditional)).ConfigureAwait(false);
                conditional &= HonourIfNoneMatch;
                bool written;
                lock (_lock)
                {
                    var objects = _buckets[bucket];
                    written = !(conditional && objects.ContainsKey(key));
                    if (written)
                        objects[key] = body;
                }
                if (!written)
                {
                    await ErrorAsync(response, request, 412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold").ConfigureAwait(false);
                    return;
                }
                response.StatusCode = 200;
                response.AddHeader("ETag", ETag(body));
                return;
            }
            case "GET":
            case "HEAD":
            {
                byte[]? data = GetObject(bucket, key);
                if (data is null)
                {
                    await ErrorAsync(response, request, 404, "NoSuchKey", "The specified key does not exist.").ConfigureAwait(false);
                    return;
                }
                response.AddHeader("ETag", ETag(data));
                response.AddHeader("Last-Modified", DateTime.UtcNow.ToString("R", CultureInfo.InvariantCulture));
                response.ContentType = "application/octet-stream";
                int start = 0, length = data.Length;
                if (request.HttpMethod == "GET" && request.Headers["Range"] is { } range)
                {
                    if (!TryParseRange(range, data.Length, out start, out length))
                    {
                        await ErrorAsync(response, request, 416, "InvalidRange", "The requested range is not satisfiable").ConfigureAwait(false);
                        return;
                    }
                    response.StatusCode = 206;
                    response.AddHeader("Content-Range", $"bytes {start}-{start + length - 1}/{data.Length}");
                }
                else
                {
                    response.StatusCode = 200;
                }
                response.ContentLength64 = length;
                if (request.HttpMethod == "GET")
                    await response.OutputStream.WriteAsync(data.AsMemory(start, length)).ConfigureAwait(false);
                return;
            }
            case "DELETE":
                lock (_lock) _buckets[bucket].Remove(key);
                response.StatusCode = 204;
                return;
            default:
                await ErrorAsync(response, request, 501, "NotImplemented", $"{request.HttpMethod} on an object is not implemented by this double").ConfigureAwait(false);
                return;
        }
    }

    private async Task HandleMultipartAsync(HttpListenerRequest request, HttpListenerResponse response, string bucket, string key, byte[] body)
    {
        bool bucketExists;
        lock (_lock) bucketExists = _buckets.ContainsKey(bucket);
        if (!bucketExists)
        {
            await ErrorAsync(response, request, 404, "NoSuchBucket", "The specified bucket does not exist").ConfigureAwait(false);
            return;
        }
        string? uploadId = request.QueryString["uploadId"];
        if (request.HttpMethod == "POST" && uploadId is null)
        {
            string id = Guid.NewGuid().ToString("N");
            lock (_lock) _uploads[id] = new MultipartUpload(bucket, key);
            await WriteXmlAsync(response, 200, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                + $"<Bucket>{SecurityElement.Escape(bucket)}</Bucket><Key>{SecurityElement.Escape(key)}</Key><UploadId>{id}</UploadId></InitiateMultipartUploadResult>").ConfigureAwait(false);
            return;
        }
        MultipartUpload? upload;
        lock (_lock) _uploads.TryGetValue(uploadId ?? "", out upload);
        if (upload is null || upload.Bucket != bucket || upload.Key != key)
        {
            await ErrorAsync(response, request, 404, "NoSuchUpload", "The specified upload does not exist").ConfigureAwait(false);
            return;
        }
        switch (request.HttpMethod)
        {
            case "PUT" when int.TryParse(request.QueryString["partNumber"], out int partNumber):
                lock (_lock) upload.Parts[partNumber] = body;
                response.StatusCode = 200;
                response.AddHeader("ETag", ETag(body));
                return;
            case "DELETE":
                lock (_lock) _uploads.Remove(uploadId!);
                response.StatusCode = 204;
                return;
            case "POST":
            {
                var named = System.Xml.Linq.XDocument.Parse(Encoding.UTF8.GetString(body)).Descendants()
                    .Where(e => e.Name.LocalName == "Part")
                    .Select(e => int.Parse(e.Elements().First(x => x.Name.LocalName == "PartNumber").Value, CultureInfo.InvariantCulture))
                    .ToList();
                byte[] data;
                lock (_lock) data = named.SelectMany(n => upload.Parts[n]).ToArray();
                bool conditional = request.Headers["If-None-Match"] == "*";
                if (BeforePut is { } hook)
                    await hook(new PutRequest(bucket, key, data, conditional)).ConfigureAwait(false);
                conditional &= HonourIfNoneMatch;
                bool written;
                lock (_lock)
                {
                    var objects = _buckets[bucket];
                    written = !(conditional && objects.ContainsKey(key));
                    if (written)
                    {
                        objects[key] = data;
                        _uploads.Remove(uploadId!);
                    }
                }
                if (!written)
                {
                    await ErrorAsync(response, request, 412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold").ConfigureAwait(false);
                    return;
                }
                await WriteXmlAsync(response, 200, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><CompleteMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                    + $"<Location>{Endpoint}/{SecurityElement.Escape(bucket)}/{SecurityElement.Escape(key)}</Location><Bucket>{SecurityElement.Escape(bucket)}</Bucket>"
                    + $"<Key>{SecurityElement.Escape(key)}</Key><ETag>{SecurityElement.Escape(ETag(data))}</ETag></CompleteMultipartUploadResult>").ConfigureAwait(false);
                return;
            }
            default:
                await ErrorAsync(response, request, 501, "NotImplemented", $"{request.HttpMethod} on a multipart upload is not implemented by this double").ConfigureAwait(false);
                return;
        }
    }

    /// <summary>A query parameter without a value ("?uploads").</summary>
    private static bool HasFlag(HttpListenerRequest request, string name) =>
        request.Url!.Query.TrimStart('?').Split('&').Any(p => p == name || p.StartsWith(name + "=", StringComparison.Ordinal));

    private async Task ListAsync(HttpListenerRequest request, HttpListenerResponse response, string bucket)
    {
        string prefix = request.QueryString["prefix"] ?? "";
        int maxKeys = int.TryParse(request.QueryString["max-keys"], out int m) ? Math.Clamp(m, 1, 1000) : 1000;
        string? after = request.QueryString["continuation-token"] is { Length: > 0 } token
            ? Encoding.UTF8.GetString(Convert.FromBase64String(token))
            : request.QueryString["start-after"];
        List<KeyValuePair<string, byte[]>> matching;
        lock (_lock)
        {
            matching = _buckets[bucket]
                .Where(o => o.Key.StartsWith(prefix, StringComparison.Ordinal) && (after is null || string.CompareOrdinal(o.Key, after) > 0))
                .Take(maxKeys + 1)
                .ToList();
        }
        bool truncated = matching.Count > maxKeys;
        if (truncated)
            matching.RemoveAt(maxKeys);

        var xml = new StringBuilder();
        xml.Append("<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
        xml.Append("<Name>").Append(SecurityElement.Escape(bucket)).Append("</Name>");
        xml.Append("<Prefix>").Append(SecurityElement.Escape(prefix)).Append("</Prefix>");
        xml.Append("<KeyCount>").Append(matching.Count).Append("</KeyCount>");
        xml.Append("<MaxKeys>").Append(maxKeys).Append("</MaxKeys>");
        xml.Append("<IsTruncated>").Append(truncated ? "true" : "false").Append("</IsTruncated>");
        if (truncated)
            xml.Append("<NextContinuationToken>").Append(Convert.ToBase64String(Encoding.UTF8.GetBytes(matching[^1].Key))).Append("</NextContinuationToken>");
        foreach (var (key, data) in matching)
        {
            xml.Append("<Contents><Key>").Append(SecurityElement.Escape(key)).Append("</Key>")
                .Append("<LastModified>").Append(DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture)).Append("</LastModified>")
                .Append("<ETag>").Append(SecurityElement.Escape(ETag(data))).Append("</ETag>")
                .Append("<Size>").Append(data.Length).Append("</Size><StorageClass>STANDARD</StorageClass></Contents>");
        }
        xml.Append("</ListBucketResult>");
        await WriteXmlAsync(response, 200, xml.ToString()).ConfigureAwait(false);
    }

    private (int Status, string Code)? TakeFailure(string line)
    {
        lock (_lock)
        {
            if (_failuresLeft <= 0 || (_failureMatch is { } match && !match(line)))
                return null;
            _failuresLeft--;
            return (_failureStatus, _failureCode);
        }
    }

    private static bool TryParseRange(string header, int size, out int start, out int length)
    {
        start = 0;
        length = 0;
        if (!header.StartsWith("bytes=", StringComparison.Ordinal))
            return false;
        string[] bounds = header["bytes=".Length..].Split('-');
        if (bounds.Length != 2 || !long.TryParse(bounds[0], out long first) || first >= size)
            return false;
        long last = bounds[1].Length == 0 || !long.TryParse(bounds[1], out long l) ? size - 1 : Math.Min(l, size - 1);
        if (last < first)
            return false;
        start = (int)first;
        length = (int)(last - first + 1);
        return true;
    }

    private static async Task<byte[]> ReadBodyAsync(HttpListenerRequest request)
    {
        if (!request.HasEntityBody)
            return [];
        using var buffer = new MemoryStream();
        await request.InputStream.CopyToAsync(buffer).ConfigureAwait(false);
        return buffer.ToArray();
    }

    private static Task ErrorAsync(HttpListenerResponse response, HttpListenerRequest request, int status, string code, string message)
    {
        if (request.HttpMethod == "HEAD")
        {
            response.StatusCode = status;
            return Task.CompletedTask;
        }
        return WriteXmlAsync(response, status,
            $"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{SecurityElement.Escape(message)}</Message>"
            + $"<Resource>{SecurityElement.Escape(request.Url!.AbsolutePath)}</Resource><RequestId>{Guid.NewGuid():N}</RequestId></Error>");
    }

    private static async Task WriteXmlAsync(HttpListenerResponse response, int status, string xml)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(xml);
        response.StatusCode = status;
        response.ContentType = "application/xml";
        response.ContentLength64 = bytes.Length;
        await response.OutputStream.WriteAsync(bytes).ConfigureAwait(false);
    }

    /// <summary>An object write about to be applied: a PUT, or the completion of a multipart upload with its assembled bytes.</summary>
    public sealed record PutRequest(string Bucket, string Key, byte[] Body, bool IfNoneMatch);

    private sealed record MultipartUpload(string Bucket, string Key)
    {
        public SortedDictionary<int, byte[]> Parts { get; } = [];
    }

    private static int FreePort()
    {
        using var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private static string ETag(byte[] data) => $"\"{Convert.ToHexStringLower(MD5.HashData(data))}\"";

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
            return;
        _stop.Cancel();
        // Close once: on Linux a Stop() followed by Close() unregisters the
        // prefix twice, and the second time binds the port again to do it,
        // failing with "Address already in use" when another test has taken
        // the freed port in between.
        _listener.Close();
        try
        {
            await _accepting.ConfigureAwait(false);
        }
        catch (Exception)
        {
        }
        try
        {
            await Task.WhenAll(_handling.Keys).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (Exception)
        {
        }
        _stop.Dispose();
    }
}
