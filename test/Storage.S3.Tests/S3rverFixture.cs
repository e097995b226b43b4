namespace KafScale.Storage.S3.Tests;

/// <summary>One s3rver (the shared test support's) per test class, with <see cref="Bucket"/> and <see cref="ReplicaBucket"/> created.</summary>
public sealed class S3rverFixture : IAsyncLifetime
{
    public const string Bucket = "kafscale-segments";
    public const string ReplicaBucket = "kafscale-replica";

    private readonly string _root = Path.Combine(Path.GetTempPath(), "kafscale-s3-tests", Guid.NewGuid().ToString("N"));
    private S3rverServer? _server;

    public S3rverServer Server => _server ?? throw new InvalidOperationException("s3rver is not running.");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_root);
        _server = await S3rverServer.StartAsync(_root, Bucket, ReplicaBucket);
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
            await _server.DisposeAsync();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
