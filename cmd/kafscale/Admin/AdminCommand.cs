using System.CommandLine;
using System.Text;
using KafScale.Admin;
using KafScale.Client;

namespace KafScale.Cli;

/// <summary>
/// <c>kafscale admin</c>: operates any Kafka-protocol cluster through our own client. --bootstrap
/// and --output are options of <c>admin</c> itself, passed down to every command, so they go
/// anywhere after <c>admin</c> (as Kafka's and Redpanda's tools take them); the work itself
/// lives in internal/Admin.
/// </summary>
internal static partial class AdminCommand
{
    private static readonly Option<string> Bootstrap = new("--bootstrap")
    {
        Description = "Brokers to contact first, HOST:PORT[,HOST:PORT...]; not used by admin segments, which reads the object store [env KAFSCALE_BOOTSTRAP, default 127.0.0.1:9092]",
        Recursive = true,
    };

    /// <summary>Shared with <c>admin segments</c>, which reads it the same way.</summary>
    internal static readonly Option<string> Output = new("--output")
    {
        Description = "text (aligned tables) or json (for scripts) [env KAFSCALE_OUTPUT, default text]",
        Recursive = true,
    };

    // Client security, as Kafka's clients name it (security.protocol, sasl.mechanism, ...); recursive like --bootstrap.
    private static readonly Option<string> SecurityProtocol = new("--security-protocol") { Description = "PLAINTEXT|SSL|SASL_PLAINTEXT|SASL_SSL [env KAFSCALE_CLIENT_SECURITY_PROTOCOL, default PLAINTEXT]", Recursive = true };
    private static readonly Option<string> SaslMechanism = new("--sasl-mechanism") { Description = "PLAIN|SCRAM-SHA-256|SCRAM-SHA-512 [env KAFSCALE_CLIENT_SASL_MECHANISM, default PLAIN]", Recursive = true };
    private static readonly Option<string> SaslUsername = new("--sasl-username") { Description = "SASL user [env KAFSCALE_CLIENT_SASL_USERNAME]", Recursive = true };
    private static readonly Option<string> SaslPassword = new("--sasl-password") { Description = "SASL password; prefer the environment variable, which other users cannot see [env KAFSCALE_CLIENT_SASL_PASSWORD]", Recursive = true };
    private static readonly Option<string> ClientTlsCa = new("--tls-ca") { Description = "PEM CA the brokers' certificates must chain to [env KAFSCALE_CLIENT_TLS_CA, default: the system's roots]", Recursive = true };
    private static readonly Option<string> ClientTlsCert = new("--tls-cert") { Description = "PEM client certificate for mTLS [env KAFSCALE_CLIENT_TLS_CERT]", Recursive = true };
    private static readonly Option<string> ClientTlsKey = new("--tls-key") { Description = "PEM key of --tls-cert [env KAFSCALE_CLIENT_TLS_KEY]", Recursive = true };

    public static Command Create()
    {
        var command = new Command("admin", "Operate a cluster: topics, groups, records, offsets, quotas, ACLs, segments, benchmarks.");
        // Recursive options of admin: `kafscale admin --bootstrap H topics list` and `kafscale
        // admin topics list --bootstrap H` mean the same. `segments` reads the bucket, not a
        // broker: it takes --output and ignores --bootstrap, so an alias carrying --bootstrap
        // still works for it.
        command.Options.Add(Bootstrap);
        command.Options.Add(Output);
        foreach (var o in new[] { SecurityProtocol, SaslMechanism, SaslUsername, SaslPassword, ClientTlsCa, ClientTlsCert, ClientTlsKey })
        {
            command.Options.Add(o);
        }

        foreach (var cluster in new[] { ClusterCommand(), TopicsCommand(), GroupsCommand(), ProduceCommand(), ConsumeCommand(), OffsetsCommand(), BenchCommand(), QuotasCommand(), AclsCommand(), UsersCommand() })
        {
            command.Subcommands.Add(cluster);
        }
        AddSegments(command);
        RequireSubcommand(command);
        return command;
    }

