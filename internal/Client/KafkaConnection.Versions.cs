using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Client;

/// <summary>The broker's version range of one API, as ApiVersions reported it.</summary>
public readonly record struct BrokerApiVersion(short ApiKey, short MinVersion, short MaxVersion);

public sealed partial class KafkaConnection
{
    private const string ClientSoftwareName = "kafscale-dotnet";
    private const string ClientSoftwareVersion = "0.1.0";

    // Negotiated version per API key; -1 where the broker and this client share none.
    private short[] _negotiated = [];
    private BrokerApiVersion[] _brokerVersions = [];

    /// <summary>What the broker advertised in ApiVersions (empty when negotiation was skipped).</summary>
    public IReadOnlyList<BrokerApiVersion> BrokerVersions => _brokerVersions;

    /// <summary>
    /// The versions this client can speak for an API: from the KIP-896 floor (older versions carry
    /// message formats v0/v1 or are gone from Kafka 4.0) to the highest stable version of the codec.
    /// </summary>
    public static bool TryGetClientRange(short apiKey, out short min, out short max)
    {
        if (ApiKeys.TryGet(apiKey, out ApiKeyInfo info))
        {
            min = Math.Max(info.LowestVersion, info.KafScaleFloor);
            max = info.HighestStableVersion;
            return max >= min;
        }

        min = max = -1;
        return false;
    }

    /// <summary>The highest version both sides support, or false when there is none.</summary>
    public bool TryGetVersion(short apiKey, out short version)
    {
        short[] negotiated = _negotiated;
        if ((uint)apiKey < (uint)negotiated.Length && negotiated[apiKey] >= 0)
        {
            version = negotiated[apiKey];
            return true;
        }

        version = -1;
        return false;
    }

    /// <summary>The negotiated version; throws UNSUPPORTED_VERSION when there is none.</summary>
    public short GetVersion(short apiKey)
    {
        if (TryGetVersion(apiKey, out short version))
        {
            return version;
        }

        string name = ApiKeys.TryGet(apiKey, out ApiKeyInfo info) ? info.Name : $"api key {apiKey}";
        TryGetClientRange(apiKey, out short min, out short max);
        BrokerApiVersion? broker = null;
        foreach (BrokerApiVersion b in _brokerVersions)
        {
            if (b.ApiKey == apiKey)
            {
                broker = b;
            }
        }

        string brokerRange = broker is { } r ? $"v{r.MinVersion}-v{r.MaxVersion}" : "nothing";
        throw new KafkaException(ErrorCode.UnsupportedVersion,
            $"{this} and this client share no version of {name} (broker offers {brokerRange}, client speaks v{min}-v{max})");
    }

    private async Task NegotiateApiVersionsAsync(CancellationToken cancellationToken)
    {
        TryGetClientRange(ApiVersionsRequest.ApiKey, out _, out short version);
        var request = new ApiVersionsRequest { ClientSoftwareName = ClientSoftwareName, ClientSoftwareVersion = ClientSoftwareVersion };
        ApiVersionsResponse response = await SendApiVersionsAsync(request, version, cancellationToken).ConfigureAwait(false);
        if (response.ErrorCode == (short)ErrorCode.UnsupportedVersion)
        {
            // KIP-511: the broker answered in v0 with its own range; ask again within it.
            short brokerMax = -1;
            foreach (var key in response.ApiKeys)
            {
                if (key.ApiKey == ApiVersionsRequest.ApiKey)
                {
                    brokerMax = key.MaxVersion;
                }
            }

            if (brokerMax < 0)
            {
                throw new KafkaException(ErrorCode.UnsupportedVersion, $"{this} refused ApiVersions v{version} without saying which versions it supports");
            }

            version = Math.Min(version, brokerMax);
            response = await SendApiVersionsAsync(request, version, cancellationToken).ConfigureAwait(false);
        }

        KafkaException.ThrowIfError(response.ErrorCode, $"ApiVersions v{version} to {this}");
        SetBrokerVersions(response.ApiKeys);
    }

    private ValueTask<ApiVersionsResponse> SendApiVersionsAsync(ApiVersionsRequest request, short version, CancellationToken cancellationToken) =>
        Send(request, version, new PendingApiVersions(), expectResponse: true, cancellationToken);

    private void SetBrokerVersions(List<ApiVersionsResponse.ApiVersion> keys)
    {
        var brokerVersions = new BrokerApiVersion[keys.Count];
        int maxKey = 0;
        for (int i = 0; i < keys.Count; i++)
        {
            brokerVersions[i] = new BrokerApiVersion(keys[i].ApiKey, keys[i].MinVersion, keys[i].MaxVersion);
            maxKey = Math.Max(maxKey, keys[i].ApiKey);
        }

        short[] negotiated = new short[maxKey + 1];
        Array.Fill(negotiated, (short)-1);
        foreach (BrokerApiVersion b in brokerVersions)
        {
            if (b.ApiKey >= 0 && TryGetClientRange(b.ApiKey, out short min, out short max))
            {
                short high = Math.Min(max, b.MaxVersion);
                if (high >= Math.Max(min, b.MinVersion))
                {
                    negotiated[b.ApiKey] = high;
                }
            }
        }

        _brokerVersions = brokerVersions;
        _negotiated = negotiated;
    }
}
