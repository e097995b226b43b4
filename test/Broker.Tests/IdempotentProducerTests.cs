using System.Text;
using KafScale.Broker.Log;
using KafScale.Records;

namespace KafScale.Broker.Tests;

public class ProducerStateTableTests
{
    [Fact]
    public void A_new_producer_must_start_at_sequence_zero()
    {
        var t = new ProducerStateTable();
        Assert.Equal(SequenceCheck.Append, t.Check(7, 0, 0, 4, out _));
        Assert.Equal(SequenceCheck.UnknownProducer, t.Check(8, 0, 5, 9, out _));
    }

    [Fact]
    public void The_next_batch_must_continue_the_sequence_and_a_gap_is_out_of_order()
    {
        var t = new ProducerStateTable();
        t.RecordAppended(7, 0, 0, 4, 100, 104);
        Assert.Equal(SequenceCheck.Append, t.Check(7, 0, 5, 9, out _));
        Assert.Equal(SequenceCheck.OutOfOrder, t.Check(7, 0, 6, 9, out _));
        Assert.Equal(SequenceCheck.OutOfOrder, t.Check(7, 0, 3, 3, out _));
    }

    [Fact]
    public void A_gap_ahead_of_what_the_log_holds_is_told_apart_until_this_term_appends_for_the_producer()
    {
        var t = new ProducerStateTable();
        t.Record(7, 0, 0, 4, 100, 104);
        Assert.Equal(SequenceCheck.GapSinceEarlierTerm, t.Check(7, 0, 6, 9, out _));
        // Behind the log is no gap an earlier term explains.
        Assert.Equal(SequenceCheck.OutOfOrder, t.Check(7, 0, 3, 3, out _));
        Assert.Equal(SequenceCheck.Append, t.Check(7, 0, 5, 5, out _));
        t.RecordAppended(7, 0, 5, 5, 105, 105);
        Assert.Equal(SequenceCheck.OutOfOrder, t.Check(7, 0, 8, 9, out _));
    }

    [Fact]
    public void Any_of_the_last_five_batches_is_recognised_as_a_duplicate_with_its_offset()
    {
        var t = new ProducerStateTable();
        for (int i = 0; i < 7; i++) t.Record(7, 0, i * 10, i * 10 + 9, 1000 + i * 10, 1009 + i * 10);
        for (int i = 2; i < 7; i++)
        {
            Assert.Equal(SequenceCheck.Duplicate, t.Check(7, 0, i * 10, i * 10 + 9, out long offset));
            Assert.Equal(1000 + i * 10, offset);
        }
        // Older than the retained five: no longer known, and not the next sequence either.
        Assert.Equal(SequenceCheck.OutOfOrder, t.Check(7, 0, 10, 19, out _));
    }

    [Fact]
    public void An_older_epoch_is_fenced_and_a_newer_one_restarts_at_zero()
    {
        var t = new ProducerStateTable();
        t.Record(7, 3, 0, 0, 0, 0);
        Assert.Equal(SequenceCheck.InvalidEpoch, t.Check(7, 2, 1, 1, out _));
        Assert.Equal(SequenceCheck.OutOfOrder, t.Check(7, 4, 1, 1, out _));
        Assert.Equal(SequenceCheck.Append, t.Check(7, 4, 0, 0, out _));
        t.Record(7, 4, 0, 0, 1, 1);
        Assert.Equal(4, t.EpochOf(7));
        Assert.Equal(SequenceCheck.Append, t.Check(7, 4, 1, 1, out _));
    }

    [Fact]
    public void Sequences_wrap_from_int_max_to_zero()
    {
        var t = new ProducerStateTable();
        t.Record(7, 0, int.MaxValue - 1, int.MaxValue, 0, 1);
        Assert.Equal(SequenceCheck.Append, t.Check(7, 0, 0, 3, out _));
    }
}

public class IdempotentAppendTests
{
    private static byte[] Idempotent(long producerId, short epoch, int baseSequence, int records, string tag = "i")
    {
        using var b = new RecordBatchBuilder { ProducerId = producerId, ProducerEpoch = epoch, BaseSequence = baseSequence };
        for (int i = 0; i < records; i++) b.Add(null, Encoding.ASCII.GetBytes($"{tag}-{i}"), Batches.Epoch2023 + i);
        return b.Build();
    }

    private static short Refused(PartitionLog log, byte[] blob) => log.Append(blob, Batches.Records(blob)).ErrorCode;

