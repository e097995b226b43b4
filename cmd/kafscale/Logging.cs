using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace KafScale.Cli;

internal static class Logging
{
    public static LogLevel ParseLevel(string value, string flag) => value.ToLowerInvariant() switch
    {
        "trace" => LogLevel.Trace,
        "debug" => LogLevel.Debug,
        "info" or "information" => LogLevel.Information,
        "warn" or "warning" => LogLevel.Warning,
        "error" => LogLevel.Error,
        _ => throw new SettingException($"invalid value '{value}' for {flag}: expected trace, debug, info, warn or error"),
    };

    public static bool ParseFormat(string value, string flag) => value.ToLowerInvariant() switch
    {
        "text" => false,
        "json" => true,
        _ => throw new SettingException($"invalid value '{value}' for {flag}: expected text or json"),
    };

    public static ILoggerFactory Create(LogLevel level, bool json) => LoggerFactory.Create(builder =>
    {
        builder.SetMinimumLevel(level);
        if (json)
            builder.AddJsonConsole(o => { o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ"; o.UseUtcTimestamp = true; });
        else
            builder.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ "; o.UseUtcTimestamp = true; });
        // Kafka's console logs go to stderr so stdout stays clean for tools.
        builder.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
    });
}
