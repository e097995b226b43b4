using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.LoadGen;

/// <summary>
/// The client side of KIP-227 incremental fetch sessions for one connection and one topic.
/// Off: every request is full (session id 0, epoch -1). On: a full request with epoch 0 asks the
/// broker for a session; when the response names one, later requests send its id with epoch
/// 1, 2, ... and carry only the partitions whose fetch offset changed since the broker last saw
/// them, plus the partitions dropped from the session as forgotten topics. A response with
/// session id 0 means the broker keeps no session, so requests stay full (epoch 0, asking again);
/// FETCH_SESSION_ID_NOT_FOUND, INVALID_FETCH_SESSION_EPOCH and FETCH_SESSION_TOPIC_ID_ERROR start
/// over with a full request.
/// </summary>
internal sealed class FetchSession(bool enabled)
{
    /// <summary>The fetch offset the broker holds for each partition of the session.</summary>
    private readonly Dictionary<int, long> _inSession = [];
    private readonly FetchRequest.ForgottenTopic _forgotten = new();

    public bool Enabled { get; } = enabled;
    public int SessionId { get; private set; }
    public int Epoch { get; private set; } = enabled ? 0 : -1;

    private bool Incremental => Enabled && SessionId != 0 && Epoch > 0;

    /// <summary>Fills the request's session fields and its one topic's partitions; true for an incremental request.</summary>
    public bool Build(FetchRequest request, FetchRequest.FetchTopic topic, IReadOnlyList<PartitionCursor> partitions, int partitionMaxBytes)
    {
        request.SessionId = Enabled ? SessionId : 0;
        request.SessionEpoch = Epoch;
        request.ForgottenTopicsData.Clear();
        topic.Partitions.Clear();
        if (!Incremental)
        {
            _inSession.Clear();
            foreach (PartitionCursor p in partitions)
            {
                if (!p.Done)
                {
                    topic.Partitions.Add(new FetchRequest.FetchPartition { Partition = p.Partition, FetchOffset = p.Position, PartitionMaxBytes = partitionMaxBytes });
                    _inSession[p.Partition] = p.Position;
                }
            }

            return false;
        }

        _forgotten.Topic = topic.Topic;
        _forgotten.TopicId = topic.TopicId;
        _forgotten.Partitions.Clear();
        foreach (PartitionCursor p in partitions)
        {
            if (p.Done)
            {
                if (_inSession.Remove(p.Partition))
                {
                    _forgotten.Partitions.Add(p.Partition);
                }
            }
            else if (!_inSession.TryGetValue(p.Partition, out long held) || held != p.Position)
            {
                topic.Partitions.Add(new FetchRequest.FetchPartition { Partition = p.Partition, FetchOffset = p.Position, PartitionMaxBytes = partitionMaxBytes });
                _inSession[p.Partition] = p.Position;
            }
        }

        if (_forgotten.Partitions.Count > 0)
        {
            request.ForgottenTopicsData.Add(_forgotten);
        }

        return true;
    }

    /// <summary>
    /// Moves the session on after a response. False when the broker rejected the session: the
    /// same positions are then sent again in a full request. <paramref name="reset"/> tells that a
    /// session was lost (rejected, or answered under another id).
    /// </summary>
    public bool Accept(FetchResponse response, out bool reset)
    {
        reset = false;
        if (!Enabled)
        {
            return true;
        }

        if ((ErrorCode)response.ErrorCode is ErrorCode.FetchSessionIdNotFound or ErrorCode.InvalidFetchSessionEpoch or ErrorCode.FetchSessionTopicIdError)
        {
            reset = true;
            StartOver();
            return false;
        }

        if (response.ErrorCode != 0)
        {
            return true;
        }

        if (response.SessionId == 0)
        {
            StartOver();
        }
        else if (Epoch == 0)
        {
            SessionId = response.SessionId;
            Epoch = 1;
        }
        else if (response.SessionId == SessionId)
        {
            Epoch = Epoch == int.MaxValue ? 1 : Epoch + 1;
        }
        else
        {
            reset = true;
            StartOver();
        }

        return true;
    }

    private void StartOver()
    {
        SessionId = 0;
        Epoch = 0;
        _inSession.Clear();
    }
}
