using System.Buffers;
using System.Globalization;
using KafScale.Processor.Json;
using KafScale.Processor.Segments;
using KafScale.Processor.Tables;
using KafScale.Records;
using KafScale.Storage;

namespace KafScale.Processor;

/// <summary>What one partition's work in a round produced.</summary>
public sealed class PartitionResult
{
    public required TopicPartition Partition { get; init; }
    public long? ExpectedNext { get; init; }
    public long StartOffset { get; set; }
    public long NewNext { get; set; }
    public List<WrittenFile> Files { get; } = [];
    public long Records { get; set; }
    public long Conflicts { get; set; }
    public long NotJson { get; set; }
    public long Bytes { get; set; }
    public string? Error { get; set; }
    public string? ErrorStage { get; set; }
    public string? Waiting { get; set; }
    public (long From, long To)? RetentionGap { get; set; }

    /// <summary>True when the table's offset for the partition moves.</summary>
    public bool Advanced => NewNext > StartOffset;
}

/// <summary>
/// Turns the planned segments of one partition into data files: reads each segment (the next one
/// is fetched while the current one is decoded), decodes its records from the first offset not in
/// the table, encodes them as rows (one open file per day partition), rolls a file when it reaches
/// the target size or when a new column appears, and uploads finished files.
/// </summary>
public sealed class PartitionWorker : IRecordSink
{
    private readonly IObjectStore _segments;
    private readonly ITableStore _tables;
    private readonly TableState _table;
    private readonly SchemaTracker _tracker;
    private readonly IDataFileFormat _format;
    private readonly TopicPartition _tp;
    private readonly long _targetFileBytes;
    private readonly string? _dayColumnName;
    private readonly TableColumn? _dayColumn;
    private readonly Action<string, FieldRejection>? _onRejected;
    private readonly Dictionary<int, OpenFile> _open = [];
    private readonly List<(DataFileContent Content, int? Day, long FirstOffset)> _finished = [];
    private readonly JsonFields _fields = new();
    private readonly PartitionResult _result;

    private sealed class OpenFile(IDataFileWriter writer, RowEncoder encoder, int? day, long firstOffset)
    {
        public IDataFileWriter Writer = writer;
        public RowEncoder Encoder = encoder;
        public readonly int? Day = day;
        public long FirstOffset = firstOffset;
        public long Bytes;
    }

    public PartitionWorker(IObjectStore segments, ITableStore tables, TableState table, SchemaTracker tracker, IDataFileFormat format,
        TopicPartition tp, long? expectedNext, long targetFileBytes, string? dayColumnName, Action<string, FieldRejection>? onRejected)
    {
        _segments = segments;
        _tables = tables;
        _table = table;
        _tracker = tracker;
        _format = format;
        _tp = tp;
        _targetFileBytes = targetFileBytes;
        _dayColumnName = dayColumnName;
        _dayColumn = dayColumnName is null ? null : tracker.Snapshot.Columns.FirstOrDefault(c => c.Name == dayColumnName);
        _onRejected = onRejected;
        _result = new PartitionResult { Partition = tp, ExpectedNext = expectedNext, NewNext = expectedNext ?? 0, StartOffset = expectedNext ?? 0 };
    }

    private const int NoDay = int.MinValue;

