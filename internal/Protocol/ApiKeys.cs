namespace KafScale.Protocol;

/// <summary>One API key: the versions its schema defines and the versions KafScale accepts.</summary>
public readonly record struct ApiKeyInfo(
    short ApiKey,
    string Name,
    short LowestVersion,
    short HighestVersion,
    short FlexibleVersionsFrom,
    bool LatestVersionUnstable,
    short KafScaleFloor)
{
    /// <summary>Kafka does not advertise a version its schema marks unstable.</summary>
    public short HighestStableVersion => LatestVersionUnstable ? (short)(HighestVersion - 1) : HighestVersion;

    public bool IsFlexible(short version) => version >= FlexibleVersionsFrom;

    /// <summary>Between the KIP-896 floor and the highest version in the schema.</summary>
    public bool IsSupported(short version) => version >= KafScaleFloor && version <= HighestVersion;

    /// <summary>The lowest version to put in ApiVersions (see <see cref="ApiKeys.AdvertisedMinVersion"/>).</summary>
    public short AdvertisedMinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
}

/// <summary>
/// The API keys of the schemas in <c>Schemas/</c>: constants, version ranges, the KIP-896 floor,
/// and the header-version rules. The table itself is generated (<c>ApiKeys.g.cs</c>).
/// </summary>
public static partial class ApiKeys
{
    private static readonly ApiKeyInfo[] s_all = CreateAll();
    private static readonly short[] s_indexByKey = CreateIndex(s_all);

    public static IReadOnlyList<ApiKeyInfo> All => s_all;

    public static bool TryGet(short apiKey, out ApiKeyInfo info)
    {
        if ((uint)apiKey < (uint)s_indexByKey.Length && s_indexByKey[apiKey] >= 0)
        {
            info = s_all[s_indexByKey[apiKey]];
            return true;
        }

        info = default;
        return false;
    }

    public static bool IsFlexible(short apiKey, short version) =>
        TryGet(apiKey, out ApiKeyInfo info) && version >= info.FlexibleVersionsFrom;

    /// <summary>True when KafScale accepts this key at this version (KIP-896 floor up to the schema's highest).</summary>
    public static bool IsSupported(short apiKey, short version) =>
        TryGet(apiKey, out ApiKeyInfo info) && info.IsSupported(version);

    /// <summary>
    /// Request header version: 2 for flexible versions, else 1. ControlledShutdown v0 (key 7, not in
    /// these schemas) is the one request with header v0, which has no client id. Versions above
    /// the highest known still follow the flexible rule so their header can be read.
    /// </summary>
    public static short RequestHeaderVersion(short apiKey, short version)
    {
        if (apiKey == 7 && version == 0)
        {
            return 0;
        }

        return IsFlexible(apiKey, version) ? (short)2 : (short)1;
    }

    /// <summary>
    /// Response header version: 1 for flexible versions, else 0. ApiVersions responses always use
    /// v0 so a client that sent a version the broker does not know can still read the error (KIP-511).
    /// </summary>
    public static short ResponseHeaderVersion(short apiKey, short version)
    {
        if (apiKey == ApiVersions)
        {
            return 0;
        }

        return IsFlexible(apiKey, version) ? (short)1 : (short)0;
    }

    /// <summary>
    /// The lowest version Apache Kafka 4.0.0 accepts (KIP-896; the schemas here predate the removal).
    /// From the 4.0 schema files ("Version N was removed in Apache Kafka 4.0"), after the KIP's
    /// corrections: Produce v3-v6 (KAFKA-18334) and Metadata v0-v3 (KAFKA-18663) were un-deprecated,
    /// and FindCoordinator v0, SaslHandshake v0 (KAFKA-18270) and DeleteGroups v0 (KAFKA-18352) had
    /// been tagged deprecated by mistake. Kafka 4.0.1 later re-admitted JoinGroup v0-v1 (KAFKA-19444).
    /// </summary>
    public static short Kip896Floor(short apiKey) => apiKey switch
    {
        Produce => 3,
        Fetch => 4,
        ListOffsets => 1,
        OffsetCommit => 2,
        OffsetFetch => 1,
        JoinGroup => 2,
        CreateTopics => 2,
        DeleteTopics => 1,
        OffsetForLeaderEpoch => 2,
        DescribeAcls => 1,
        CreateAcls => 1,
        DeleteAcls => 1,
        DescribeConfigs => 1,
        DescribeLogDirs => 1,
        _ => 0,
    };

    /// <summary>
    /// The MinVersion to advertise in ApiVersions. Equal to the floor except Produce, which Kafka 4.0
    /// advertises from v0 while rejecting v0-v2: older librdkafka releases turn compression off when
    /// the advertised Produce range does not include v0 (KAFKA-18659). Clients pick the highest
    /// common version, so none of them ends up sending v0-v2.
    /// </summary>
    public static short AdvertisedMinVersion(short apiKey) => apiKey == Produce ? (short)0 : Kip896Floor(apiKey);

    private static short[] CreateIndex(ApiKeyInfo[] all)
    {
        int max = 0;
        foreach (ApiKeyInfo info in all)
        {
            max = Math.Max(max, info.ApiKey);
        }

        short[] index = new short[max + 1];
        Array.Fill(index, (short)-1);
        for (int i = 0; i < all.Length; i++)
        {
            index[all[i].ApiKey] = (short)i;
        }

        return index;
    }
}
