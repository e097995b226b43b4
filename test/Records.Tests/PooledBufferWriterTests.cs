using KafScale.Common;

namespace KafScale.Records.Tests;

public class PooledBufferWriterTests
{
    [Fact]
    public void A_maximum_length_is_exact_for_writes_and_bounds_growth_for_requested_room()
    {
        using var writer = new PooledBufferWriter(16, maxLength: 100);
        writer.Write(new byte[100]);
        Assert.Equal(100, writer.WrittenCount);
        Assert.Throws<InvalidDataException>(() => writer.Write([1]));
        Assert.Equal(100, writer.WrittenCount);

        // Room is granted in blocks up to the slack, but never written past the maximum.
        Span<byte> room = writer.GetSpan(1000);
        Assert.True(room.Length >= 1000);
        Assert.True(writer.Capacity <= 100 + PooledBufferWriter.LimitSlack);
        Assert.Throws<InvalidDataException>(() => writer.Advance(1));
        Assert.Throws<InvalidDataException>(() => writer.GetSpan(PooledBufferWriter.LimitSlack + 1));
    }

    [Fact]
    public void Without_a_maximum_it_grows_as_before()
    {
        using var writer = new PooledBufferWriter(16);
        writer.Write(new byte[3 * PooledBufferWriter.LimitSlack]);
        Assert.Equal(3 * PooledBufferWriter.LimitSlack, writer.WrittenCount);
    }
}
