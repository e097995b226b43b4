using System.Net.Http.Headers;
using System.Text;

namespace KafScale.Iceberg.Tests;

public sealed class SigV4Tests
{
    /// <summary>
    /// The expected Authorization value was computed once by botocore's SigV4Auth (AWS's own
    /// Python signer) for the same request, credentials and time; it is a known answer, not our
    /// own output.
    /// </summary>
    [Fact]
    public void Signature_matches_the_aws_reference_signer()
    {
        byte[] body = Encoding.UTF8.GetBytes("{\"identifier\":{\"namespace\":[\"db\"],\"name\":\"t\"}}");
        using var request = new HttpRequestMessage(HttpMethod.Post,
            "https://glue.us-east-1.amazonaws.com/iceberg/v1/catalogs/123456789012/namespaces/db%1Fsub/tables/t?warehouse=a%20b&x=1")
        {
            Content = new ByteArrayContent(body),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        SigV4Signer.SignRequest(request, body, "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token-example",
            "us-east-1", "glue", new DateTimeOffset(2024, 3, 15, 12, 30, 45, TimeSpan.Zero));
        Assert.Equal("20240315T123045Z", request.Headers.GetValues("x-amz-date").Single());
        Assert.Equal(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240315/us-east-1/glue/aws4_request, "
            + "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token, "
            + "Signature=a0165aa122e6cafc8083dd72da4bba999f10afe80a71d1ef54dd78e56b2082df",
            request.Headers.GetValues("Authorization").Single());
    }
}
