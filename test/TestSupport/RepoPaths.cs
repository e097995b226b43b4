namespace KafScale.TestSupport;

/// <summary>Where the binary under test and the client scripts are.</summary>
public static class RepoPaths
{
    private static readonly Lazy<string> s_root = new(FindRoot);

    /// <summary>The repository root: the first directory above the test assembly holding kafscale.sln.</summary>
    public static string Root => s_root.Value;

    /// <summary>KAFSCALE_BINARY when set, else out/kafscale (what scripts/build.sh produces).</summary>
    public static string Binary =>
        Environment.GetEnvironmentVariable("KAFSCALE_BINARY") is { Length: > 0 } path
            ? Path.GetFullPath(path)
            : Path.Combine(Root, "out", "kafscale");

    public static string Clients => Path.Combine(Root, "test", "clients");

    public static string Fixtures => Path.Combine(AppContext.BaseDirectory, "Fixtures");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "kafscale.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException(
            $"no kafscale.sln above {AppContext.BaseDirectory}: run the integration tests from the repository");
    }
}
