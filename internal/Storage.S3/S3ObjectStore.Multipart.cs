using System.Net;
using Amazon.S3;
using Amazon.S3.Model;
using Microsoft.Extensions.Logging;

namespace KafScale.Storage.S3;

public sealed partial class S3ObjectStore
{
    /// <summary>S3's limit on the parts of one upload.</summary>
    private const int MaxParts = 10_000;

    /// <summary>
    /// Multipart upload: parts in parallel (bounded), each retried on its own; any failure
    /// aborts the upload so no orphaned parts are billed. With <paramref name="ifNoneMatch"/>
    /// the completion carries <c>If-None-Match: *</c> and 412 returns false.
    /// </summary>
    private async Task<bool> PutMultipartAsync(string key, ReadOnlyMemory<byte> data, bool ifNoneMatch, CancellationToken cancellationToken)
    {
        string bucket = _options.Bucket;
        long partSize = Math.Max(_options.PartSizeBytes, (data.Length + MaxParts - 1) / MaxParts);
        int partCount = (int)((data.Length + partSize - 1) / partSize);

        InitiateMultipartUploadResponse started = await RunAsync("CreateMultipartUpload", bucket, key, token =>
        {
            var request = new InitiateMultipartUploadRequest { BucketName = bucket, Key = key, ContentType = "application/octet-stream" };
            if (!string.IsNullOrEmpty(_options.KmsKeyArn))
            {
                request.ServerSideEncryptionMethod = ServerSideEncryptionMethod.AWSKMS;
                request.ServerSideEncryptionKeyManagementServiceKeyId = _options.KmsKeyArn;
            }
            return _primary.InitiateMultipartUploadAsync(request, token);
        }, cancellationToken).ConfigureAwait(false);
        string uploadId = started.UploadId;

        bool completed = false;
        try
        {
            var parts = new PartETag[partCount];
            var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, _options.MultipartConcurrency), CancellationToken = cancellationToken };
            await Parallel.ForEachAsync(Enumerable.Range(1, partCount), parallel, async (partNumber, partToken) =>
            {
                long start = (partNumber - 1) * partSize;
                ReadOnlyMemory<byte> part = data.Slice((int)start, (int)Math.Min(partSize, data.Length - start));
                UploadPartResponse uploaded = await RunAsync("UploadPart", bucket, key, token => _primary.UploadPartAsync(new UploadPartRequest
                {
                    BucketName = bucket,
                    Key = key,
                    UploadId = uploadId,
                    PartNumber = partNumber,
                    InputStream = StreamOver(part),
                    UseChunkEncoding = false,
                }, token), partToken).ConfigureAwait(false);
                parts[partNumber - 1] = new PartETag(partNumber, uploaded.ETag);
            }).ConfigureAwait(false);

            try
            {
                await RunAsync("CompleteMultipartUpload", bucket, key, token =>
                {
                    var request = new CompleteMultipartUploadRequest { BucketName = bucket, Key = key, UploadId = uploadId, PartETags = [.. parts] };
                    if (ifNoneMatch)
                        request.IfNoneMatch = "*";
                    return _primary.CompleteMultipartUploadAsync(request, token);
                }, cancellationToken).ConfigureAwait(false);
            }
            catch (S3StoreException e) when (ifNoneMatch && e.StatusCode == HttpStatusCode.PreconditionFailed)
            {
                return false;
            }
            completed = true;
            return true;
        }
        finally
        {
            if (!completed)
                await AbortQuietlyAsync(key, uploadId).ConfigureAwait(false);
        }
    }

    /// <summary>Best effort, even when the caller has given up: a failed abort only costs storage until a lifecycle rule removes the parts.</summary>
    private async Task AbortQuietlyAsync(string key, string uploadId)
    {
        try
        {
            await RunAsync("AbortMultipartUpload", _options.Bucket, key,
                token => _primary.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = _options.Bucket, Key = key, UploadId = uploadId }, token),
                CancellationToken.None).ConfigureAwait(false);
        }
        catch (S3StoreException e)
        {
            _log.LogWarning("could not abort multipart upload {UploadId} of '{Key}' in bucket '{Bucket}' ({Reason}); its parts stay billed until an AbortIncompleteMultipartUpload lifecycle rule removes them",
                uploadId, key, _options.Bucket, e.Message);
        }
    }
}
