using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace KafScale.TestSupport;

/// <summary>
/// A TLS-terminating TCP forwarder for tests: it accepts TLS on a free loopback port with a
/// certificate openssl made (see <see cref="TestCertificates"/>), and forwards the decrypted bytes
/// to a plain TCP server such as s3rver, which speaks no TLS itself. Each connection gets its own
/// connection to the target; either side closing ends both.
/// </summary>
public sealed class TlsForwarder : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly X509Certificate2 _certificate;
    private readonly int _targetPort;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    private TlsForwarder(string certPath, string keyPath, int targetPort)
    {
        using var pem = X509Certificate2.CreateFromPemFile(certPath, keyPath);
        _certificate = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        _targetPort = targetPort;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _accepting = AcceptLoopAsync();
    }

    /// <summary>The TLS port on 127.0.0.1.</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Forwards TLS on a new port to 127.0.0.1:targetPort with the given PEM certificate and key.</summary>
    public static TlsForwarder Start(string certPath, string keyPath, int targetPort) => new(certPath, keyPath, targetPort);

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token).ConfigureAwait(false); }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException) { return; }
            _ = ForwardAsync(client);
        }
    }

    private async Task ForwardAsync(TcpClient client)
    {
        using (client)
        {
            await using var tls = new SslStream(client.GetStream(), leaveInnerStreamOpen: false);
            try
            {
                await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
                {
                    ServerCertificate = _certificate,
                    EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                }, _stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is AuthenticationException or IOException or OperationCanceledException)
            {
                return; // a client that does not trust the certificate gives up here
            }
            using var target = new TcpClient();
            try { await target.ConnectAsync(IPAddress.Loopback, _targetPort, _stop.Token).ConfigureAwait(false); }
            catch (Exception e) when (e is SocketException or OperationCanceledException) { return; }
            NetworkStream plain = target.GetStream();
            using var done = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            Task up = CopyAsync(tls, plain, done.Token);
            Task down = CopyAsync(plain, tls, done.Token);
            await Task.WhenAny(up, down).ConfigureAwait(false);
            await done.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(up, down).ConfigureAwait(false);
        }
    }

    private static async Task CopyAsync(Stream from, Stream to, CancellationToken ct)
    {
        try { await from.CopyToAsync(to, ct).ConfigureAwait(false); }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or AuthenticationException) { }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        await _accepting.ConfigureAwait(false);
        _certificate.Dispose();
        _stop.Dispose();
    }
}
