using KafScale.Metadata.Etcd;

namespace KafScale.Metadata.Tests;

/// <summary>The same spec as the embedded store's, answered by a real etcd.</summary>
public sealed class EtcdMetadataStoreContractTests(EtcdFixture etcd) : MetadataStoreContract, IClassFixture<EtcdFixture>
{
    /// <summary>etcd raises shorter TTLs to its minimum (2 s with default election settings).</summary>
    protected override TimeSpan ShortTtl => TimeSpan.FromSeconds(2);

    protected override async Task<IMetadataStore> OpenStoreAsync() =>
        await EtcdMetadataStore.ConnectAsync([etcd.Server.Endpoint], null, null, Ct);
}
