using SharpFuzz;

namespace KafScale.Fuzz;

/// <summary>
/// The afl-fuzz driver (scripts/fuzz.sh runs it) and two helpers:
/// <code>
/// dotnet KafScale.Fuzz.dll fuzz TARGET           # under afl-fuzz: one input per run, from SharpFuzz
/// dotnet KafScale.Fuzz.dll seeds DIR             # writes the seed corpus (DIR/TARGET/...)
/// dotnet KafScale.Fuzz.dll replay TARGET FILE... # runs inputs in-process and says what each did
/// </code>
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        switch (args)
        {
            case ["fuzz", string name]:
                FuzzTarget target = FuzzTargets.Get(name);
                // Out of process: SharpFuzz restarts the runtime after a crash, and a stack
                // overflow (which no catch can stop) is still reported as one.
                Fuzzer.OutOfProcess.Run(stream =>
                {
                    using var buffer = new MemoryStream();
                    stream.CopyTo(buffer);
                    FuzzTargets.RunChecked(target, buffer.ToArray());
                });
                return 0;
            case ["seeds", string directory]:
                await Seeds.WriteAllAsync(directory).ConfigureAwait(false);
                return 0;
            case ["replay", string name, .. string[] files] when files.Length > 0:
                return Replay(FuzzTargets.Get(name), files);
            default:
                Console.Error.WriteLine("usage: fuzz TARGET | seeds DIR | replay TARGET FILE...");
                Console.Error.WriteLine("targets: " + string.Join(", ", FuzzTargets.All.Select(t => t.Name)));
                return 2;
        }
    }

    private static int Replay(FuzzTarget target, string[] files)
    {
        int failed = 0;
        foreach (string file in files)
        {
            try
            {
                FuzzTargets.RunChecked(target, File.ReadAllBytes(file));
                Console.WriteLine($"ok    {file}");
            }
            catch (Exception e)
            {
                failed++;
                Console.WriteLine($"FAIL  {file}: {e}");
            }
        }
        return failed == 0 ? 0 : 1;
    }
}
