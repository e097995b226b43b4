using System.CommandLine;
using System.Globalization;
using System.Net;

namespace KafScale.Cli;

/// <summary>A bad flag or environment value: reported as one line, exit code 2.</summary>
internal sealed class SettingException(string message) : Exception(message);

/// <summary>
/// Resolves a setting as docs/operations.md says: the flag if given, else the environment
/// variable, else the default. Values are parsed here so that every bad value produces the
/// same kind of message naming both the flag and the variable.
/// </summary>
internal sealed class Settings(ParseResult parse)
{
    public string? Raw(Option<string> option, string env)
    {
        if (parse.GetResult(option) is { Implicit: false }) return parse.GetValue(option);
        var value = Environment.GetEnvironmentVariable(env);
        return string.IsNullOrEmpty(value) ? null : value;
    }

    public string String(Option<string> option, string env, string fallback) => Raw(option, env) ?? fallback;

    public int Int(Option<string> option, string env, int fallback, int min, int max)
    {
        var raw = Raw(option, env);
        if (raw is null) return fallback;
        if (!int.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) || v < min || v > max)
            throw new SettingException($"invalid value '{raw}' for {option.Name} ({env}): expected an integer from {min} to {max}");
        return v;
    }

    public long Long(Option<string> option, string env, long fallback, long min, long max)
    {
        var raw = Raw(option, env);
        if (raw is null) return fallback;
        if (!long.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out long v) || v < min || v > max)
            throw new SettingException($"invalid value '{raw}' for {option.Name} ({env}): expected an integer from {min} to {max}");
        return v;
    }

    public bool Bool(Option<string> option, string env, bool fallback)
    {
        var raw = Raw(option, env);
        if (raw is null) return fallback;
        return raw.ToLowerInvariant() switch
        {
            "true" or "1" or "yes" or "on" => true,
            "false" or "0" or "no" or "off" => false,
            _ => throw new SettingException($"invalid value '{raw}' for {option.Name} ({env}): expected true or false"),
        };
    }

    /// <summary>A flag that means true when given without a value (--console-write), else like <see cref="Bool"/>.</summary>
    public bool Switch(Option<string> option, string env, bool fallback) =>
        parse.GetResult(option) is { Implicit: false, Tokens.Count: 0 } ? true : Bool(option, env, fallback);

    public IPEndPoint Endpoint(Option<string> option, string env, string fallback)
    {
        var raw = Raw(option, env) ?? fallback;
        int colon = raw.LastIndexOf(':');
        if (colon <= 0 || colon == raw.Length - 1)
            throw new SettingException($"invalid value '{raw}' for {option.Name} ({env}): expected HOST:PORT, for example 0.0.0.0:9092");
        var host = raw[..colon].Trim('[', ']');
        if (!int.TryParse(raw[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port > 65535)
            throw new SettingException($"invalid port in '{raw}' for {option.Name} ({env})");
        return ResolveEndpoint(host, port, $"{option.Name} ({env})");
    }

    /// <summary>An address or host name (the first IPv4 address it resolves to) and a port.</summary>
    public static IPEndPoint ResolveEndpoint(string host, int port, string setting)
    {
        if (IPAddress.TryParse(host, out var address)) return new IPEndPoint(address, port);
        if (host is "localhost") return new IPEndPoint(IPAddress.Loopback, port);
        try
        {
            var addresses = Dns.GetHostAddresses(host);
            var v4 = Array.Find(addresses, a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork);
            return new IPEndPoint(v4 ?? addresses[0], port);
        }
        catch (Exception)
        {
            throw new SettingException($"cannot resolve host '{host}' in {setting}");
        }
    }
}