    /// <summary>
    /// A command that only groups others answers its bare use (or an unknown word after it) with
    /// one line naming the commands it has, exit code 2.
    /// </summary>
    private static void RequireSubcommand(Command command)
    {
        foreach (Command sub in command.Subcommands)
        {
            if (sub.Action is null && sub.Subcommands.Count > 0)
            {
                RequireSubcommand(sub);
            }
        }

        command.SetAction(parse =>
        {
            string path = $"kafscale {string.Join(' ', PathOf(command))}";
            string known = string.Join(", ", command.Subcommands.Select(c => c.Name));
            string? unknown = parse.UnmatchedTokens.FirstOrDefault();
            Console.Error.WriteLine(unknown is null
                ? $"{path}: missing command: one of {known} (see '{path} --help')"
                : $"{path}: unknown command '{unknown}': expected one of {known} (see '{path} --help')");
            return AdminExitCodes.Usage;
        });
    }

    private static List<string> PathOf(Command command)
    {
        var names = new List<string>();
        for (Symbol? s = command; s is Command c && c is not RootCommand; s = c.Parents.FirstOrDefault())
        {
            names.Insert(0, c.Name);
        }

        return names;
    }

    /// <summary>Adds <c>admin segments</c> (cmd/kafscale/Admin/SegmentsCommand.cs).</summary>
    static partial void AddSegments(Command admin);

    // ---- the shared run loop ------------------------------------------------------------------

    private sealed record Context(KafkaClient Client, AdminOutput Output, Settings Settings, string BootstrapServers);

    private static void Act(Command command, Func<ParseResult, Context, CancellationToken, Task<int>> run) =>
        command.SetAction((parse, ct) => RunAsync(command, parse, run, ct));

