using System.Security.Cryptography;
using System.Text;

namespace KafScale.Protocol.Sasl;

/// <summary>
/// A SCRAM mechanism (RFC 5802, RFC 7677): its SASL name, the type number Kafka's
/// AlterUserScramCredentials and DescribeUserScramCredentials carry, and its hash. Passwords
/// are used as their UTF-8 bytes without SASLprep, as Kafka's own tools do, so a credential
/// set with Kafka's tools and one set with ours verify the same password.
/// </summary>
public sealed class ScramMechanism
{
    /// <summary>Kafka refuses fewer iterations than this (and so do we).</summary>
    public const int MinIterations = 4096;

    /// <summary>Kafka's upper bound on iterations, which keeps one authentication's cost bounded.</summary>
    public const int MaxIterations = 16384;

    public static readonly ScramMechanism Sha256 = new("SCRAM-SHA-256", 1, HashAlgorithmName.SHA256, 32);
    public static readonly ScramMechanism Sha512 = new("SCRAM-SHA-512", 2, HashAlgorithmName.SHA512, 64);

    /// <summary>SCRAM-SHA-1: only for checking the code against RFC 5802's example; never offered.</summary>
    internal static readonly ScramMechanism Sha1 = new("SCRAM-SHA-1", -1, HashAlgorithmName.SHA1, 20);

    public static IReadOnlyList<ScramMechanism> All { get; } = [Sha256, Sha512];

    private ScramMechanism(string name, sbyte type, HashAlgorithmName hash, int hashBytes)
    {
        Name = name;
        Type = type;
        Hash = hash;
        HashBytes = hashBytes;
    }

    public string Name { get; }

    /// <summary>Kafka's ScramMechanism type: 1 for SCRAM-SHA-256, 2 for SCRAM-SHA-512 (0 is unknown).</summary>
    public sbyte Type { get; }

    public HashAlgorithmName Hash { get; }
    public int HashBytes { get; }

    public override string ToString() => Name;

    public static ScramMechanism? ByName(string? name)
    {
        foreach (var m in All) if (string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase)) return m;
        return null;
    }

    public static ScramMechanism? ByType(sbyte type)
    {
        foreach (var m in All) if (m.Type == type) return m;
        return null;
    }

    /// <summary>Hi(password, salt, i) of RFC 5802: PBKDF2 with this mechanism's HMAC.</summary>
    public byte[] SaltedPassword(string password, ReadOnlySpan<byte> salt, int iterations) =>
        Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, Hash, HashBytes);

    public byte[] Hmac(ReadOnlySpan<byte> key, ReadOnlySpan<byte> data) => CryptographicOperations.HmacData(Hash, key, data);

    public byte[] H(ReadOnlySpan<byte> data) => CryptographicOperations.HashData(Hash, data);

    /// <summary>What a server keeps of a password: the salt, the iterations, StoredKey and ServerKey (RFC 5802 section 3).</summary>
    public ScramCredential Credential(ReadOnlySpan<byte> saltedPassword, byte[] salt, int iterations)
    {
        byte[] clientKey = Hmac(saltedPassword, "Client Key"u8);
        return new ScramCredential(salt, H(clientKey), Hmac(saltedPassword, "Server Key"u8), iterations);
    }

    /// <summary>A random salt as long as the hash, as Kafka's tools make them.</summary>
    public byte[] NewSalt() => RandomNumberGenerator.GetBytes(HashBytes);
}

/// <summary>A user's SCRAM credential for one mechanism, as a server stores it (no password, no salted password).</summary>
public sealed record ScramCredential(byte[] Salt, byte[] StoredKey, byte[] ServerKey, int Iterations);

