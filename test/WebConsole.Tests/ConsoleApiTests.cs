using KafScale.Protocol;
using KafScale.Protocol.Messages;
using static KafScale.WebConsole.Tests.ConsoleBroker;

namespace KafScale.WebConsole.Tests;

/// <summary>The console's JSON API and switches against the built binary (docs/console.md).</summary>
public sealed class ConsoleApiTests
{
    [Fact]
    public async Task Bad_input_gets_a_clear_4xx_json_error_and_the_broker_keeps_serving()
    {
        await using var broker = await StartAsync("--console-write");
        var (created, _) = await SendAsync(broker, HttpMethod.Post, "ui/api/topics", """{"name":"t","partitions":1}""");
        Assert.Equal(200, created);
        // Records of which the first two are deleted (as retention would), so the log starts at 2.
        (await new Kcat().ProduceAsync(broker.Bootstrap, "t", [.. Enumerable.Range(0, 3).Select(i => new TestRecord($"k{i}", $"v{i}", [], 0))])).EnsureSuccess();
        await using (var kafka = await RawKafkaConnection.ConnectAsync(broker.KafkaPort))
        {
            var deleted = await kafka.SendAsync<DeleteRecordsResponse>(ApiKeys.DeleteRecords, 2, new DeleteRecordsRequest
            {
                TimeoutMs = 10_000,
                Topics = [new DeleteRecordsRequest.DeleteRecordsTopic { Name = "t", Partitions = [new DeleteRecordsRequest.DeleteRecordsPartition { PartitionIndex = 0, Offset = 2 }] }],
            });
            Assert.Equal(0, deleted.Topics.Single().Partitions.Single().ErrorCode);
        }

        var cases = new (HttpMethod Method, string Path, string? Body, int Status, string Says)[]
        {
            (HttpMethod.Get, "ui/api/topics/nope", null, 404, "does not exist"),
            (HttpMethod.Get, "ui/api/topics/nope/messages?partition=0", null, 404, "does not exist"),
            (HttpMethod.Get, "ui/api/topics/t/messages?partition=9", null, 400, "no partition"),
            (HttpMethod.Get, "ui/api/topics/t/messages", null, 400, "partition=N"),
            (HttpMethod.Get, "ui/api/topics/t/messages?partition=0&from=offset&offset=77", null, 400, "outside the log"),
            (HttpMethod.Get, "ui/api/topics/t/messages?partition=0&from=offset&offset=abc", null, 400, "whole number"),
            (HttpMethod.Get, "ui/api/topics/t/messages?partition=0&from=time&time=yesterday", null, 400, "ISO 8601"),
            (HttpMethod.Get, "ui/api/topics/t/messages?partition=0&from=time&time=2001-01-01T00:00:00Z", null, 400, "before the log start of t-0: records before offset 2 were deleted"),
            (HttpMethod.Get, "ui/api/topics/t/messages?partition=0&from=offset&offset=1", null, 400, "outside the log of t-0: it holds offsets 2 to 2"),
            (HttpMethod.Get, "ui/api/topics/t/messages?partition=0&count=100000", null, 400, "count"),
            (HttpMethod.Get, "ui/api/topics/t/messages?partition=0&from=sideways", null, 400, "from must be"),
            (HttpMethod.Post, "ui/api/topics", "{not json", 400, "malformed JSON"),
            (HttpMethod.Post, "ui/api/topics", "[1,2]", 400, "JSON object"),
            (HttpMethod.Post, "ui/api/topics", "", 400, "JSON object body"),
            (HttpMethod.Post, "ui/api/topics", """{"name":"t","partitions":1}""", 409, "exists"),
            (HttpMethod.Post, "ui/api/topics", """{"name":7}""", 400, "must be a string"),
            (HttpMethod.Post, "ui/api/topics/t/partitions", """{"count":"many"}""", 400, "whole number"),
            (HttpMethod.Post, "ui/api/topics/t/config", """{"set":{"retention.ms":5}}""", 400, "string values"),
            (HttpMethod.Post, "ui/api/groups/nobody/reset-offsets", """{"topic":"t","to":"sometime"}""", 400, "\"to\" must be"),
            (HttpMethod.Get, "ui/api/groups/nobody", null, 404, "does not exist"),
            (HttpMethod.Get, "ui/api/storage/t/x", null, 400, "no partition"),
            (HttpMethod.Get, "ui/api/nothing-here", null, 404, "no console API"),
            (HttpMethod.Put, "ui/api/topics", "{}", 405, "not allowed"),
        };
        foreach (var c in cases)
        {
            var (status, body) = await SendAsync(broker, c.Method, c.Path, c.Body);
            Assert.True(status == c.Status, $"{c.Method} {c.Path}: expected {c.Status}, got {status} {body}");
            string error = body.GetProperty("error").GetString()!;
            Assert.True(error.Contains(c.Says, StringComparison.Ordinal), $"{c.Method} {c.Path}: '{error}' should say '{c.Says}'");
        }

        // Another site's form or text/plain POST is refused: a JSON body needs its content type.
        using (var plain = await Http.PostAsync(new Uri(broker.HttpBase, "ui/api/topics"), new StringContent("{\"name\":\"csrf\",\"partitions\":1}", System.Text.Encoding.UTF8, "text/plain")))
            Assert.Equal(415, (int)plain.StatusCode);
        using (var form = await Http.PostAsync(new Uri(broker.HttpBase, "ui/api/topics"), new FormUrlEncodedContent([new("name", "csrf")])))
            Assert.Equal(415, (int)form.StatusCode);

        Assert.False(broker.HasExited);
        var (ok, topics) = await GetAsync(broker, "ui/api/topics");
        Assert.Equal(200, ok);
        Assert.Equal(["t"], topics.GetProperty("topics").EnumerateArray().Select(t => t.GetProperty("name").GetString()));
    }

