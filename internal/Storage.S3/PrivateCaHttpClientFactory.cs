using Amazon.Runtime;
using KafScale.Common.Tls;

namespace KafScale.Storage.S3;

/// <summary>
/// The HTTP clients of an S3 client whose endpoint's certificate must chain to the CA bundle of
/// --s3-tls-ca (docs/security.md, "TLS to etcd and S3") instead of the system's roots. The SDK
/// keeps one client per S3 client, disposed with it; timeouts are the store's.
/// </summary>
internal sealed class PrivateCaHttpClientFactory(PemClientTls tls, TimeSpan connectTimeout) : HttpClientFactory
{
    public override HttpClient CreateHttpClient(IClientConfig clientConfig)
    {
        ArgumentNullException.ThrowIfNull(clientConfig);
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = connectTimeout,
            AllowAutoRedirect = clientConfig.AllowAutoRedirect,
            AutomaticDecompression = System.Net.DecompressionMethods.None,
        };
        tls.Apply(handler);
        var client = new HttpClient(handler, disposeHandler: true);
        if (clientConfig.Timeout is { } timeout) client.Timeout = timeout;
        return client;
    }

    public override bool UseSDKHttpClientCaching(IClientConfig clientConfig) => true;

    public override bool DisposeHttpClientsAfterUse(IClientConfig clientConfig) => false;

    /// <summary>Null: the SDK caches the clients per S3 client and disposes them with it.</summary>
    public override string? GetConfigUniqueString(IClientConfig clientConfig) => null;
}