/// <summary>The SCRAM message syntax shared by the client and the server side (RFC 5802 section 7).</summary>
public static class ScramSyntax
{
    /// <summary>A random printable nonce (base64 without ',').</summary>
    public static string NewNonce() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(24));

    /// <summary>saslname: ',' and '=' written as =2C and =3D.</summary>
    public static string EscapeName(string name) => name.Replace("=", "=3D", StringComparison.Ordinal).Replace(",", "=2C", StringComparison.Ordinal);

    /// <summary>Undoes <see cref="EscapeName"/>; null when an '=' starts anything but =2C or =3D.</summary>
    public static string? UnescapeName(string name)
    {
        if (!name.Contains('=', StringComparison.Ordinal)) return name;
        var sb = new StringBuilder(name.Length);
        for (int i = 0; i < name.Length; i++)
        {
            if (name[i] != '=') { sb.Append(name[i]); continue; }
            if (i + 2 >= name.Length) return null;
            string code = name.Substring(i + 1, 2);
            if (code == "2C") sb.Append(',');
            else if (code == "3D") sb.Append('=');
            else return null;
            i += 2;
        }
        return sb.ToString();
    }

    /// <summary>
    /// Splits "k=v,k=v" into attributes (a single letter each); null when malformed. Values may
    /// contain '=' (base64), so only the first one of each part separates.
    /// </summary>
    public static List<KeyValuePair<char, string>>? Attributes(string message)
    {
        var list = new List<KeyValuePair<char, string>>();
        foreach (var part in message.Split(','))
        {
            if (part.Length < 2 || part[1] != '=' || !char.IsAsciiLetter(part[0])) return null;
            list.Add(new(part[0], part[2..]));
        }
        return list;
    }

    public static string? Find(List<KeyValuePair<char, string>> attributes, char key)
    {
        foreach (var a in attributes) if (a.Key == key) return a.Value;
        return null;
    }

    public static byte[] Xor(byte[] a, byte[] b)
    {
        var r = new byte[a.Length];
        for (int i = 0; i < a.Length; i++) r[i] = (byte)(a[i] ^ b[i]);
        return r;
    }
}

/// <summary>
/// The client side of one SCRAM exchange: <see cref="ClientFirst"/>, then
/// <see cref="ClientFinal"/> from the server-first message, then <see cref="VerifyServerFinal"/>.
/// </summary>
public sealed class ScramClient(ScramMechanism mechanism, string user, string password, string? nonce = null)
{
    private readonly string _nonce = nonce ?? ScramSyntax.NewNonce();
    private string _clientFirstBare = "";
    private byte[] _serverSignature = [];

    public byte[] ClientFirst()
    {
        _clientFirstBare = $"n={ScramSyntax.EscapeName(user)},r={_nonce}";
        return Encoding.UTF8.GetBytes("n,," + _clientFirstBare);
    }

    /// <summary>The client-final message; throws <see cref="FormatException"/> when the server's message is unusable.</summary>
    public byte[] ClientFinal(ReadOnlySpan<byte> serverFirst)
    {
        string text = Encoding.UTF8.GetString(serverFirst);
        var attrs = ScramSyntax.Attributes(text) ?? throw new FormatException("malformed SCRAM server-first message");
        string? serverError = ScramSyntax.Find(attrs, 'e');
        if (serverError is not null) throw new FormatException($"the server refused: {serverError}");
        string nonce = ScramSyntax.Find(attrs, 'r') ?? throw new FormatException("SCRAM server-first message without a nonce");
        byte[] salt = Convert.FromBase64String(ScramSyntax.Find(attrs, 's') ?? throw new FormatException("SCRAM server-first message without a salt"));
        if (!int.TryParse(ScramSyntax.Find(attrs, 'i'), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int iterations) || iterations < 1)
            throw new FormatException("SCRAM server-first message without a valid iteration count");
        if (!nonce.StartsWith(_nonce, StringComparison.Ordinal) || nonce.Length == _nonce.Length)
            throw new FormatException("the SCRAM server nonce does not extend the client's");
        if (iterations > ScramMechanism.MaxIterations) throw new FormatException($"the server asks for {iterations} iterations, more than {ScramMechanism.MaxIterations}");

        byte[] salted = mechanism.SaltedPassword(password, salt, iterations);
        string withoutProof = "c=biws,r=" + nonce;
        byte[] authMessage = Encoding.UTF8.GetBytes(_clientFirstBare + "," + text + "," + withoutProof);
        byte[] clientKey = mechanism.Hmac(salted, "Client Key"u8);
        byte[] clientSignature = mechanism.Hmac(mechanism.H(clientKey), authMessage);
        byte[] proof = ScramSyntax.Xor(clientKey, clientSignature);
        _serverSignature = mechanism.Hmac(mechanism.Hmac(salted, "Server Key"u8), authMessage);
        return Encoding.UTF8.GetBytes(withoutProof + ",p=" + Convert.ToBase64String(proof));
    }

    /// <summary>True when the server proved it knows the credential (v= matches).</summary>
    public bool VerifyServerFinal(ReadOnlySpan<byte> serverFinal)
    {
        var attrs = ScramSyntax.Attributes(Encoding.UTF8.GetString(serverFinal));
        string? v = attrs is null ? null : ScramSyntax.Find(attrs, 'v');
        if (v is null) return false;
        try { return CryptographicOperations.FixedTimeEquals(Convert.FromBase64String(v), _serverSignature); }
        catch (FormatException) { return false; }
    }
}