    [Fact]
    public async Task The_root_redirects_relatively_to_the_console_and_its_assets_are_served_from_the_binary()
    {
        await using var broker = await StartAsync();
        using var noRedirect = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        using var root = await noRedirect.GetAsync(broker.HttpBase);
        Assert.Equal(302, (int)root.StatusCode);
        Assert.Equal("ui/", root.Headers.Location!.OriginalString);

        // One document carries the script and the style inline (one request before the API
        // calls), and nothing is loaded from an absolute path or from elsewhere.
        using var page = await Http.GetAsync(new Uri(broker.HttpBase, "ui/"));
        Assert.Equal(200, (int)page.StatusCode);
        Assert.StartsWith("text/html", page.Content.Headers.ContentType!.ToString());
        string index = await page.Content.ReadAsStringAsync();
        Assert.Contains("<script>", index);
        Assert.Contains("api/\"+", index.Replace(" ", ""));
        Assert.Contains("<style>", index);
        Assert.DoesNotContain("src=", index);
        Assert.DoesNotContain("href=\"/", index);
        // The only URL in it is the SVG namespace the charts are made in.
        Assert.Equal(["http://www.w3.org/2000/svg"], System.Text.RegularExpressions.Regex.Matches(index, "https?://[^\"'`)]*").Select(m => m.Value).Distinct());
        using var missing = await Http.GetAsync(new Uri(broker.HttpBase, "ui/nothing.js"));
        Assert.Equal(404, (int)missing.StatusCode);
        using var metrics = await Http.GetAsync(new Uri(broker.HttpBase, "metrics"));
        Assert.Equal(200, (int)metrics.StatusCode);
    }

    [Fact]
    public async Task With_the_console_off_there_is_no_ui_and_metrics_still_answer()
    {
        await using var broker = await StartAsync("--console=false");
        using var ui = await Http.GetAsync(new Uri(broker.HttpBase, "ui/"));
        Assert.Equal(404, (int)ui.StatusCode);
        var (api, _) = await GetAsync(broker, "ui/api/topics");
        Assert.Equal(404, api);
        using var metrics = await Http.GetAsync(new Uri(broker.HttpBase, "metrics"));
        Assert.Equal(200, (int)metrics.StatusCode);
    }

