using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace KafScale.Iceberg;

/// <summary>AWS Signature Version 4 for REST catalog requests (AWS Glue's and S3 Tables' Iceberg endpoints).</summary>
public static class SigV4Signer
{
    internal static void Sign(HttpRequestMessage request, byte[]? body, RestCatalogOptions options)
    {
        string accessKey = options.AwsAccessKeyId ?? Environment.GetEnvironmentVariable("AWS_ACCESS_KEY_ID")
            ?? throw new IcebergException("REST catalog SigV4: no AWS access key (set AWS_ACCESS_KEY_ID or the catalog's access key option)");
        string secretKey = options.AwsSecretAccessKey ?? Environment.GetEnvironmentVariable("AWS_SECRET_ACCESS_KEY")
            ?? throw new IcebergException("REST catalog SigV4: no AWS secret key (set AWS_SECRET_ACCESS_KEY or the catalog's secret key option)");
        string? sessionToken = options.AwsSessionToken ?? Environment.GetEnvironmentVariable("AWS_SESSION_TOKEN");
        string region = options.SigV4Region ?? Environment.GetEnvironmentVariable("AWS_REGION") ?? Environment.GetEnvironmentVariable("AWS_DEFAULT_REGION")
            ?? throw new IcebergException("REST catalog SigV4: no signing region (set the catalog's SigV4 region or AWS_REGION)");
        SignRequest(request, body, accessKey, secretKey, sessionToken, region, options.SigV4Service, DateTimeOffset.UtcNow);
    }

    /// <summary>Adds x-amz-date, x-amz-content-sha256, x-amz-security-token (when given) and Authorization.</summary>
    public static void SignRequest(HttpRequestMessage request, byte[]? body, string accessKey, string secretKey, string? sessionToken,
        string region, string service, DateTimeOffset now)
    {
        Uri uri = request.RequestUri ?? throw new ArgumentException("request has no URI", nameof(request));
        string amzDate = now.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        string date = amzDate[..8];
        string payloadHash = Convert.ToHexStringLower(SHA256.HashData(body ?? []));

        request.Headers.Remove("x-amz-date");
        request.Headers.Remove("x-amz-content-sha256");
        request.Headers.Remove("x-amz-security-token");
        request.Headers.TryAddWithoutValidation("x-amz-date", amzDate);
        request.Headers.TryAddWithoutValidation("x-amz-content-sha256", payloadHash);
        if (sessionToken is not null)
            request.Headers.TryAddWithoutValidation("x-amz-security-token", sessionToken);

        var headers = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["host"] = uri.IsDefaultPort ? uri.Host : $"{uri.Host}:{uri.Port}",
            ["x-amz-date"] = amzDate,
            ["x-amz-content-sha256"] = payloadHash,
        };
        if (sessionToken is not null)
            headers["x-amz-security-token"] = sessionToken;
        if (request.Content?.Headers.ContentType is { } contentType)
            headers["content-type"] = contentType.ToString();

        string canonicalHeaders = string.Concat(headers.Select(h => h.Key + ":" + h.Value.Trim() + "\n"));
        string signedHeaders = string.Join(';', headers.Keys);
        string canonicalRequest = string.Join('\n',
            request.Method.Method,
            CanonicalPath(uri.AbsolutePath),
            CanonicalQuery(uri.Query),
            canonicalHeaders,
            signedHeaders,
            payloadHash);
        string scope = $"{date}/{region}/{service}/aws4_request";
        string stringToSign = "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonicalRequest)));
        byte[] key = Hmac(Encoding.UTF8.GetBytes("AWS4" + secretKey), date);
        key = Hmac(key, region);
        key = Hmac(key, service);
        key = Hmac(key, "aws4_request");
        string signature = Convert.ToHexStringLower(Hmac(key, stringToSign));
        request.Headers.TryAddWithoutValidation("Authorization",
            $"AWS4-HMAC-SHA256 Credential={accessKey}/{scope}, SignedHeaders={signedHeaders}, Signature={signature}");
    }

    private static byte[] Hmac(byte[] key, string data) => HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(data));

    /// <summary>Non-S3 services sign the path with each (already encoded) segment encoded once more.</summary>
    private static string CanonicalPath(string encodedPath)
    {
        if (encodedPath.Length == 0)
            return "/";
        return string.Join('/', encodedPath.Split('/').Select(Encode));
    }

    private static string CanonicalQuery(string query)
    {
        if (query.Length <= 1)
            return "";
        var pairs = new List<(string Key, string Value)>();
        foreach (string part in query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = part.IndexOf('=');
            string k = Uri.UnescapeDataString(eq < 0 ? part : part[..eq]);
            string v = eq < 0 ? "" : Uri.UnescapeDataString(part[(eq + 1)..]);
            pairs.Add((Encode(k), Encode(v)));
        }
        return string.Join('&', pairs.OrderBy(p => p.Key, StringComparer.Ordinal).ThenBy(p => p.Value, StringComparer.Ordinal).Select(p => p.Key + "=" + p.Value));
    }

    /// <summary>RFC 3986 encoding of everything but unreserved characters.</summary>
    private static string Encode(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (byte b in Encoding.UTF8.GetBytes(s))
        {
            char c = (char)b;
            if (c is >= 'A' and <= 'Z' or >= 'a' and <= 'z' or >= '0' and <= '9' or '-' or '_' or '.' or '~')
                sb.Append(c);
            else
                sb.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }
}
