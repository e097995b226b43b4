using KafScale.Broker.Log;
using KafScale.Broker.Network;
using KafScale.Broker.Security;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Handlers;

/// <summary>
/// DescribeLogDirs (35): what <c>kafka-log-dirs.sh</c> and an admin client's describeLogDirs ask
/// each broker, answered as Kafka answers it for the replicas this broker holds. A broker holds
/// the partitions it leads, all in one "log dir": the object store location and namespace. A
/// partition's size is its durable data, sealed segments plus the unsealed data the leader holds
/// (docs/protocol.md, "Admin answers without replicas"); offset lag 0, never a future log. Needs
/// DESCRIBE on the cluster, as in Kafka.
/// </summary>
internal sealed class DescribeLogDirsHandler(Cluster cluster) : ApiHandler<DescribeLogDirsRequest, DescribeLogDirsResponse>
{
    public override short ApiKey => DescribeLogDirsRequest.ApiKey;
    public override string Name => "DescribeLogDirs";
    public override bool IsAdmin => true;
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => DescribeLogDirsRequest.HighestSupportedVersion;

    protected override ValueTask<DescribeLogDirsResponse?> HandleAsync(RequestContext context, DescribeLogDirsRequest request, short version)
    {
        // Kafka answers an unauthorized request with no log dirs; from v3 the error says why.
        if (!context.AuthorizeCluster(AclOperation.Describe))
            return ValueTask.FromResult<DescribeLogDirsResponse?>(new DescribeLogDirsResponse { ErrorCode = ErrorCodes.ClusterAuthorizationFailed });

        var held = new List<PartitionLog>();
        if (request.Topics is null)
        {
            held.AddRange(cluster.Logs.OpenLogs().Where(l => !l.IsClosed));
        }
        else
        {
            foreach (var topic in request.Topics)
            {
                foreach (int partition in topic.Partitions.Distinct())
                {
                    // Partitions this broker does not hold (another leads them, or none exist) are left out, as in Kafka.
                    if (cluster.TryGetPartition(topic.Topic, partition, out var log) == ErrorCodes.None) held.Add(log);
                }
            }
        }

        var store = cluster.Logs.Storage.Store;
        var dir = new DescribeLogDirsResponse.DescribeLogDirsResult { LogDir = $"{store.Location}/{cluster.Logs.Storage.Namespace}" };
        (dir.TotalBytes, dir.UsableBytes) = Volume(store);
        foreach (var topic in held.GroupBy(l => l.Topic).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var entry = new DescribeLogDirsResponse.DescribeLogDirsTopic { Name = topic.Key };
            foreach (var log in topic.OrderBy(l => l.Partition))
                entry.Partitions.Add(new DescribeLogDirsResponse.DescribeLogDirsPartition { PartitionIndex = log.Partition, PartitionSize = log.SizeBytes, OffsetLag = 0, IsFutureKey = false });
            dir.Topics.Add(entry);
        }
        return ValueTask.FromResult<DescribeLogDirsResponse?>(new DescribeLogDirsResponse { Results = [dir] });
    }

    /// <summary>The size and free space of the directory store's volume; -1 (unknown) for an object store without one.</summary>
    private static (long Total, long Usable) Volume(Storage.IObjectStore store)
    {
        if (store is not Storage.LocalDirectoryObjectStore local) return (-1, -1);
        try
        {
            var drive = new DriveInfo(local.RootDirectory);
            return (drive.TotalSize, drive.AvailableFreeSpace);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return (-1, -1);
        }
    }

    protected override DescribeLogDirsResponse ErrorResponse(DescribeLogDirsRequest request, short errorCode) => new() { ErrorCode = errorCode };
}