    [Fact]
    public async Task With_acls_on_the_console_asks_for_a_login_and_acts_as_that_principal()
    {
        var (saslPort, _) = BrokerProcess.FreePorts();
        // Bootstrapped as docs/security.md shows: ANONYMOUS on the loopback PLAINTEXT listener is a super user.
        await using var broker = await StartAsync("--listeners", $"PLAINTEXT://127.0.0.1:{{kafka-port}},SASL_PLAINTEXT://127.0.0.1:{saslPort}",
            "--authorizer", "acl", "--super-users", "User:admin,User:ANONYMOUS", "--console-write");
        foreach (var (user, password) in new[] { ("admin", "admin-secret"), ("alice", "alice-secret") })
            (await ClientRunner.RunAsync(broker.Binary, ["admin", "--bootstrap", broker.Bootstrap, "users", "set", user, "--mechanism", "SCRAM-SHA-512", "--password", password])).EnsureSuccess();
        (await ClientRunner.RunAsync(broker.Binary, ["admin", "--bootstrap", broker.Bootstrap, "topics", "create", "secret", "--partitions", "1"])).EnsureSuccess();

        // No credentials: the browser is asked for them, for the pages as for the API.
        using (var page = await Http.GetAsync(new Uri(broker.HttpBase, "ui/")))
        {
            Assert.Equal(401, (int)page.StatusCode);
            Assert.Equal("Basic", page.Headers.WwwAuthenticate.Single().Scheme);
        }
        Assert.Equal(401, (await GetAsync(broker, "ui/api/topics")).Status);
        Assert.Equal(401, (await SendAsync(broker, HttpMethod.Get, "ui/api/topics", login: "alice:wrong")).Status);

        // alice has no ACL: the broker shows her no topic and refuses her a new one.
        var (aliceList, aliceTopics) = await SendAsync(broker, HttpMethod.Get, "ui/api/topics", login: "alice:alice-secret");
        Assert.Equal(200, aliceList);
        Assert.Empty(aliceTopics.GetProperty("topics").EnumerateArray());
        var (aliceCreate, refused) = await SendAsync(broker, HttpMethod.Post, "ui/api/topics", """{"name":"alices","partitions":1}""", "alice:alice-secret");
        Assert.True(aliceCreate == 403, refused.ToString());

        // admin, a super user, sees and does everything, through the same console.
        var (adminList, adminTopics) = await SendAsync(broker, HttpMethod.Get, "ui/api/topics", login: "admin:admin-secret");
        Assert.Equal(200, adminList);
        Assert.Equal(["secret"], adminTopics.GetProperty("topics").EnumerateArray().Select(t => t.GetProperty("name").GetString()));
        // admin may describe the cluster, so sizes come from the log dirs (an empty topic: 0 bytes).
        Assert.Equal(0, adminTopics.GetProperty("topics")[0].GetProperty("size_bytes").GetInt64());
        var (adminCreate, made) = await SendAsync(broker, HttpMethod.Post, "ui/api/topics", """{"name":"by-admin","partitions":1}""", "admin:admin-secret");
        Assert.True(adminCreate == 200, made.ToString());
        using var admin = new HttpRequestMessage(HttpMethod.Get, new Uri(broker.HttpBase, "ui/"));
        admin.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic", Convert.ToBase64String("admin:admin-secret"u8.ToArray()));
        using var index = await Http.SendAsync(admin);
        Assert.Equal(200, (int)index.StatusCode);

        // The same in a browser: the login prompt's credentials decide what the pages show.
        var browser = await BrowserAsync("login", broker.HttpBase.ToString());
        Assert.True(browser.ExitCode == 0 && !browser.TimedOut, browser.ToString());

        // A password changed or a user deleted stops working in the console at once, although
        // the console kept a login for the old password.
        (await ClientRunner.RunAsync(broker.Binary, ["admin", "--bootstrap", broker.Bootstrap, "users", "set", "alice", "--mechanism", "SCRAM-SHA-512", "--password", "alice-new"])).EnsureSuccess();
        await AnswersAsync(broker, "alice:alice-secret", 401);
        await AnswersAsync(broker, "alice:alice-new", 200);
        (await ClientRunner.RunAsync(broker.Binary, ["admin", "--bootstrap", broker.Bootstrap, "users", "delete", "alice", "--mechanism", "SCRAM-SHA-512"])).EnsureSuccess();
        await AnswersAsync(broker, "alice:alice-new", 401);
        await AnswersAsync(broker, "admin:admin-secret", 200);
    }