    [Fact]
    public async Task A_retried_batch_is_answered_with_its_first_offset_and_written_once()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync("idem"))[0];
        var first = log.AppendBlob(Idempotent(42, 0, 0, 3));
        Assert.Equal(0, await first.DurableAsync());
        var second = log.AppendBlob(Idempotent(42, 0, 3, 2));
        Assert.Equal(0, await second.DurableAsync());

        var retry = log.AppendBlob(Idempotent(42, 0, 0, 3));
        Assert.Equal(0, retry.ErrorCode);
        Assert.Equal(0, retry.BaseOffset);
        Assert.Equal(0, await retry.DurableAsync());
        Assert.Equal(5, log.HighWatermark);
        Assert.Equal(5, Batches.Records([.. (await host.AllStoredBatchesAsync("idem")).SelectMany(b => b)]));
    }

    [Fact]
    public async Task A_retry_of_a_batch_not_yet_durable_waits_for_the_first_write()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync("idem"))[0];
        var gate = host.HoldNextWal();
        var first = log.AppendBlob(Idempotent(42, 0, 0, 3));
        await gate.Arrived.Within();
        var retry = log.AppendBlob(Idempotent(42, 0, 0, 3));
        Assert.Equal(0, retry.BaseOffset);
        Assert.False(retry.Durable!.IsCompleted);
        gate.Release();
        Assert.Equal(0, await retry.DurableAsync());
        Assert.Equal(0, await first.DurableAsync());
        Assert.Equal(3, log.HighWatermark);
    }

    [Fact]
    public async Task Gaps_stale_epochs_and_unknown_producers_get_kafkas_errors_and_nothing_is_written()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync("idem"))[0];
        Assert.Equal(0, await log.AppendBlob(Idempotent(42, 1, 0, 2)).DurableAsync());
        Assert.Equal(ErrorCodes.OutOfOrderSequenceNumber, Refused(log, Idempotent(42, 1, 5, 1)));
        Assert.Equal(ErrorCodes.InvalidProducerEpoch, Refused(log, Idempotent(42, 0, 2, 1)));
        Assert.Equal(ErrorCodes.UnknownProducerId, Refused(log, Idempotent(99, 0, 7, 1)));
        Assert.Equal(2, log.NextOffset);
    }

    [Fact]
    public async Task After_a_restart_a_sequence_gap_is_not_written_and_retriable_until_the_producer_writes_in_order()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync("idem"))[0];
        Assert.Equal(0, await log.AppendBlob(Idempotent(42, 0, 0, 3)).DurableAsync());
        await host.RestartAsync();

        log = host.Log("idem");
        // Sequence 3 and 4 were refused by the earlier term; 5 arrives first.
        Assert.Equal(ErrorCodes.NotLeaderOrFollower, Refused(log, Idempotent(42, 0, 5, 1)));
        Assert.Equal(3, log.NextOffset);
        Assert.Equal(0, await log.AppendBlob(Idempotent(42, 0, 3, 2)).DurableAsync());
        Assert.Equal(0, await log.AppendBlob(Idempotent(42, 0, 5, 1)).DurableAsync());
        // This term has written for the producer now: a gap is Kafka's OUT_OF_ORDER_SEQUENCE_NUMBER.
        Assert.Equal(ErrorCodes.OutOfOrderSequenceNumber, Refused(log, Idempotent(42, 0, 9, 1)));
        Assert.Equal(6, log.HighWatermark);
    }

    [Fact]
    public async Task Producer_state_is_rebuilt_from_the_segments_after_a_restart()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync("idem"))[0];
        Assert.Equal(0, await log.AppendBlob(Idempotent(42, 0, 0, 3)).DurableAsync());
        Assert.Equal(0, await log.AppendBlob(Idempotent(42, 0, 3, 3)).DurableAsync());
        await host.RestartAsync();

        log = host.Log("idem");
        Assert.Equal(1, log.ProducerCount);
        var retry = log.AppendBlob(Idempotent(42, 0, 3, 3));
        Assert.Equal(3, retry.BaseOffset);
        Assert.Equal(0, await retry.DurableAsync());
        var next = log.AppendBlob(Idempotent(42, 0, 6, 1));
        Assert.Equal(6, next.BaseOffset);
        Assert.Equal(0, await next.DurableAsync());
        Assert.Equal(7, log.HighWatermark);
    }
}
