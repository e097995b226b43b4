using KafScale.Metadata.Embedded;
using Microsoft.Extensions.Time.Testing;

namespace KafScale.Metadata.Tests;

/// <summary>The spec answered by the embedded store, whose lease clock is a fake one the tests move.</summary>
public sealed class EmbeddedMetadataStoreContractTests : MetadataStoreContract
{
    private readonly TempDirectory _dir = new();
    private readonly FakeTimeProvider _clock = new();

    protected override async Task<IMetadataStore> OpenStoreAsync() =>
        await EmbeddedMetadataStore.OpenAsync(Path.Combine(_dir.Path, "metadata"), new EmbeddedMetadataStoreOptions { TimeProvider = _clock }, Ct);

    protected override Task PassAsync(TimeSpan span)
    {
        _clock.Advance(span);
        return Task.CompletedTask;
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _dir.Dispose();
    }
}