    public async Task<PartitionResult> RunAsync(PartitionPlan plan, IReadOnlyList<SegmentEntry> all, Action<string, long> footerSeen, CancellationToken ct)
    {
        long next = plan.StartOffset;
        _result.StartOffset = plan.StartOffset;
        _result.NewNext = plan.StartOffset;
        _result.RetentionGap = plan.RetentionGap;
        _result.Waiting = plan.WaitingFor;
        try
        {
            Task<byte[]?>? fetch = plan.Segments.Count > 0 ? FetchAsync(plan.Segments[0], ct) : null;
            for (int i = 0; i < plan.Segments.Count; i++)
            {
                var seg = plan.Segments[i];
                byte[]? bytes;
                try { bytes = await fetch!.ConfigureAwait(false); }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    return Fail("read", $"cannot read {seg.Key}: {ex.Message}");
                }
                fetch = i + 1 < plan.Segments.Count ? FetchAsync(plan.Segments[i + 1], ct) : null;
                if (bytes is null)
                {
                    // Deleted since the listing (retention): the next round lists again.
                    _result.Waiting = $"segment {seg.Key} vanished since the listing";
                    break;
                }
                DecodeResult decoded;
                try { decoded = SegmentDecoder.Decode(bytes.AsMemory(0, (int)seg.Size), next, this); }
                catch (Exception ex) when (ex is SegmentCorruptException or InvalidDataException)
                {
                    return Fail("decode", $"segment {seg.Key} is damaged: {ex.Message}");
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(bytes);
                }
                footerSeen(seg.Key, decoded.LastOffset);
                next = Math.Max(next, decoded.LastOffset + 1);
                _result.NewNext = next;
                await UploadFinishedAsync(ct).ConfigureAwait(false);
                // The chain must continue right after this segment; a later base offset is a hole
                // (an upload still in flight): wait for it rather than skip offsets.
                int at = IndexOf(all, seg);
                if (at + 1 < all.Count && all[at + 1].BaseOffset > next && i + 1 < plan.Segments.Count)
                {
                    _result.Waiting = $"offsets {next}..{all[at + 1].BaseOffset - 1} of {_tp} are not in the bucket yet";
                    break;
                }
            }
            foreach (var f in _open.Values) Finish(f);
            _open.Clear();
            await UploadFinishedAsync(ct).ConfigureAwait(false);
            return _result;
        }
        catch (Exception ex) when (ex is not OperationCanceledException && _result.Error is null)
        {
            return Fail(ex is IOException or HttpRequestException ? "upload" : "write", ex.Message);
        }
        finally
        {
            foreach (var f in _open.Values) f.Writer.Dispose();
            _open.Clear();
        }
    }

    /// <summary>
    /// Reads a whole segment into a pooled buffer (segments are immutable, so the listed size is
    /// its size); null when it is gone. Pooling keeps large segment reads off the garbage collector.
    /// </summary>
    private async Task<byte[]?> FetchAsync(SegmentEntry seg, CancellationToken ct)
    {
        if (seg.Size > int.MaxValue) throw new InvalidDataException($"segment {seg.Key} is {seg.Size} bytes, larger than this processor reads");
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Max(1, seg.Size));
        try
        {
            int n = await _segments.ReadRangeAsync(seg.Key, 0, buffer.AsMemory(0, (int)seg.Size), ct).ConfigureAwait(false);
            if (n != seg.Size) throw new InvalidDataException($"segment {seg.Key} has {n} bytes, but was listed with {seg.Size}");
            return buffer;
        }
        catch (ObjectNotFoundException)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            return null;
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    private static int IndexOf(IReadOnlyList<SegmentEntry> all, SegmentEntry seg)
    {
        for (int i = 0; i < all.Count; i++) if (ReferenceEquals(all[i], seg) || all[i].Key == seg.Key) return i;
        return -1;
    }

    private PartitionResult Fail(string stage, string message)
    {
        _result.Error = message;
        _result.ErrorStage = stage;
        return _result;
    }

    /// <summary>Files written for a result whose commit will not happen.</summary>
    public static async Task DiscardAsync(ITableStore tables, PartitionResult result, CancellationToken ct)
    {
        foreach (var f in result.Files)
        {
            try { await tables.DeleteDataFileAsync(f.Uri, ct).ConfigureAwait(false); }
            catch (Exception ex) when (ex is not OperationCanceledException) { /* an unreferenced file is harmless */ }
        }
    }

    void IRecordSink.OnRecord(in RecordView r)
    {
        bool json = !r.ValueIsNull && _fields.Parse(r.Value);
        if (!json) _result.NotJson++;
        JsonFields? fields = json ? _fields : null;

        int? day = _dayColumn is null ? null : RowEncoder.DayOf(_dayColumn, r, fields);
        if (!_open.TryGetValue(day ?? NoDay, out var file))
        {
            // Resolve the value's new fields first, so the new file has their columns from the start.
            if (json) Probe().NeedsNewerSchema(_fields, r.Value, _tracker);
            file = Open(day, r.Offset);
        }
        else if (json && file.Encoder.NeedsNewerSchema(_fields, r.Value, _tracker))
        {
            // A new column: this file ends with the old columns, the next one has them all.
            Finish(file);
            file = Open(day, r.Offset);
        }
        if (file.Encoder.Write(file.Writer, r, fields)) _result.Conflicts++;
        file.Bytes += 48 + r.Key.Length + r.Value.Length + r.HeaderBytes.Length;
        _result.Records++;
        if (file.Bytes >= _targetFileBytes)
        {
            Finish(file);
            _open.Remove(file.Day ?? NoDay);
        }
    }

    private OpenFile Open(int? day, long firstOffset)
    {
        var snapshot = _tracker.Snapshot;
        var f = new OpenFile(_format.Create(snapshot.Columns), NewEncoder(snapshot), day, firstOffset);
        _open[day ?? NoDay] = f;
        return f;
    }

    private RowEncoder? _probe;

    private RowEncoder Probe()
    {
        var snapshot = _tracker.Snapshot;
        if (_probe is null || _probe.Schema.Version != snapshot.Version) _probe = NewEncoder(snapshot);
        return _probe;
    }

    private RowEncoder NewEncoder(SchemaSnapshot snapshot) => new(snapshot, _tp) { OnFieldRejected = _onRejected };

    private void Finish(OpenFile f)
    {
        if (f.Writer.RowCount == 0)
        {
            f.Writer.Dispose();
            return;
        }
        var content = f.Writer.Finish();
        f.Writer.Dispose();
        _finished.Add((content, f.Day, f.FirstOffset));
    }

    private async Task UploadFinishedAsync(CancellationToken ct)
    {
        foreach (var (content, day, first) in _finished)
        {
            string dir = _dayColumnName is null ? "" : $"{_dayColumnName}_day={FormatDay(day)}/";
            string name = string.Create(CultureInfo.InvariantCulture,
                $"data/{dir}{_tp.Topic}-{_tp.Partition}-{first:D20}-{Guid.NewGuid():N}{_format.Extension}");
            string uri = await _tables.WriteDataFileAsync(_table, name, content.Bytes, ct).ConfigureAwait(false);
            _result.Files.Add(new WrittenFile(uri, content.RowCount, content.Bytes.Length, day, content.Columns));
            _result.Bytes += content.Bytes.Length;
        }
        _finished.Clear();
    }

    public static string FormatDay(int? day) => day is int d
        ? DateOnly.FromDayNumber(DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber + d).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)
        : "null";
}
