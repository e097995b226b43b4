namespace KafScale.WebConsole;

/// <summary>--console and --console-write (docs/console.md).</summary>
public sealed record ConsoleOptions(bool Enabled = true, bool Write = false);
