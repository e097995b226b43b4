using System.Text;
using KafScale.ProtocolGen;

// Generates the Kafka message codec from the JSON schemas kept in internal/Protocol/Schemas.
// Usage: dotnet run --project tools/ProtocolGen -- <repo-root>
string root = Path.GetFullPath(args.Length > 0 ? args[0] : Directory.GetCurrentDirectory());
string protocolDir = Path.Combine(root, "internal", "Protocol");
string schemaDir = Path.Combine(protocolDir, "Schemas");
string messagesDir = Path.Combine(protocolDir, "Messages");
if (!Directory.Exists(schemaDir))
{
    Console.Error.WriteLine($"No schemas at {schemaDir}: pass the repository root as the first argument.");
    return 2;
}

Directory.CreateDirectory(messagesDir);
var specs = Directory.GetFiles(schemaDir, "*.json")
    .OrderBy(p => p, StringComparer.Ordinal)
    .Select(SchemaLoader.Load)
    .ToList();

int changed = 0;
var written = new HashSet<string>(StringComparer.Ordinal);
foreach (MessageSpec spec in specs)
{
    string path = Path.Combine(messagesDir, spec.Name + ".g.cs");
    changed += WriteIfChanged(path, new MessageGenerator(spec).Generate());
    written.Add(Path.GetFileName(path));
}

foreach (string stale in Directory.GetFiles(messagesDir, "*.g.cs").Where(p => !written.Contains(Path.GetFileName(p))))
{
    File.Delete(stale);
    changed++;
}

var requests = specs.Where(s => s.Type == "request").OrderBy(s => s.ApiKey).ToList();
var responses = specs.Where(s => s.Type == "response").OrderBy(s => s.ApiKey).ToList();
var responseKeys = responses.Select(r => r.ApiKey).ToHashSet();
foreach (MessageSpec request in requests.Where(r => !responseKeys.Contains(r.ApiKey)))
{
    Console.Error.WriteLine($"{request.FileName} has no matching response schema.");
    return 1;
}

changed += WriteIfChanged(Path.Combine(protocolDir, "ApiKeys.g.cs"), TableGenerators.ApiKeys(requests));
changed += WriteIfChanged(Path.Combine(protocolDir, "KafkaMessages.g.cs"), TableGenerators.Factory(requests, responses));
changed += WriteIfChanged(
    Path.Combine(protocolDir, "ErrorCode.g.cs"),
    TableGenerators.ErrorCodes(File.ReadAllText(Path.Combine(schemaDir, "ERROR_CODES.md"))));

Console.WriteLine($"ProtocolGen: {specs.Count} schemas ({requests.Count} API keys), {changed} file(s) changed.");
return 0;

static int WriteIfChanged(string path, string content)
{
    byte[] bytes = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(content);
    if (File.Exists(path) && File.ReadAllBytes(path).AsSpan().SequenceEqual(bytes))
    {
        return 0;
    }

    File.WriteAllBytes(path, bytes);
    return 1;
}
