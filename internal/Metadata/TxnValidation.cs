namespace KafScale.Metadata;

/// <summary>etcd's rules for a transaction, shared by both stores so they reject and compare alike.</summary>
internal static class TxnValidation
{
    public const string DuplicateKeyMessage = "duplicate key given in txn request";

    public static void ValidateShape(TxnRequest request)
    {
        ArgumentNullException.ThrowIfNull(request.Compares, nameof(request.Compares));
        ArgumentNullException.ThrowIfNull(request.Success, nameof(request.Success));
        ArgumentNullException.ThrowIfNull(request.Failure, nameof(request.Failure));
        foreach (Compare compare in request.Compares)
        {
            ArgumentNullException.ThrowIfNull(compare, nameof(request.Compares));
            KeyEncoding.ValidateKey(compare.Key, nameof(request.Compares));
        }
        ValidateBranch(request.Success, nameof(request.Success));
        ValidateBranch(request.Failure, nameof(request.Failure));
    }

    /// <summary>
    /// As etcd: a branch may not put one key twice, nor put a key that one of its deletes covers
    /// (the order of ops in a txn would otherwise matter for what is written).
    /// </summary>
    private static void ValidateBranch(IReadOnlyList<TxnOp> ops, string paramName)
    {
        HashSet<string>? puts = null;
        foreach (TxnOp op in ops)
        {
            ArgumentNullException.ThrowIfNull(op, paramName);
            if (op.Kind is TxnOpKind.DeletePrefix or TxnOpKind.GetPrefix) KeyEncoding.ValidatePrefix(op.Key, paramName);
            else KeyEncoding.ValidateKey(op.Key, paramName);
            if (op.Kind == TxnOpKind.Put)
            {
                if (op.Value is null) throw new ArgumentException($"The put of '{op.Key}' has no value.", paramName);
                puts ??= new HashSet<string>(StringComparer.Ordinal);
                if (!puts.Add(op.Key)) throw new ArgumentException(DuplicateKeyMessage, paramName);
            }
        }
        if (puts is null) return;
        foreach (TxnOp op in ops)
        {
            bool covers = op.Kind switch
            {
                TxnOpKind.Delete => puts.Contains(op.Key),
                TxnOpKind.DeletePrefix => puts.Any(k => k.StartsWith(op.Key, StringComparison.Ordinal)),
                _ => false,
            };
            if (covers) throw new ArgumentException(DuplicateKeyMessage, paramName);
        }
    }

    /// <summary>etcd's compare: a missing key has version, revisions and lease 0, and any compare on its value fails.</summary>
    public static bool Evaluate(Compare compare, KeyValue? kv)
    {
        int order;
        if (compare.Target == CompareTarget.Value)
        {
            if (kv is null) return false;
            order = kv.Value.AsSpan().SequenceCompareTo(compare.Value ?? []);
        }
        else
        {
            long actual = compare.Target switch
            {
                CompareTarget.Version => kv?.Version ?? 0,
                CompareTarget.CreateRevision => kv?.CreateRevision ?? 0,
                CompareTarget.ModRevision => kv?.ModRevision ?? 0,
                CompareTarget.Lease => kv?.Lease ?? 0,
                _ => throw new ArgumentOutOfRangeException(nameof(compare), compare.Target, "Unknown compare target."),
            };
            order = actual.CompareTo(compare.Number);
        }
        return compare.Result switch
        {
            CompareResult.Equal => order == 0,
            CompareResult.NotEqual => order != 0,
            CompareResult.Greater => order > 0,
            CompareResult.Less => order < 0,
            _ => throw new ArgumentOutOfRangeException(nameof(compare), compare.Result, "Unknown compare result."),
        };
    }
}
