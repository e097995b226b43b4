using System.Text;
using Xunit.Sdk;

namespace KafScale.TestSupport;

public static class RecordAssert
{
    /// <summary>
    /// Each partition holds exactly the records produced to it, in production order, at offsets
    /// 0..n-1, with the same key, value (null stays null) and headers (names, values, order).
    /// </summary>
    public static void SamePerPartition(IReadOnlyList<TestRecord> produced, IReadOnlyList<ConsumedRecord> consumed)
    {
        var problems = new StringBuilder();
        var partitions = produced.Select(r => r.Partition!.Value).Concat(consumed.Select(c => c.Partition)).Distinct().Order();
        foreach (int p in partitions)
        {
            TestRecord[] expected = produced.Where(r => r.Partition == p).ToArray();
            ConsumedRecord[] actual = consumed.Where(c => c.Partition == p).ToArray();
            if (expected.Length != actual.Length)
            {
                problems.AppendLine($"partition {p}: produced {expected.Length} records, read {actual.Length}");
            }

            for (int i = 0; i < Math.Min(expected.Length, actual.Length); i++)
            {
                TestRecord e = expected[i];
                ConsumedRecord a = actual[i];
                if (a.Offset != i)
                {
                    problems.AppendLine($"partition {p}: record #{i} read at offset {a.Offset}");
                }

                if (a.Key != e.Key || a.Value != e.Value || !a.Headers.SequenceEqual(e.Headers))
                {
                    problems.AppendLine($"partition {p} #{i}: expected {e.Describe()}\n    read {a.Describe()}");
                }
            }

            if (problems.Length > 4000)
            {
                break;
            }
        }

        if (problems.Length > 0)
        {
            throw new XunitException($"records read back differ from those produced:\n{problems}");
        }
    }
}