    [Fact]
    public async Task With_acls_on_and_only_a_sasl_ssl_listener_the_console_logs_in_over_tls_trusting_its_own_broker_certificate()
    {
        // Certificates from a CA of the test's own, which neither the system nor --tls-ca names:
        // the console trusts the certificate its broker serves (docs/decisions.md, "Web console and ACLs").
        using var certs = await TestCertificates.CreateAsync();
        var (saslPort, _) = BrokerProcess.FreePorts();
        await using var broker = await StartAsync("--listeners", $"PLAINTEXT://127.0.0.1:{{kafka-port}},SASL_SSL://127.0.0.1:{saslPort}",
            "--tls-cert", certs.BrokerCert, "--tls-key", certs.BrokerKey,
            "--authorizer", "acl", "--super-users", "User:admin,User:ANONYMOUS");
        foreach (var (user, password) in new[] { ("admin", "admin-secret"), ("alice", "alice-secret") })
            (await ClientRunner.RunAsync(broker.Binary, ["admin", "--bootstrap", broker.Bootstrap, "users", "set", user, "--mechanism", "SCRAM-SHA-256", "--password", password])).EnsureSuccess();
        (await ClientRunner.RunAsync(broker.Binary, ["admin", "--bootstrap", broker.Bootstrap, "topics", "create", "secret", "--partitions", "2"])).EnsureSuccess();
        (await new Kcat().ProduceAsync(broker.Bootstrap, "secret", [new TestRecord("k", "over tls", [], 1)])).EnsureSuccess();

        Assert.Equal(401, (await GetAsync(broker, "ui/api/topics")).Status);
        Assert.Equal(401, (await SendAsync(broker, HttpMethod.Get, "ui/api/topics", login: "admin:wrong")).Status);
        var (aliceList, aliceTopics) = await SendAsync(broker, HttpMethod.Get, "ui/api/topics", login: "alice:alice-secret");
        Assert.True(aliceList == 200, aliceTopics.ToString());
        Assert.Empty(aliceTopics.GetProperty("topics").EnumerateArray());

        var (adminList, adminTopics) = await SendAsync(broker, HttpMethod.Get, "ui/api/topics", login: "admin:admin-secret");
        Assert.True(adminList == 200, adminTopics.ToString());
        Assert.Equal(["secret"], adminTopics.GetProperty("topics").EnumerateArray().Select(t => t.GetProperty("name").GetString()));
        var (read, page) = await SendAsync(broker, HttpMethod.Get, "ui/api/topics/secret/messages?partition=1&from=offset&offset=0", login: "admin:admin-secret");
        Assert.True(read == 200, page.ToString());
        Assert.Equal("over tls", System.Text.Encoding.UTF8.GetString(Assert.Single(page.GetProperty("records").EnumerateArray()).GetProperty("value").GetBytesFromBase64()));
    }

    /// <summary>Waits (the broker applies a credential change from its metadata watch) until the login gets that status.</summary>
    private static async Task AnswersAsync(BrokerProcess broker, string login, int status)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            var (got, body) = await SendAsync(broker, HttpMethod.Get, "ui/api/topics", login: login);
            if (got == status) return;
            if (DateTime.UtcNow > deadline) Assert.Fail($"{login.Split(':')[0]} got {got}, not {status}: {body}");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task With_the_acl_authorizer_on_and_no_sasl_listener_the_api_serves_no_data_rather_than_read_past_the_acls()
    {
        await using var broker = await StartAsync("--authorizer", "acl", "--console-write");
        foreach (string path in new[] { "ui/api/info", "ui/api/topics", "ui/api/overview", "ui/api/groups" })
        {
            var (status, body) = await GetAsync(broker, path);
            Assert.Equal(403, status);
            Assert.Contains("--authorizer acl", body.GetProperty("error").GetString());
            Assert.Contains("SASL_PLAINTEXT or SASL_SSL", body.GetProperty("error").GetString());
        }
        var (write, _) = await SendAsync(broker, HttpMethod.Post, "ui/api/topics", """{"name":"x"}""");
        Assert.Equal(403, write);
    }
}
