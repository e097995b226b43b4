using Microsoft.Extensions.Logging;

namespace KafScale.Storage.S3;

public sealed partial class S3ObjectStore
{
    /// <summary>
    /// Runs one S3 request with a per-attempt timeout, retrying retriable failures up to
    /// <see cref="S3StoreOptions.MaxRetries"/> times with exponential backoff and jitter.
    /// Anything that still fails comes out as <see cref="S3StoreException"/>; the caller's
    /// cancellation comes out as <see cref="OperationCanceledException"/>.
    /// </summary>
    private async Task<T> RunAsync<T>(string operation, string bucket, string? key, Func<CancellationToken, Task<T>> attempt, CancellationToken cancellationToken)
    {
        for (int retry = 0; ; retry++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Exception failure;
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                timeout.CancelAfter(_options.RequestTimeout);
                try
                {
                    return await attempt(timeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    throw;
                }
                catch (Exception e)
                {
                    failure = e;
                }
            }

            bool retriable = S3Failure.IsRetriable(failure);
            if (!retriable || retry >= _options.MaxRetries)
                throw Wrap(operation, bucket, key, failure, retriable, retry + 1);

            TimeSpan delay = BackoffDelay(retry);
            _log.LogDebug("S3 {Operation} of '{Key}' in bucket '{Bucket}' failed ({Reason}); retry {Retry} of {MaxRetries} in {DelayMs} ms",
                operation, key, bucket, Reason(failure), retry + 1, _options.MaxRetries, (long)delay.TotalMilliseconds);
            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Half the exponential step fixed, half random ("equal jitter"): spreads retries without ever retrying at once.</summary>
    private TimeSpan BackoffDelay(int retry)
    {
        double step = Math.Min(_options.RetryMaxDelay.TotalMilliseconds, _options.RetryBaseDelay.TotalMilliseconds * Math.Pow(2, retry));
        return TimeSpan.FromMilliseconds(step / 2 + Random.Shared.NextDouble() * step / 2);
    }

    private S3StoreException Wrap(string operation, string bucket, string? key, Exception failure, bool retriable, int attempts)
    {
        string what = key is null ? $"bucket '{bucket}'" : $"'{key}' in bucket '{bucket}'";
        string tries = attempts > 1 ? $" after {attempts} attempts" : "";
        return new S3StoreException($"S3 {operation} of {what} at {EndpointFor(bucket)} failed{tries}: {Reason(failure)}",
            operation, bucket, key, S3Failure.StatusOf(failure), S3Failure.ErrorCodeOf(failure), retriable, failure);
    }

    private string EndpointFor(string bucket) =>
        _replica is not null && bucket == _replicaBucket && bucket != _options.Bucket ? ReadEndpointDescription! : EndpointDescription;

    private static string Reason(Exception e)
    {
        if (S3Failure.StatusOf(e) is { } status)
        {
            string code = S3Failure.ErrorCodeOf(e) is { } c ? $" {c}" : "";
            return $"HTTP {(int)status}{code}: {e.Message}";
        }
        return S3Failure.RootMessage(e);
    }
}
