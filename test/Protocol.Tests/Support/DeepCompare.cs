using System.Collections;
using System.Reflection;

namespace KafScale.Protocol.Tests.Support;

/// <summary>Structural equality of generated messages by reflection; returns the first differing path.</summary>
public static class DeepCompare
{
    public static string? FirstDifference(object? expected, object? actual, string path = "$")
    {
        if (expected is null || actual is null)
        {
            return expected is null && actual is null ? null : $"{path}: expected {Show(expected)}, got {Show(actual)}";
        }

        Type type = expected.GetType();
        if (type != actual.GetType())
        {
            return $"{path}: type {type.Name} vs {actual.GetType().Name}";
        }

        switch (expected)
        {
            case byte[] e:
                return e.AsSpan().SequenceEqual((byte[])actual) ? null : $"{path}: bytes differ";
            case ReadOnlyMemory<byte> m:
                return m.Span.SequenceEqual(((ReadOnlyMemory<byte>)actual).Span) ? null : $"{path}: records differ";
            case string or Guid or bool or sbyte or short or ushort or int or uint or long or double:
                return expected.Equals(actual) ? null : $"{path}: expected {Show(expected)}, got {Show(actual)}";
            case IList list:
                var other = (IList)actual;
                if (list.Count != other.Count)
                {
                    return $"{path}: count {list.Count} vs {other.Count}";
                }

                for (int i = 0; i < list.Count; i++)
                {
                    string? diff = FirstDifference(list[i], other[i], $"{path}[{i}]");
                    if (diff is not null)
                    {
                        return diff;
                    }
                }

                return null;
        }

        foreach (PropertyInfo p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            string? diff = FirstDifference(p.GetValue(expected), p.GetValue(actual), $"{path}.{p.Name}");
            if (diff is not null)
            {
                return diff;
            }
        }

        return null;
    }

    private static string Show(object? value) => value switch
    {
        null => "null",
        string s => $"\"{s}\"",
        _ => value.ToString() ?? "?",
    };
}
