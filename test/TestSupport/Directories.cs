namespace KafScale.TestSupport;

public static class Directories
{
    /// <summary>
    /// Copies every file and directory under <paramref name="from"/> into <paramref name="to"/>
    /// (created when missing; files there are replaced). A file deleted while the copy runs (a
    /// broker still collecting garbage) is skipped.
    /// </summary>
    public static void CopyTree(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string dir in Directory.EnumerateDirectories(from, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, dir)));
        foreach (string file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            try { File.Copy(file, Path.Combine(to, Path.GetRelativePath(from, file)), overwrite: true); }
            catch (FileNotFoundException) { }
            catch (DirectoryNotFoundException) { }
        }
    }
}
