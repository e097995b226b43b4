using System.Net;
using System.Net.Sockets;

namespace KafScale.LoadGen;

/// <summary><c>loadgen ports N</c>: prints N distinct free loopback TCP ports (for scripts).</summary>
internal static class PortsCommand
{
    public const string Usage = "loadgen ports [--count N]   print N free loopback ports, space-separated [2]";

    public static int Run(Arguments args)
    {
        int count = args.Int("count", 2);
        args.ThrowIfUnread();
        var sockets = new List<Socket>();
        try
        {
            for (int i = 0; i < count; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                sockets.Add(socket);
                socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            }

            Console.Out.WriteLine(string.Join(' ', sockets.Select(s => ((IPEndPoint)s.LocalEndPoint!).Port)));
            return 0;
        }
        finally
        {
            foreach (Socket socket in sockets)
            {
                socket.Dispose();
            }
        }
    }

    /// <summary>Two free ports, bound together so they differ (the race with other processes is accepted).</summary>
    public static (int, int) FreePorts()
    {
        using var a = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var b = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        a.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        b.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return (((IPEndPoint)a.LocalEndPoint!).Port, ((IPEndPoint)b.LocalEndPoint!).Port);
    }
}
