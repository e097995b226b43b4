using KafScale.Integration.Harness;
using Xunit;
using Xunit.Abstractions;

namespace KafScale.Integration.Broker;

/// <summary>Operator mistakes at startup end the process with one clear line, never a half-working broker.</summary>
public sealed class StartupTests(ITestOutputHelper output) : BrokerTest(output)
{
    private static readonly TimeSpan ExpectExit = TimeSpan.FromSeconds(15);

    [Fact]
    public Task A_second_broker_on_a_Kafka_port_in_use_exits_with_an_error_naming_the_address() =>
        WithBrokerAsync(async broker =>
        {
            string dataDir = Directory.CreateTempSubdirectory("kafscale-it-second-").FullName;
            try
            {
                (int httpPort, _) = BrokerProcess.FreePorts();
                ClientResult second = await ClientRunner.RunAsync(RepoPaths.Binary,
                    ["broker", "--listen", broker.Bootstrap, "--http", $"127.0.0.1:{httpPort}", "--data-dir", dataDir], timeout: ExpectExit);

                Assert.False(second.TimedOut, $"a second broker started on {broker.Bootstrap}, which the first one is listening on (two listeners share the port): {second}");
                Assert.NotEqual(0, second.ExitCode);
                Assert.Contains(broker.KafkaPort.ToString(System.Globalization.CultureInfo.InvariantCulture), second.Stderr + second.Stdout);
            }
            finally
            {
                Directory.Delete(dataDir, recursive: true);
            }
        });

    [Fact]
    public Task A_second_broker_on_an_HTTP_port_in_use_exits_with_an_error() =>
        WithBrokerAsync(async broker =>
        {
            string dataDir = Directory.CreateTempSubdirectory("kafscale-it-second-").FullName;
            try
            {
                (int kafkaPort, _) = BrokerProcess.FreePorts();
                ClientResult second = await ClientRunner.RunAsync(RepoPaths.Binary,
                    ["broker", "--listen", $"127.0.0.1:{kafkaPort}", "--http", $"127.0.0.1:{broker.HttpPort}", "--data-dir", dataDir], timeout: ExpectExit);

                Assert.False(second.TimedOut, $"a second broker started with the HTTP port of the first: {second}");
                Assert.NotEqual(0, second.ExitCode);
            }
            finally
            {
                Directory.Delete(dataDir, recursive: true);
            }
        });

    [Fact]
    public Task A_second_broker_on_a_data_directory_in_use_exits_with_an_error() =>
        WithBrokerAsync(async broker =>
        {
            (int kafkaPort, int httpPort) = BrokerProcess.FreePorts();
            ClientResult second = await ClientRunner.RunAsync(RepoPaths.Binary,
                ["broker", "--listen", $"127.0.0.1:{kafkaPort}", "--http", $"127.0.0.1:{httpPort}", "--data-dir", broker.DataDir], timeout: ExpectExit);

            Assert.False(second.TimedOut, $"a second broker started on the data directory of the first: {second}");
            Assert.NotEqual(0, second.ExitCode);
        });

    [Theory]
    [InlineData("--listen", "not-an-address")]
    [InlineData("--flush-interval-ms", "soon")]
    [InlineData("--default-partitions", "-4")]
    [InlineData("--auto-create-topics", "perhaps")]
    [InlineData("--group-initial-rebalance-delay-ms", "-1")]
    [InlineData("--no-such-option", "1")]
    public async Task A_bad_option_exits_with_code_2_and_a_line_naming_it(string option, string value)
    {
        if (!File.Exists(RepoPaths.Binary))
        {
            Assert.Fail($"the kafscale binary is missing at {RepoPaths.Binary}: build it with scripts/build.sh");
        }

        string dataDir = Directory.CreateTempSubdirectory("kafscale-it-badopt-").FullName;
        try
        {
            (int kafkaPort, int httpPort) = BrokerProcess.FreePorts();
            var args = new List<string> { "broker", "--data-dir", dataDir, "--http", $"127.0.0.1:{httpPort}" };
            if (option != "--listen")
            {
                args.AddRange(["--listen", $"127.0.0.1:{kafkaPort}"]);
            }

            args.AddRange([option, value]);
            ClientResult result = await ClientRunner.RunAsync(RepoPaths.Binary, args, timeout: ExpectExit);

            Assert.False(result.TimedOut, $"the broker started despite {option} {value}: {result}");
            Assert.True(result.ExitCode == 2, $"exit code {result.ExitCode}, expected 2: {result}");
            string[] lines = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            // One line naming the problem; a usage hint after it is welcome.
            Assert.True(lines.Length is 1 or 2, $"expected one line on stderr (and at most a usage hint): {result}");
            Assert.Contains(option.TrimStart('-'), lines[0]);
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }
}
