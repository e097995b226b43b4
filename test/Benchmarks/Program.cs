using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace KafScale.Benchmarks;

public static class Program
{
    // Benchmarks run in-process instead of in a generated child project, which would be built
    // for every run. "--job short" (or any other job) keeps working: the toolchain is applied to
    // every job. Run with: dotnet run -c Release --project test/Benchmarks -- --filter '*' --job short
    public static int Main(string[] args)
    {
        IConfig config = DefaultConfig.Instance
            .AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance).AsMutator());
        var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);
        return summaries.Any(s => s.HasCriticalValidationErrors) ? 1 : 0;
    }
}
