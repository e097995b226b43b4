using KafScale.Broker.Network;
using KafScale.Broker.Security;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Handlers;

/// <summary>
/// DescribeCluster (60, KIP-700): the cluster id, the brokers and the controller. Needs DESCRIBE
/// on the cluster; fills the cluster's authorized operations (KIP-430) when asked.
/// </summary>
internal sealed class DescribeClusterHandler(Cluster cluster) : ApiHandler<DescribeClusterRequest, DescribeClusterResponse>
{
    public override short ApiKey => DescribeClusterRequest.ApiKey;
    public override string Name => "DescribeCluster";
    public override bool IsAdmin => true;
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => DescribeClusterRequest.HighestSupportedVersion;

    protected override ValueTask<DescribeClusterResponse?> HandleAsync(RequestContext context, DescribeClusterRequest request, short version)
    {
        var response = new DescribeClusterResponse { ClusterId = cluster.ClusterId, ControllerId = cluster.ControllerId, EndpointType = 1 };
        if (!context.AuthorizeCluster(AclOperation.Describe))
        {
            response.ErrorCode = ErrorCodes.ClusterAuthorizationFailed;
            response.ErrorMessage = "DescribeCluster needs DESCRIBE on the cluster";
            return ValueTask.FromResult<DescribeClusterResponse?>(response);
        }
        if (request.IncludeClusterAuthorizedOperations)
            response.ClusterAuthorizedOperations = context.Authorizer.AuthorizedOperations(context.Client, AclResourceType.Cluster, AclNames.ClusterName);
        if (version >= 1 && request.EndpointType != 1)
        {
            response.ErrorCode = ErrorCodes.UnsupportedVersion;
            response.ErrorMessage = "only the broker endpoint type (1) is served";
            return ValueTask.FromResult<DescribeClusterResponse?>(response);
        }
        foreach (var (b, e) in cluster.LiveEndpoints(context.Client.Listener))
            response.Brokers.Add(new DescribeClusterResponse.DescribeClusterBroker { BrokerId = b.Id, Host = e.Host, Port = e.Port, Rack = b.Rack });
        return ValueTask.FromResult<DescribeClusterResponse?>(response);
    }

    protected override DescribeClusterResponse ErrorResponse(DescribeClusterRequest request, short errorCode) =>
        new() { ErrorCode = errorCode, ClusterId = cluster.ClusterId };
}
