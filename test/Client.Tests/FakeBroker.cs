using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Client.Tests;

/// <summary>
/// An in-process Kafka endpoint. It answers ApiVersions with the ranges a test gives it, and
/// refuses ApiVersions versions above <see cref="MaxApiVersionsVersion"/> the way Kafka does (a
/// v0 body with UNSUPPORTED_VERSION), recording the versions it was asked with. Any other
/// request goes to the test's handler, which returns the response message (or null to close).
/// </summary>
public sealed class FakeBroker : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accept;

    private readonly Func<KafkaRequestHeader, ReadOnlyMemory<byte>, IKafkaMessage?>? _handler;

    public FakeBroker(IReadOnlyList<(short ApiKey, short Min, short Max)> apis, short maxApiVersionsVersion,
        Func<KafkaRequestHeader, ReadOnlyMemory<byte>, IKafkaMessage?>? handler = null)
    {
        _handler = handler;
        Apis = apis;
        MaxApiVersionsVersion = maxApiVersionsVersion;
        _listener.Start();
        _accept = AcceptAsync();
    }

    public IReadOnlyList<(short ApiKey, short Min, short Max)> Apis { get; }

    public short MaxApiVersionsVersion { get; }

    public List<short> ApiVersionsAsked { get; } = [];

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                Socket socket = await _listener.AcceptSocketAsync(_stop.Token);
                _ = ServeAsync(socket);
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        using (socket)
        {
            try
            {
                byte[] size = new byte[4];
                while (true)
                {
                    await ReadExactlyAsync(socket, size);
                    byte[] frame = new byte[BinaryPrimitives.ReadInt32BigEndian(size)];
                    await ReadExactlyAsync(socket, frame);
                    KafkaRequestHeader header = KafkaRequestHeader.Parse(frame);
                    if (header.ApiKey != ApiVersionsRequest.ApiKey)
                    {
                        IKafkaMessage? answer = _handler?.Invoke(header, frame.AsMemory(header.BodyOffset));
                        if (answer is null)
                        {
                            return;
                        }

                        using var w = new KafkaWriter();
                        int m = w.BeginSizePrefix();
                        KafkaRequestHeader.WriteResponseHeader(w, header.ApiKey, header.ApiVersion, header.CorrelationId);
                        answer.Write(w, header.ApiVersion);
                        w.EndSizePrefix(m);
                        await socket.SendAsync(w.WrittenMemory, SocketFlags.None, _stop.Token);
                        continue;
                    }

                    lock (ApiVersionsAsked)
                    {
                        ApiVersionsAsked.Add(header.ApiVersion);
                    }

                    var response = new ApiVersionsResponse();
                    foreach ((short key, short min, short max) in Apis)
                    {
                        response.ApiKeys.Add(new ApiVersionsResponse.ApiVersion { ApiKey = key, MinVersion = min, MaxVersion = max });
                    }

                    short version = header.ApiVersion;
                    if (version > MaxApiVersionsVersion)
                    {
                        response.ErrorCode = (short)ErrorCode.UnsupportedVersion;
                        version = 0;
                    }

                    using var writer = new KafkaWriter();
                    int mark = writer.BeginSizePrefix();
                    writer.WriteInt32(header.CorrelationId);
                    response.Write(writer, version);
                    writer.EndSizePrefix(mark);
                    await socket.SendAsync(writer.WrittenMemory, SocketFlags.None, _stop.Token);
                }
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException or EndOfStreamException)
            {
            }
        }
    }

    private async Task ReadExactlyAsync(Socket socket, Memory<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
            if (n == 0)
            {
                throw new EndOfStreamException();
            }

            buffer = buffer[n..];
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _accept;
        _stop.Dispose();
    }
}
