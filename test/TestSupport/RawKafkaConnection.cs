using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.TestSupport;

/// <summary>
/// A Kafka connection with nothing between the test and the bytes: frames are written and read
/// as they are, so a test can send what no client library would.
/// </summary>
public sealed class RawKafkaConnection : IAsyncDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(20);

    private readonly TcpClient _client;
    private readonly Stream _stream;
    private int _nextCorrelationId = 1;

    private RawKafkaConnection(TcpClient client, Stream? stream = null)
    {
        _client = client;
        _stream = stream ?? client.GetStream();
    }

    /// <summary>The broker's certificate on a TLS connection.</summary>
    public X509Certificate? RemoteCertificate => (_stream as SslStream)?.RemoteCertificate;

    /// <summary>A TLS connection (any server certificate accepted: the tests look at it themselves), optionally with a client certificate.</summary>
    public static async Task<RawKafkaConnection> ConnectTlsAsync(int port, X509Certificate2? clientCertificate = null)
    {
        var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync(IPAddress.Loopback, port).ConfigureAwait(false);
        var tls = new SslStream(client.GetStream(), leaveInnerStreamOpen: false);
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            RemoteCertificateValidationCallback = (_, _, _, _) => true,
            ClientCertificates = clientCertificate is null ? null : [clientCertificate],
        };
        using var timeout = new CancellationTokenSource(DefaultTimeout);
        await tls.AuthenticateAsClientAsync(options, timeout.Token).ConfigureAwait(false);
        return new RawKafkaConnection(client, tls);
    }

    public static async Task<RawKafkaConnection> ConnectAsync(int port)
    {
        var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync(IPAddress.Loopback, port).ConfigureAwait(false);
        return new RawKafkaConnection(client);
    }

    /// <summary>A request frame without its size prefix: header of the right version, then the body.</summary>
    public static byte[] EncodeRequest(short apiKey, short version, int correlationId, IKafkaMessage body, string? clientId = "kafscale-it")
    {
        using var writer = new KafkaWriter();
        var header = new RequestHeader
        {
            RequestApiKey = apiKey,
            RequestApiVersion = version,
            CorrelationId = correlationId,
            ClientId = clientId,
        };
        header.Write(writer, ApiKeys.RequestHeaderVersion(apiKey, version));
        body.Write(writer, version);
        return writer.ToArray();
    }

    public int NextCorrelationId() => _nextCorrelationId++;

    /// <summary>Writes the 4-byte size and the frame.</summary>
    public async Task SendFrameAsync(ReadOnlyMemory<byte> frame)
    {
        byte[] prefix = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(prefix, frame.Length);
        await _stream.WriteAsync(prefix).ConfigureAwait(false);
        await _stream.WriteAsync(frame).ConfigureAwait(false);
        await _stream.FlushAsync().ConfigureAwait(false);
    }

    /// <summary>Writes bytes with no framing at all.</summary>
    public async Task SendRawAsync(ReadOnlyMemory<byte> bytes)
    {
        await _stream.WriteAsync(bytes).ConfigureAwait(false);
        await _stream.FlushAsync().ConfigureAwait(false);
    }

    /// <summary>Half-closes the connection: the broker reads end-of-stream, and can still answer.</summary>
    public void ShutdownSend() => _client.Client.Shutdown(SocketShutdown.Send);

    /// <summary>Reads one response frame (without the size prefix); null when the broker closed the connection.</summary>
    public async Task<byte[]?> ReadFrameAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        byte[] prefix = new byte[4];
        try
        {
            if (!await ReadExactlyOrEofAsync(prefix, cts.Token).ConfigureAwait(false))
            {
                return null;
            }

            int size = BinaryPrimitives.ReadInt32BigEndian(prefix);
            if (size < 4 || size > 256 * 1024 * 1024)
            {
                throw new InvalidDataException($"response frame size {size} is not plausible");
            }

            byte[] frame = new byte[size];
            if (!await ReadExactlyOrEofAsync(frame, cts.Token).ConfigureAwait(false))
            {
                throw new InvalidDataException($"the connection closed inside a {size}-byte response frame");
            }

            return frame;
        }
        catch (IOException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionReset })
        {
            return null;
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no response frame within {timeout ?? DefaultTimeout}");
        }
    }

    /// <summary>
    /// True when the broker closes the connection (EOF or reset) within the timeout, having sent
    /// nothing more; false when it is still open at the deadline. Any bytes received are returned.
    /// </summary>
    public async Task<(bool Closed, int BytesReceived)> WaitForCloseAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        byte[] buffer = new byte[4096];
        int received = 0;
        try
        {
            while (true)
            {
                int n = await _stream.ReadAsync(buffer, cts.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    return (true, received);
                }

                received += n;
            }
        }
        catch (IOException)
        {
            return (true, received);
        }
        catch (OperationCanceledException)
        {
            return (false, received);
        }
    }

    /// <summary>Reads exactly <paramref name="count"/> bytes, whatever they are (bare SASL tokens have no Kafka framing).</summary>
    public async Task<byte[]> ReadExactlyAsync(int count, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        byte[] buffer = new byte[count];
        await _stream.ReadExactlyAsync(buffer, cts.Token).ConfigureAwait(false);
        return buffer;
    }

    /// <summary>Sends a request and decodes the response of the same version.</summary>
    public async Task<TResponse> SendAsync<TResponse>(short apiKey, short version, IKafkaMessage request)
        where TResponse : IKafkaMessage, new()
    {
        int correlationId = NextCorrelationId();
        await SendFrameAsync(EncodeRequest(apiKey, version, correlationId, request)).ConfigureAwait(false);
        byte[] frame = await ReadFrameAsync().ConfigureAwait(false)
            ?? throw new InvalidDataException($"the broker closed the connection instead of answering api key {apiKey} v{version}");
        return DecodeResponse<TResponse>(frame, apiKey, version, correlationId);
    }

    /// <summary>Decodes a response frame: correlation id, header tagged fields where flexible, then the body.</summary>
    public static TResponse DecodeResponse<TResponse>(byte[] frame, short apiKey, short version, int expectedCorrelationId)
        where TResponse : IKafkaMessage, new()
    {
        var reader = new KafkaReader(frame);
        int correlationId = reader.ReadInt32();
        if (correlationId != expectedCorrelationId)
        {
            throw new InvalidDataException($"response correlation id {correlationId}, expected {expectedCorrelationId}");
        }

        if (ApiKeys.ResponseHeaderVersion(apiKey, version) >= 1)
        {
            reader.SkipTaggedFields();
        }

        var response = new TResponse();
        response.Read(ref reader, version);
        if (!reader.End)
        {
            throw new InvalidDataException(
                $"{typeof(TResponse).Name} v{version}: {reader.Remaining} bytes left after the body ({Convert.ToHexString(frame)})");
        }

        return response;
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync().ConfigureAwait(false);
        _client.Dispose();
    }

    private async Task<bool> ReadExactlyOrEofAsync(byte[] buffer, CancellationToken cancellationToken)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int n = await _stream.ReadAsync(buffer.AsMemory(read), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                if (read == 0)
                {
                    return false;
                }

                throw new InvalidDataException($"the connection closed after {read} of {buffer.Length} bytes");
            }

            read += n;
        }

        return true;
    }
}
