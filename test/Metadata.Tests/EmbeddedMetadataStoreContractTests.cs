using KafScale.Metadata;
using KafScale.Metadata.Embedded;

namespace KafScale.Metadata.Tests;

public sealed class EmbeddedMetadataStoreContractTests : MetadataStoreContract
{
    private readonly TempDirectory _dir = new();

    protected override async Task<IMetadataStore> OpenStoreAsync() =>
        await EmbeddedMetadataStore.OpenAsync(Path.Combine(_dir.Path, "metadata"), Ct);

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _dir.Dispose();
    }
}