    private static async Task<int> RunAsync(Command command, ParseResult parse, Func<ParseResult, Context, CancellationToken, Task<int>> run, CancellationToken ct)
    {
        string name = $"kafscale admin {CommandPath(command)}";
        var stdout = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false), 1 << 16) { AutoFlush = false };
        try
        {
            var settings = new Settings(parse);
            string servers = settings.String(Bootstrap, "KAFSCALE_BOOTSTRAP", "127.0.0.1:9092");
            try
            {
                KafkaClient.ParseBootstrap(servers);
            }
            catch (ArgumentException)
            {
                throw new SettingException($"invalid value '{servers}' for --bootstrap (KAFSCALE_BOOTSTRAP): expected HOST:PORT[,HOST:PORT...], for example 127.0.0.1:9092");
            }

            var output = new AdminOutput(AdminOutput.ParseFormat(settings.String(Output, "KAFSCALE_OUTPUT", "text")), stdout);
            var options = new KafkaClientOptions
            {
                BootstrapServers = servers,
                MaxRetries = 3,
                Connection = new KafkaConnectionOptions { ClientId = "kafscale-admin", ConnectTimeout = TimeSpan.FromSeconds(5), Security = ClientSecurity(settings) },
            };
            KafkaClient client;
            try
            {
                client = await KafkaClient.ConnectAsync(options, ct).ConfigureAwait(false);
            }
            catch (KafkaException ex)
            {
                Console.Error.WriteLine($"{name}: cannot reach the cluster at {servers} (--bootstrap / KAFSCALE_BOOTSTRAP): {ex.Message}");
                return AdminExitCodes.Failure;
            }

            await using (client.ConfigureAwait(false))
            {
                return await run(parse, new Context(client, output, settings, servers), ct).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is SettingException or AdminUsageException)
        {
            Console.Error.WriteLine($"{name}: {ex.Message}");
            return AdminExitCodes.Usage;
        }
        catch (AdminFailure ex)
        {
            Console.Error.WriteLine($"{name}: {ex.Message}");
            return AdminExitCodes.Failure;
        }
        catch (KafkaException ex)
        {
            Console.Error.WriteLine($"{name}: {ex.Message}");
            return AdminExitCodes.Failure;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return 130;
        }
        catch (IOException ex)
        {
            Console.Error.WriteLine($"{name}: {ex.Message}");
            return AdminExitCodes.Failure;
        }
        finally
        {
            try
            {
                await stdout.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (IOException)
            {
                // A closed pipe (| head): nothing more to say.
            }
        }
    }

    private static string CommandPath(Command command)
    {
        var names = new List<string>();
        for (Symbol? s = command; s is Command c && c.Name != "admin"; s = c.Parents.FirstOrDefault())
        {
            names.Insert(0, c.Name);
        }

        return string.Join(' ', names);
    }

    private static Argument<string> NameArgument(string name, string description) => new(name) { Description = description };

    private static string Required(ParseResult parse, Argument<string> argument) => parse.GetValue(argument)!;

    private static int IntOption(ParseResult parse, Option<string> option, int fallback, int min, int max) =>
        parse.GetValue(option) is string raw ? AdminParsing.ParseInt(raw, option.Name, min, max) : fallback;

    // ---- cluster ------------------------------------------------------------------------------

    private static Command ClusterCommand()
    {
        var cluster = new Command("cluster", "Brokers, controller and health of the cluster.");

        var info = new Command("info", "Brokers, controller and cluster id.");
        Act(info, (_, ctx, ct) => ClusterAdmin.InfoAsync(ctx.Client, ctx.Output, ct));
        cluster.Subcommands.Add(info);

        var health = new Command("health", "Every partition has a live leader and every broker's /readyz (object store, metadata store) is ready; exit code 10 when not.");
        var httpPort = new Option<string>("--http-port") { Description = "Port of each broker's HTTP listener (/readyz) on its advertised host; 0 skips the readiness checks [env KAFSCALE_ADMIN_HTTP_PORT, default 9093]" };
        var httpEndpoints = new Option<string>("--http-endpoints") { Description = "Explicit HTTP listeners per broker, BROKER_ID=HOST:PORT[,...] (override --http-port) [env KAFSCALE_ADMIN_HTTP_ENDPOINTS]" };
        var watch = new Option<bool>("--watch") { Description = "Check again every --interval until interrupted (JSON: one object per line)" };
        var interval = new Option<string>("--interval") { Description = "Seconds between checks with --watch [default 5]" };
        health.Options.Add(httpPort);
        health.Options.Add(httpEndpoints);
        health.Options.Add(watch);
        health.Options.Add(interval);
        Act(health, (parse, ctx, ct) =>
        {
            int port = ctx.Settings.Int(httpPort, "KAFSCALE_ADMIN_HTTP_PORT", 9093, 0, 65535);
            var endpoints = new HealthEndpoints(port, HealthEndpoints.ParseExplicit(ctx.Settings.Raw(httpEndpoints, "KAFSCALE_ADMIN_HTTP_ENDPOINTS"), httpEndpoints.Name));
            int seconds = IntOption(parse, interval, 5, 1, 86_400);
            return ClusterAdmin.HealthAsync(ctx.Client, ctx.Output, endpoints, parse.GetValue(watch) ? TimeSpan.FromSeconds(seconds) : null, ct);
        });
        cluster.Subcommands.Add(health);
        return cluster;
    }

    // ---- topics -------------------------------------------------------------------------------

    private static Command TopicsCommand()
    {
        var topics = new Command("topics", "List, describe, create, delete and configure topics.");

        var list = new Command("list", "Every topic with its partition count.");
        Act(list, (_, ctx, ct) => TopicAdmin.ListAsync(ctx.Client, ctx.Output, ct));
        topics.Subcommands.Add(list);

        var describe = new Command("describe", "Partitions (leader, epoch, earliest and latest offset) and configuration of a topic.");
        var describeName = NameArgument("topic", "The topic");
        describe.Arguments.Add(describeName);
        Act(describe, (parse, ctx, ct) => TopicAdmin.DescribeAsync(ctx.Client, ctx.Output, Required(parse, describeName), ct));
        topics.Subcommands.Add(describe);

        var create = new Command("create", "Create a topic.");
        var createName = NameArgument("topic", "The topic to create");
        var partitions = new Option<string>("--partitions") { Description = "Number of partitions [default: the broker's default]" };
        var config = new Option<string[]>("--config") { Description = "A topic configuration KEY=VALUE (repeatable), e.g. retention.ms=86400000" };
        create.Arguments.Add(createName);
        create.Options.Add(partitions);
        create.Options.Add(config);
        Act(create, (parse, ctx, ct) => TopicAdmin.CreateAsync(ctx.Client, ctx.Output, Required(parse, createName),
            IntOption(parse, partitions, -1, 1, 1_000_000),
            [.. (parse.GetValue(config) ?? []).Select(c => AdminParsing.ParseKeyValue(c, config.Name))], ct));
        topics.Subcommands.Add(create);

        var delete = new Command("delete", "Delete a topic and its data.");
        var deleteName = NameArgument("topic", "The topic to delete");
        delete.Arguments.Add(deleteName);
        Act(delete, (parse, ctx, ct) => TopicAdmin.DeleteAsync(ctx.Client, ctx.Output, Required(parse, deleteName), ct));
        topics.Subcommands.Add(delete);

        var alter = new Command("alter-config", "Set or delete topic configuration keys (the others keep their values).");
        var alterName = NameArgument("topic", "The topic");
        var set = new Option<string[]>("--set") { Description = "KEY=VALUE to set (repeatable)" };
        var del = new Option<string[]>("--delete") { Description = "KEY to return to its default (repeatable)" };
        alter.Arguments.Add(alterName);
        alter.Options.Add(set);
        alter.Options.Add(del);
        Act(alter, (parse, ctx, ct) => TopicAdmin.AlterConfigAsync(ctx.Client, ctx.Output, Required(parse, alterName),
            [.. (parse.GetValue(set) ?? []).Select(c => AdminParsing.ParseKeyValue(c, set.Name))], parse.GetValue(del) ?? [], ct));
        topics.Subcommands.Add(alter);

        var add = new Command("add-partitions", "Add partitions to a topic.");
        var addName = NameArgument("topic", "The topic");
        var count = new Option<string>("--count") { Description = "How many partitions to add", Required = true };
        add.Arguments.Add(addName);
        add.Options.Add(count);
        Act(add, (parse, ctx, ct) => TopicAdmin.AddPartitionsAsync(ctx.Client, ctx.Output, Required(parse, addName), IntOption(parse, count, 0, 1, 1_000_000), ct));
        topics.Subcommands.Add(add);
        return topics;
    }

    // ---- groups -------------------------------------------------------------------------------

    private static Command GroupsCommand()
    {
        var groups = new Command("groups", "List, describe (with lag), delete consumer groups and reset their offsets.");

        var list = new Command("list", "Every group with its state.");
        Act(list, (_, ctx, ct) => GroupAdmin.ListAsync(ctx.Client, ctx.Output, ct));
        groups.Subcommands.Add(list);

        var describe = new Command("describe", "Members, assignments, committed and end offsets, lag per partition and in total.");
        var describeName = NameArgument("group", "The group");
        describe.Arguments.Add(describeName);
        Act(describe, (parse, ctx, ct) => GroupAdmin.DescribeAsync(ctx.Client, ctx.Output, Required(parse, describeName), ct));
        groups.Subcommands.Add(describe);

        var delete = new Command("delete", "Delete a group with no active members, and its committed offsets.");
        var deleteName = NameArgument("group", "The group");
        delete.Arguments.Add(deleteName);
        Act(delete, (parse, ctx, ct) => GroupAdmin.DeleteAsync(ctx.Client, ctx.Output, Required(parse, deleteName), ct));
        groups.Subcommands.Add(delete);

        var reset = new Command("reset-offsets", "Move a group's committed offsets (group without active members). Prints the plan; --execute commits it.");
        var resetName = NameArgument("group", "The group");
        var topic = new Option<string>("--topic") { Description = "TOPIC or TOPIC:PARTITION[,PARTITION...]", Required = true };
        var earliest = new Option<bool>("--to-earliest") { Description = "To the log start" };
        var latest = new Option<bool>("--to-latest") { Description = "To the log end" };
        var toOffset = new Option<string>("--to-offset") { Description = "To this offset (clamped to the log)" };
        var toDatetime = new Option<string>("--to-datetime") { Description = "To the first record at or after this time (ISO 8601, e.g. 2024-05-01T12:00:00Z, or ms)" };
        var shiftBy = new Option<string>("--shift-by") { Description = "By N from the committed offset (negative moves back; clamped to the log)" };
        var execute = new Option<bool>("--execute") { Description = "Commit the new offsets (without it: a dry run)" };
        reset.Arguments.Add(resetName);
        foreach (Option o in new Option[] { topic, earliest, latest, toOffset, toDatetime, shiftBy, execute })
        {
            reset.Options.Add(o);
        }

        Act(reset, (parse, ctx, ct) =>
        {
            var targets = new List<ResetTarget>();
            if (parse.GetValue(earliest))
            {
                targets.Add(new ResetTarget.Earliest());
            }

            if (parse.GetValue(latest))
            {
                targets.Add(new ResetTarget.Latest());
            }

            if (parse.GetValue(toOffset) is string o)
            {
                targets.Add(new ResetTarget.ToOffset(AdminParsing.ParseLong(o, toOffset.Name, 0, long.MaxValue)));
            }

            if (parse.GetValue(toDatetime) is string d)
            {
                targets.Add(new ResetTarget.ToTime(AdminParsing.ParseTime(d, toDatetime.Name)));
            }

            if (parse.GetValue(shiftBy) is string s)
            {
                targets.Add(new ResetTarget.ShiftBy(AdminParsing.ParseLong(s, shiftBy.Name, long.MinValue / 2, long.MaxValue / 2)));
            }

            if (targets.Count != 1)
            {
                throw new AdminUsageException("reset-offsets needs exactly one of --to-earliest, --to-latest, --to-offset, --to-datetime, --shift-by");
            }

            (string t, IReadOnlyList<int>? partitions) = AdminParsing.ParseTopicPartitions(parse.GetValue(topic)!, topic.Name);
            return GroupAdmin.ResetOffsetsAsync(ctx.Client, ctx.Output, Required(parse, resetName), t, partitions, targets[0], parse.GetValue(execute), ct);
        });
        groups.Subcommands.Add(reset);
        return groups;
    }

    // ---- records ------------------------------------------------------------------------------

    private static Command ProduceCommand()
    {
        var produce = new Command("produce", "Produce one record per line of standard input.");
        var topic = NameArgument("topic", "The topic (created when the broker auto-creates topics)");
        var key = new Option<string>("--key") { Description = "Key of every record" };
        var separator = new Option<string>("--key-separator") { Description = "Split each line into KEY<separator>VALUE" };
        var header = new Option<string[]>("--header") { Description = "Header KEY=VALUE on every record (repeatable)" };
        var partition = new Option<string>("--partition") { Description = "Partition to write to [default: by key hash (murmur2, as Kafka's producer), unkeyed round-robin per batch]" };
        var compression = new Option<string>("--compression") { Description = "none|gzip|snappy|lz4|zstd [default none]" };
        var acks = new Option<string>("--acks") { Description = "all|1|0 [default all]" };
        produce.Arguments.Add(topic);
        foreach (Option o in new Option[] { key, separator, header, partition, compression, acks })
        {
            produce.Options.Add(o);
        }

        Act(produce, async (parse, ctx, ct) =>
        {
            if (parse.GetValue(key) is not null && parse.GetValue(separator) is not null)
            {
                throw new AdminUsageException("--key and --key-separator exclude each other: give a fixed key or split keys off the lines");
            }

            var settings = new ProduceSettings
            {
                Topic = Required(parse, topic),
                Key = parse.GetValue(key),
                KeySeparator = parse.GetValue(separator),
                Headers = [.. (parse.GetValue(header) ?? []).Select(h => AdminParsing.ParseKeyValue(h, header.Name)).Select(h => new Records.RecordHeader(h.Key, Encoding.UTF8.GetBytes(h.Value)))],
                Partition = IntOption(parse, partition, -1, 0, int.MaxValue),
                Compression = parse.GetValue(compression) is string c ? AdminParsing.ParseCompression(c, compression.Name) : Records.CompressionType.None,
                Acks = parse.GetValue(acks) is string a ? AdminParsing.ParseAcks(a, acks.Name) : Acks.All,
            };
            using var stdin = new StreamReader(Console.OpenStandardInput(), Encoding.UTF8);
            return await ProduceAdmin.RunAsync(ctx.Client, ctx.Output, settings, stdin, ct).ConfigureAwait(false);
        });
        return produce;
    }

    private static Command ConsumeCommand()
    {
        var consume = new Command("consume", "Print records of a topic (JSON output: one object per record per line).");
        var topic = NameArgument("topic", "The topic");
        var from = new Option<string>("--from") { Description = "beginning|end|OFFSET|@TIME, TIME in ISO 8601 or ms [default: the group's committed offsets with --group, else end]" };
        var count = new Option<string>("--count") { Description = "Stop after N records" };
        var group = new Option<string>("--group") { Description = "Start from this group's committed offsets and commit after printing each fetch (does not join the group)" };
        var partition = new Option<string>("--partition") { Description = "Only this partition" };
        var format = new Option<string>("--format") { Description = "Text template of a record: {topic} {partition} {offset} {timestamp} {time} {key} {value} {headers}, \\t and \\n [default {value}]" };
        var exitAtEnd = new Option<bool>("--exit-at-end") { Description = "Exit once every partition is read up to the end it had at start" };
        consume.Arguments.Add(topic);
        foreach (Option o in new Option[] { from, count, group, partition, format, exitAtEnd })
        {
            consume.Options.Add(o);
        }

        Act(consume, (parse, ctx, ct) =>
        {
            string template = parse.GetValue(format) ?? "{value}";
            ConsumeAdmin.ValidateFormat(template, format.Name);
            var settings = new ConsumeSettings
            {
                Topic = Required(parse, topic),
                From = parse.GetValue(from) is string f ? StartPosition.Parse(f, from.Name) : null,
                Count = parse.GetValue(count) is string n ? AdminParsing.ParseLong(n, count.Name, 0, long.MaxValue) : -1,
                Group = parse.GetValue(group),
                Partition = IntOption(parse, partition, -1, 0, int.MaxValue),
                Format = template,
                ExitAtEnd = parse.GetValue(exitAtEnd),
            };
            return ConsumeAdmin.RunAsync(ctx.Client, ctx.Output, settings, ct);
        });
        return consume;
    }

    private static Command OffsetsCommand()
    {
        var offsets = new Command("offsets", "Per partition: earliest and latest offset, and with --time the offset at that time.");
        var topic = NameArgument("topic", "The topic");
        var time = new Option<string>("--time") { Description = "ISO 8601 time or ms since the epoch" };
        offsets.Arguments.Add(topic);
        offsets.Options.Add(time);
        Act(offsets, (parse, ctx, ct) => OffsetsAdmin.RunAsync(ctx.Client, ctx.Output, Required(parse, topic),
            parse.GetValue(time) is string t ? AdminParsing.ParseTime(t, time.Name) : null, ct));
        return offsets;
    }

    // ---- quotas -------------------------------------------------------------------------------

    /// <summary>--security-protocol and the SASL and TLS settings that go with it.</summary>
    private static KafkaSecurityOptions ClientSecurity(Settings s)
    {
        string protocolName = s.String(SecurityProtocol, "KAFSCALE_CLIENT_SECURITY_PROTOCOL", "PLAINTEXT");
        if (!KafkaSecurityOptions.TryParseProtocol(protocolName, out var protocol))
        {
            throw new SettingException($"invalid value '{protocolName}' for --security-protocol (KAFSCALE_CLIENT_SECURITY_PROTOCOL): expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL");
        }

        string mechanism = s.String(SaslMechanism, "KAFSCALE_CLIENT_SASL_MECHANISM", "PLAIN").ToUpperInvariant();
        if (mechanism is not ("PLAIN" or "SCRAM-SHA-256" or "SCRAM-SHA-512"))
        {
            throw new SettingException($"invalid value '{mechanism}' for --sasl-mechanism (KAFSCALE_CLIENT_SASL_MECHANISM): expected PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512");
        }

        var security = new KafkaSecurityOptions
        {
            Protocol = protocol,
            SaslMechanism = mechanism,
            SaslUsername = s.Raw(SaslUsername, "KAFSCALE_CLIENT_SASL_USERNAME"),
            SaslPassword = s.Raw(SaslPassword, "KAFSCALE_CLIENT_SASL_PASSWORD"),
            TlsCaPath = s.Raw(ClientTlsCa, "KAFSCALE_CLIENT_TLS_CA"),
            TlsCertificatePath = s.Raw(ClientTlsCert, "KAFSCALE_CLIENT_TLS_CERT"),
            TlsKeyPath = s.Raw(ClientTlsKey, "KAFSCALE_CLIENT_TLS_KEY"),
        };
        if (security.UsesSasl && (security.SaslUsername is null || security.SaslPassword is null))
        {
            throw new SettingException($"--security-protocol {protocolName.ToUpperInvariant()} needs --sasl-username and --sasl-password (KAFSCALE_CLIENT_SASL_USERNAME, KAFSCALE_CLIENT_SASL_PASSWORD)");
        }

        if ((security.TlsCertificatePath is null) != (security.TlsKeyPath is null))
        {
            throw new SettingException("--tls-cert and --tls-key (KAFSCALE_CLIENT_TLS_CERT, KAFSCALE_CLIENT_TLS_KEY) go together");
        }

        return security;
    }

    // ---- users --------------------------------------------------------------------------------

    private static Command UsersCommand()
    {
        var users = new Command("users", "List, set and delete SCRAM users (SASL PLAIN checks the same credentials).");
        var list = new Command("list", "Every user with SCRAM credentials: mechanism and iterations.");
        Act(list, (parse, ctx, ct) => UserAdmin.ListAsync(ctx.Client, ctx.Output, ct));

        var set = new Command("set", "Create a user's credential or change its password; the password is salted and hashed here.");
        var setName = new Argument<string>("NAME") { Description = "The user" };
        var setMechanism = new Option<string>("--mechanism") { Description = "SCRAM-SHA-256 or SCRAM-SHA-512 (required)" };
        var password = new Option<string>("--password") { Description = "The password (visible to other users of this machine; prefer --password-file)" };
        var passwordFile = new Option<string>("--password-file") { Description = "A file whose first line is the password" };
        var iterations = new Option<string>("--iterations") { Description = "PBKDF2 iterations, 4096 to 16384 [default 4096]" };
        set.Arguments.Add(setName);
        foreach (Option o in new Option[] { setMechanism, password, passwordFile, iterations })
        {
            set.Options.Add(o);
        }

        Act(set, (parse, ctx, ct) =>
        {
            var mechanism = UserAdmin.ParseMechanism(parse.GetValue(setMechanism), "--mechanism");
            string secret = UserAdmin.ReadPassword(parse.GetValue(password), parse.GetValue(passwordFile));
            string? rawIterations = parse.GetValue(iterations);
            int count = 4096;
            if (rawIterations is not null && !int.TryParse(rawIterations, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out count))
            {
                throw new AdminUsageException($"invalid value '{rawIterations}' for --iterations: expected a number from 4096 to 16384");
            }

            return UserAdmin.SetAsync(ctx.Client, ctx.Output, parse.GetValue(setName)!, mechanism, secret, count, ct);
        });

        var delete = new Command("delete", "Delete a user's credential of one mechanism.");
        var deleteName = new Argument<string>("NAME") { Description = "The user" };
        var deleteMechanism = new Option<string>("--mechanism") { Description = "SCRAM-SHA-256 or SCRAM-SHA-512 (required)" };
        delete.Arguments.Add(deleteName);
        delete.Options.Add(deleteMechanism);
        Act(delete, (parse, ctx, ct) =>
            UserAdmin.DeleteAsync(ctx.Client, ctx.Output, parse.GetValue(deleteName)!, UserAdmin.ParseMechanism(parse.GetValue(deleteMechanism), "--mechanism"), ct));

        users.Subcommands.Add(list);
        users.Subcommands.Add(set);
        users.Subcommands.Add(delete);
        return users;
    }

    private static Command QuotasCommand()
    {
        var quotas = new Command("quotas", "Describe and alter client quotas (producer_byte_rate, consumer_byte_rate, request_percentage) of users and client ids.");
        quotas.Subcommands.Add(QuotaMode("describe", "Every configured quota entity, or with --user/--client-id flags exactly that entity.", alter: false));
        quotas.Subcommands.Add(QuotaMode("alter", "Set (--add-config) and remove (--delete-config) quota keys of one entity; the other keys keep their values.", alter: true));
        return quotas;
    }

    private static Command QuotaMode(string name, string description, bool alter)
    {
        var command = new Command(name, description);
        var user = new Option<string>("--user") { Description = "The user (every connection is user ANONYMOUS until authentication exists)" };
        var userDefaults = new Option<bool>("--user-defaults") { Description = "The default user entity, which applies to users without their own quota" };
        var clientId = new Option<string>("--client-id") { Description = "The client id" };
        var clientDefaults = new Option<bool>("--client-defaults") { Description = "The default client-id entity, which applies to client ids without their own quota" };
        foreach (Option o in new Option[] { user, userDefaults, clientId, clientDefaults })
        {
            command.Options.Add(o);
        }

        Option<string[]>? add = null, delete = null;
        Option<bool>? validateOnly = null;
        if (alter)
        {
            add = new Option<string[]>("--add-config") { Description = "KEY=VALUE[,KEY=VALUE...] to set (repeatable), e.g. producer_byte_rate=1048576" };
            delete = new Option<string[]>("--delete-config") { Description = "KEY[,KEY...] to remove (repeatable)" };
            validateOnly = new Option<bool>("--validate-only") { Description = "Let the broker check the change without applying it" };
            command.Options.Add(add);
            command.Options.Add(delete);
            command.Options.Add(validateOnly);
        }

        Act(command, (parse, ctx, ct) =>
        {
            var selection = QuotaEntitySelection.From(parse.GetValue(user), parse.GetValue(userDefaults), parse.GetValue(clientId), parse.GetValue(clientDefaults));
            if (!alter)
            {
                return QuotaAdmin.DescribeAsync(ctx.Client, ctx.Output, selection, ct);
            }

            return QuotaAdmin.AlterAsync(ctx.Client, ctx.Output, selection,
                QuotaAdmin.ParseAddConfig(parse.GetValue(add!) ?? [], add!.Name), QuotaAdmin.ParseDeleteConfig(parse.GetValue(delete!) ?? []),
                parse.GetValue(validateOnly!), ct);
        });
        return command;
    }

    // ---- bench --------------------------------------------------------------------------------

    private static Command BenchCommand()
    {
        var bench = new Command("bench", "Measure throughput (records/s, MB/s) and request latency (p50/p99/p999) against the cluster.");
        bench.Subcommands.Add(BenchMode("produce", "Produce fixed-size records as fast as the cluster takes them.", produce: true));
        bench.Subcommands.Add(BenchMode("consume", "Read the topic from its start up to the end it had at start.", produce: false));
        return bench;
    }

    private static Command BenchMode(string name, string description, bool produce)
    {
        var command = new Command(name, description);
        var topic = new Option<string>("--topic") { Description = "Topic [default kafscale-bench]" };
        var records = new Option<string>("--records") { Description = "Stop after N records [default: run for --duration; consume: the whole topic]" };
        var duration = new Option<string>("--duration") { Description = produce ? "Seconds to run [default 10]" : "Seconds at most [default 60]" };
        command.Options.Add(topic);
        command.Options.Add(records);
        command.Options.Add(duration);
        Option<string>? partitions = null, size = null, batch = null, inFlight = null, acks = null, compression = null;
        if (produce)
        {
            partitions = new Option<string>("--partitions") { Description = "Partitions when the topic is created [default 3]" };
            size = new Option<string>("--record-size") { Description = "Bytes of each record value [default 1024]" };
            batch = new Option<string>("--batch-records") { Description = "Records per produce request [default 100]" };
            inFlight = new Option<string>("--in-flight") { Description = "Produce requests in flight at once [default 8]" };
            acks = new Option<string>("--acks") { Description = "all|1|0 [default all]" };
            compression = new Option<string>("--compression") { Description = "none|gzip|snappy|lz4|zstd [default none]" };
            foreach (Option o in new Option[] { partitions, size, batch, inFlight, acks, compression })
            {
                command.Options.Add(o);
            }
        }

        Act(command, (parse, ctx, ct) =>
        {
            var settings = new BenchSettings
            {
                Topic = parse.GetValue(topic) ?? "kafscale-bench",
                Records = parse.GetValue(records) is string r ? AdminParsing.ParseLong(r, records.Name, 1, long.MaxValue) : -1,
                Duration = TimeSpan.FromSeconds(IntOption(parse, duration, produce ? 10 : 60, 1, 86_400)),
            };
            if (produce)
            {
                settings = settings with
                {
                    Partitions = IntOption(parse, partitions!, 3, 1, 100_000),
                    RecordSize = IntOption(parse, size!, 1024, 0, 64 * 1024 * 1024),
                    BatchRecords = IntOption(parse, batch!, 100, 1, 1_000_000),
                    InFlight = IntOption(parse, inFlight!, 8, 1, 1024),
                    Acks = parse.GetValue(acks!) is string a ? AdminParsing.ParseAcks(a, acks!.Name) : Acks.All,
                    Compression = parse.GetValue(compression!) is string c ? AdminParsing.ParseCompression(c, compression!.Name) : Records.CompressionType.None,
                };
                return BenchAdmin.ProduceAsync(ctx.Client, ctx.Output, settings, ct);
            }

            return BenchAdmin.ConsumeAsync(ctx.Client, ctx.Output, settings, ct);
        });
        return command;
    }
}
