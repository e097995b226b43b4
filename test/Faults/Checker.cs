using System.Text;

namespace KafScale.Faults;

/// <summary>What one producer did: its acks and whether it was idempotent.</summary>
public sealed record ProducerHistory(string Name, string Topic, bool Idempotent, int Produced, IReadOnlyList<Ack> Acks, IReadOnlyList<string> Errors, IReadOnlyList<string> FatalErrors);

/// <summary>The longest time a partition went without an ack while a fault was on.</summary>
public sealed record Unavailability(string Topic, int Partition, long Ms, FaultKind Kind);

/// <summary>
/// How long after a kill -9 every partition the broker led took a write produced after the kill
/// (-1: none did), and the partition that took longest.
/// </summary>
public sealed record KillRecovery(string Target, long StartMs, long Ms, string Slowest);

/// <summary>The checker's findings; <see cref="Passed"/> is the safety verdict.</summary>
public sealed class CheckReport
{
    public long Acked { get; init; }
    public long Produced { get; init; }
    public long DeliveryErrors { get; init; }
    public List<string> FatalErrors { get; } = [];
    public List<string> Lost { get; } = [];
    public List<string> Inconsistent { get; } = [];
    public List<string> IdempotentDuplicates { get; } = [];
    public long PlainDuplicates { get; set; }
    /// <summary>Acks that came without an offset (librdkafka's answer to a duplicate batch the broker already had).</summary>
    public long AcksWithoutOffset { get; set; }
    public List<string> Gaps { get; } = [];

    /// <summary>
    /// Producers still holding unacknowledged records after every fault healed: no partition
    /// stayed without a leader, so a producer that cannot flush is stuck (a liveness failure the
    /// safety counts above cannot show, since nothing it holds was acknowledged).
    /// </summary>
    public List<string> Stalled { get; } = [];
    public Dictionary<FaultKind, int> FaultsByKind { get; } = [];
    public List<string> Faults { get; } = [];
    public Unavailability? LongestUnavailability { get; set; }
    public Dictionary<FaultKind, long> LongestByKind { get; } = [];
    public List<KillRecovery> KillRecoveries { get; } = [];
    public int LeaseTtlMs { get; init; }

    public bool Passed => Lost.Count == 0 && Inconsistent.Count == 0 && IdempotentDuplicates.Count == 0 && Gaps.Count == 0 && FatalErrors.Count == 0 && Stalled.Count == 0;

    /// <summary>The kill -9 bound: a killed broker's partitions take writes again within the lease TTL + 2 s.</summary>
    public long KillBoundMs => LeaseTtlMs + 2000;

    public long LongestKillRecoveryMs => KillRecoveries.Count == 0 ? 0 : KillRecoveries.Max(k => k.Ms < 0 ? long.MaxValue : k.Ms);

    public string FaultSummary => FaultsByKind.Count == 0 ? "none" : string.Join(", ", FaultsByKind.OrderBy(k => k.Key).Select(k => $"{k.Key} {k.Value}"));

    public override string ToString()
    {
        var s = new StringBuilder();
        s.AppendLine($"faults: {FaultSummary}");
        foreach (string f in Faults) s.AppendLine($"  {f}");
        s.AppendLine($"records produced {Produced}, acknowledged {Acked} ({AcksWithoutOffset} without an offset), given up by the clients {DeliveryErrors}");
        s.AppendLine($"lost {Lost.Count}, inconsistent offsets {Inconsistent.Count}, idempotent duplicates {IdempotentDuplicates.Count}, " +
            $"non-contiguous partitions {Gaps.Count}, fatal client errors {FatalErrors.Count}, stalled producers {Stalled.Count}; duplicates of the plain producer (allowed: its retries) {PlainDuplicates}");
        Section(s, "lost", Lost);
        Section(s, "inconsistent", Inconsistent);
        Section(s, "idempotent duplicates", IdempotentDuplicates);
        Section(s, "not contiguous", Gaps);
        Section(s, "fatal client errors", FatalErrors);
        Section(s, "stalled producers", Stalled);
        if (LongestUnavailability is { } u)
            s.AppendLine($"longest unavailability while a fault was on: {u.Ms} ms ({u.Topic}/{u.Partition}, during {u.Kind}); by fault: " +
                string.Join(", ", LongestByKind.OrderBy(k => k.Key).Select(k => $"{k.Key} {k.Value} ms")));
        if (KillRecoveries.Count > 0)
        {
            s.AppendLine($"after a single kill -9, writable again within: {string.Join(", ", KillRecoveries.Select(k => k.Ms < 0 ? "never" : $"{k.Ms} ms"))}");
            long worst = LongestKillRecoveryMs;
            s.AppendLine($"kill -9 bound (lease TTL + 2 s = {KillBoundMs} ms): {(worst <= KillBoundMs ? "PASS" : "FAIL")} (longest {(worst == long.MaxValue ? "never" : worst + " ms")})");
            foreach (var k in KillRecoveries.Where(k => k.Ms < 0 || k.Ms > KillBoundMs))
                s.AppendLine($"  over the bound: kill -9 of {k.Target} at {DateTimeOffset.FromUnixTimeMilliseconds(k.StartMs):HH:mm:ss.fff}: {(k.Ms < 0 ? "never" : k.Ms + " ms")}, slowest {k.Slowest}");
        }
        s.Append(Passed ? "checker: PASS" : "checker: FAIL");
        return s.ToString();
    }

