using System.Globalization;

namespace KafScale.Faults;

/// <summary>
/// The long form of the fault suite: random faults (seeded) for N minutes against etcd and 3
/// brokers on the directory store or s3rver, then the checker. Exit code 0 when the checker
/// passes, 1 when it fails, 2 on bad arguments. scripts/faults.sh builds what it needs and runs this.
/// </summary>
public static class Program
{
    private const string Usage = "usage: faults --minutes N [--store directory|s3rver] [--seed S] [--keep-logs DIR] [--faults KIND,...]";

    public static async Task<int> Main(string[] args)
    {
        double minutes = 0;
        var store = StorageKind.SharedDirectory;
        int seed = Environment.TickCount & 0x7fffffff;
        string keepLogs = Path.Combine(RepoPaths.Root, "out", "faults-logs");
        List<FaultKind>? only = null;
        for (int i = 0; i < args.Length; i++)
        {
            string? value = i + 1 < args.Length ? args[i + 1] : null;
            bool ok = true;
            switch (args[i])
            {
                case "--minutes":
                    ok = double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out minutes) && minutes > 0;
                    break;
                case "--seed":
                    ok = int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out seed);
                    break;
                case "--store" when value is "directory" or "s3rver":
                    store = value == "s3rver" ? StorageKind.S3rver : StorageKind.SharedDirectory;
                    break;
                case "--keep-logs" when value is not null:
                    keepLogs = Path.GetFullPath(value);
                    break;
                case "--faults" when value is not null:
                    only = [];
                    foreach (string name in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
                    {
                        if (Enum.TryParse(name, ignoreCase: true, out FaultKind kind) && Enum.IsDefined(kind)) only.Add(kind);
                        else ok = false;
                    }
                    ok &= only.Count > 0;
                    break;
                default:
                    ok = false;
                    break;
            }
            if (!ok)
            {
                Console.Error.WriteLine($"faults: bad argument {args[i]} {value}: {Usage}");
                return 2;
            }
            i++;
        }
        if (minutes <= 0)
        {
            Console.Error.WriteLine($"faults: --minutes is required: {Usage}");
            return 2;
        }

        string storeName = store == StorageKind.S3rver ? "s3rver" : "directory";
        Console.WriteLine($"fault suite: {minutes} min on the {storeName} store, seed {seed}");
        var random = new Random(seed);
        var kinds = Nemesis.KindsFor(store);
        if (only is not null)
        {
            var storeFaults = only.Where(k => !kinds.Contains(k)).ToList();
            if (storeFaults.Count > 0)
            {
                Console.Error.WriteLine($"faults: {string.Join(',', storeFaults)} need the s3rver store: {Usage}");
                return 2;
            }
            kinds = only;
        }
        var options = new SuiteOptions { Store = store, Seed = seed, Log = Console.WriteLine, KeepLogsIn = keepLogs };
        var started = DateTime.UtcNow;
        var report = await FaultSuite.RunAsync(options, async (nemesis, _) =>
        {
            var until = started + TimeSpan.FromMinutes(minutes);
            while (DateTime.UtcNow < until)
            {
                await Task.Delay(TimeSpan.FromSeconds(2 + (random.NextDouble() * 4)));
                await nemesis.RandomAsync(random, kinds);
            }
        });
        double ran = (DateTime.UtcNow - started).TotalMinutes;

        Console.WriteLine();
        Console.WriteLine(report);
        Console.WriteLine();
        var u = report.LongestUnavailability;
        string longest = u is null ? "-" : $"{u.Ms / 1000.0:0.0} s ({u.Kind})";
        string kill = report.KillRecoveries.Count == 0 ? "-" : report.LongestKillRecoveryMs == long.MaxValue ? "never" : $"{report.LongestKillRecoveryMs / 1000.0:0.0} s";
        Console.WriteLine("summary");
        Console.WriteLine($"  store {storeName}, seed {seed}, {ran:0.0} min");
        Console.WriteLine($"  faults: {report.FaultSummary}");
        Console.WriteLine($"  acknowledged {report.Acked}, lost {report.Lost.Count}, duplicated {report.IdempotentDuplicates.Count} (idempotent) + {report.PlainDuplicates} (plain, allowed), " +
            $"inconsistent {report.Inconsistent.Count}, non-contiguous partitions {report.Gaps.Count}");
        Console.WriteLine($"  longest unavailability {longest}; after a single kill -9 {kill} " +
            (report.KillRecoveries.Count == 0 ? "" : report.LongestKillRecoveryMs <= report.KillBoundMs ? $"(bound {report.KillBoundMs / 1000.0:0.0} s: PASS)" : $"(bound {report.KillBoundMs / 1000.0:0.0} s: FAIL)"));
        Console.WriteLine($"  checker: {(report.Passed ? "PASS" : "FAIL")}");
        Console.WriteLine("row for docs/reliability.md:");
        Console.WriteLine($"| {DateTime.UtcNow:yyyy-MM-dd} | {storeName} | {ran:0} | {seed} | {report.FaultSummary} | {report.Acked} | {report.Lost.Count} | " +
            $"{report.IdempotentDuplicates.Count} + {report.PlainDuplicates} plain | {report.Inconsistent.Count} | {longest} | {kill} |");
        return report.Passed ? 0 : 1;
    }
}
