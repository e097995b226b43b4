using System.Diagnostics;

namespace KafScale.Records.Tests;

/// <summary>
/// The reference implementations, through the distribution's python (python3-snappy, python3-lz4
/// and python3-zstandard, bound to the C libraries): what our managed codecs must read and write.
/// </summary>
internal static class ReferenceCodecs
{
    private const string Python = "/usr/bin/python3";

    /// <summary>Evaluates <paramref name="expression"/> with <c>data</c> = <paramref name="input"/>; returns the bytes it yields.</summary>
    public static byte[] Run(string expression, byte[] input)
    {
        string script = "import sys, snappy, lz4.frame, zstandard\n" +
                        "data = sys.stdin.buffer.read()\n" +
                        $"sys.stdout.buffer.write({expression})\n";
        var start = new ProcessStartInfo(Python)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("cannot start " + Python);
        // Read both pipes while writing, so a large output cannot block the child.
        var output = new MemoryStream();
        Task copy = process.StandardOutput.BaseStream.CopyToAsync(output);
        Task<string> errors = process.StandardError.ReadToEndAsync();
        process.StandardInput.BaseStream.Write(input);
        process.StandardInput.Close();
        copy.GetAwaiter().GetResult();
        string stderr = errors.GetAwaiter().GetResult();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"python reference codec failed ({process.ExitCode}): {stderr}");
        return output.ToArray();
    }
}