    private static void Section(StringBuilder s, string title, List<string> items)
    {
        if (items.Count == 0) return;
        s.AppendLine($"{title} ({items.Count}), first {Math.Min(items.Count, 20)}:");
        foreach (string i in items.Take(20)) s.AppendLine($"  {i}");
    }
}

/// <summary>
/// Checks the histories against what readers saw. Safety: every acknowledged record at its
/// acknowledged offset; no offset read with two values (across readers, brokers and times); no
/// record of an idempotent producer stored twice; offsets of every partition contiguous from 0.
/// Liveness is measured, not judged: the longest time between acks while a fault was on, and
/// how soon a killed broker's partitions took writes again.
/// </summary>
public static class Checker
{
    /// <param name="reads">Whole-topic reads at the end; the first read of each topic is the reference for lost records and contiguity.</param>
    /// <param name="groupReads">What the group member read while the faults happened.</param>
    public static CheckReport Check(IReadOnlyList<ProducerHistory> producers, IReadOnlyList<TopicRead> reads, IReadOnlyList<StoredRecord> groupReads,
        IReadOnlyList<FaultEvent> faults, int leaseTtlMs)
    {
        var report = new CheckReport
        {
            Acked = producers.Sum(p => (long)p.Acks.Count),
            Produced = producers.Sum(p => (long)p.Produced),
            DeliveryErrors = producers.Sum(p => (long)p.Errors.Count),
            LeaseTtlMs = leaseTtlMs,
        };
        foreach (var p in producers) report.FatalErrors.AddRange(p.FatalErrors.Select(e => $"{p.Name}: {e}"));

        // No offset with two values, whoever read it and whenever.
        var seen = new Dictionary<(string, int, long), (string Value, string By)>();
        void See(StoredRecord r, string by)
        {
            if (!seen.TryGetValue((r.Topic, r.Partition, r.Offset), out var first)) seen[(r.Topic, r.Partition, r.Offset)] = (r.Value, by);
            else if (first.Value != r.Value) report.Inconsistent.Add($"{r.Topic}/{r.Partition}@{r.Offset}: {first.Value} ({first.By}) and {r.Value} ({by})");
        }
        foreach (var read in reads) foreach (var r in read.Records) See(r, read.Label);
        foreach (var r in groupReads) See(r, "group member");

        var reference = reads.GroupBy(r => r.Topic).ToDictionary(g => g.Key, g => g.First());
        foreach (var p in producers)
        {
            if (!reference.TryGetValue(p.Topic, out var read)) throw new ArgumentException($"no read of {p.Topic}");
            var at = new Dictionary<(int, long), string>();
            foreach (var r in read.Records) at.TryAdd((r.Partition, r.Offset), r.Value);
            var values = read.Records.Select(r => (r.Partition, r.Value)).ToHashSet();
            foreach (var a in p.Acks)
            {
                string value = $"{p.Name}-{a.Index}";
                if (a.Offset < 0)
                {
                    // Acknowledged without an offset: it must be stored somewhere in its partition.
                    report.AcksWithoutOffset++;
                    if (!values.Contains((a.Partition, value))) report.Lost.Add($"{value} acknowledged (without an offset) in {p.Topic}/{a.Partition} is missing");
                    continue;
                }
                if (!at.TryGetValue((a.Partition, a.Offset), out var stored)) report.Lost.Add($"{value} acknowledged at {p.Topic}/{a.Partition}@{a.Offset} is missing");
                else if (stored != value) report.Lost.Add($"{value} acknowledged at {p.Topic}/{a.Partition}@{a.Offset} holds {stored}");
            }
        }

        // The same producer's record stored at two offsets: a duplicate (allowed only without idempotence).
        var idempotent = producers.Where(p => p.Idempotent).Select(p => p.Name).ToHashSet();
        foreach (var read in reference.Values)
        {
            foreach (var g in read.Records.GroupBy(r => r.Value).Where(g => g.Count() > 1))
            {
                string producer = g.Key[..g.Key.LastIndexOf('-')];
                if (idempotent.Contains(producer))
                    report.IdempotentDuplicates.Add($"{g.Key} stored at {string.Join(" and ", g.Select(r => $"{r.Topic}/{r.Partition}@{r.Offset}"))}");
                else report.PlainDuplicates += g.Count() - 1;
            }

            // Offsets 0 .. end-1, each once: nothing skipped, nothing repeated.
            foreach (var (partition, end) in read.EndOffsets)
            {
                long[] offsets = [.. read.Records.Where(r => r.Partition == partition).Select(r => r.Offset).Distinct().Order()];
                bool dense = offsets.Length == end && (end == 0 || (offsets[0] == 0 && offsets[^1] == end - 1));
                int count = read.Records.Count(r => r.Partition == partition);
                if (!dense || count != offsets.Length)
                    report.Gaps.Add($"{read.Topic}/{partition}: {count} records read ({offsets.Length} distinct offsets) for end offset {end}" +
                        (offsets.Length > 0 ? $", offsets {offsets[0]}..{offsets[^1]}" : ""));
            }
        }

        foreach (var f in faults)
        {
            report.FaultsByKind[f.Kind] = report.FaultsByKind.GetValueOrDefault(f.Kind) + 1;
            report.Faults.Add(f.ToString());
        }
        MeasureUnavailability(report, producers, faults);
        return report;
    }

    private static void MeasureUnavailability(CheckReport report, IReadOnlyList<ProducerHistory> producers, IReadOnlyList<FaultEvent> faults)
    {
        // Ack times per partition, from every producer writing to it.
        var acks = producers.SelectMany(p => p.Acks.Select(a => (p.Topic, a)))
            .GroupBy(x => (x.Topic, x.a.Partition))
            .ToDictionary(g => g.Key, g => g.Select(x => x.a).OrderBy(a => a.TimeMs).ToArray());
        // The fault is on from its start until the leaders settled after healing (plus a moment for clients to notice).
        var ordered = faults.OrderBy(f => f.StartMs).ToList();
        long EndOf(FaultEvent f) => (f.RecoveredMs < 0 ? f.HealMs + 60_000 : f.RecoveredMs) + 2000;
        foreach (var ((topic, partition), times) in acks)
        {
            for (int i = 1; i < times.Length; i++)
            {
                long from = times[i - 1].TimeMs, to = times[i].TimeMs;
                // A gap is blamed on the first fault it overlaps: the one that was on when writes stopped.
                var f = ordered.FirstOrDefault(x => x.StartMs <= to && EndOf(x) >= from);
                if (f is null) continue;
                long gap = to - from;
                if (report.LongestUnavailability is null || gap > report.LongestUnavailability.Ms)
                    report.LongestUnavailability = new Unavailability(topic, partition, gap, f.Kind);
                if (gap > report.LongestByKind.GetValueOrDefault(f.Kind)) report.LongestByKind[f.Kind] = gap;
            }
        }
        foreach (var f in faults)
        {
            if (f.Kind == FaultKind.BrokerKill && f.Led.Count > 0)
            {
                // The first write produced after the kill that each of its partitions acknowledged.
                long worst = 0;
                string slowest = "";
                foreach (var tp in f.Led)
                {
                    var first = acks.GetValueOrDefault(tp)?.Where(a => a.SentMs >= f.StartMs).OrderBy(a => a.TimeMs).FirstOrDefault();
                    if (first is not { } a || a.TimeMs == 0) { worst = -1; slowest = $"{tp.Item1}/{tp.Item2}"; break; }
                    if (a.TimeMs - f.StartMs > worst) (worst, slowest) = (a.TimeMs - f.StartMs, $"{tp.Item1}/{tp.Item2}");
                }
                report.KillRecoveries.Add(new KillRecovery(f.Target, f.StartMs, worst, slowest));
            }
        }
    }
}
