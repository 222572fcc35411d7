using PaperLab.Data;
using static TorchSharp.torch;

namespace PaperLab.Papers.Transformer;

/// <summary>
/// Padding and attention masks of integer token sequences. Masks are boolean with <c>true</c> where
/// attention is BLOCKED (the convention of <c>masked_fill</c>: blocked scores become −∞ before the softmax).
/// </summary>
public static class SequenceMasks
{
    /// <summary>Right-pads <paramref name="sequences"/> with <paramref name="padId"/> into one (B, L) int64 tensor, L the longest length.</summary>
    /// <exception cref="ArgumentException">No sequences, or an empty one.</exception>
    public static Tensor Pad(IReadOnlyList<int[]> sequences, int padId)
    {
        if (sequences.Count == 0) throw new ArgumentException("no sequences to pad", nameof(sequences));
        int length = sequences.Max(s => s.Length);
        if (sequences.Any(s => s.Length == 0)) throw new ArgumentException("cannot pad an empty sequence", nameof(sequences));
        var data = new long[sequences.Count * length];
        Array.Fill(data, padId);
        for (int b = 0; b < sequences.Count; b++)
            for (int t = 0; t < sequences[b].Length; t++) data[b * length + t] = sequences[b][t];
        return tensor(data, new long[] { sequences.Count, length }, ScalarType.Int64);
    }

    /// <summary>
    /// Key padding mask: (B, 1, 1, L) bool, true at padding positions of <paramref name="ids"/> (B, L). It
    /// broadcasts over heads and queries of (B, h, L_q, L) attention scores.
    /// </summary>
    public static Tensor Padding(Tensor ids, int padId) => ids.eq(padId).unsqueeze(1).unsqueeze(2);

    /// <summary>
    /// Causal ("subsequent") mask: (1, 1, L, L) bool, true above the diagonal, so that query position i
    /// attends to key positions j ≤ i only (Vaswani et al. 2017, §3.2.3).
    /// </summary>
    public static Tensor Causal(long length, Device? device = null) =>
        ones(length, length, ScalarType.Bool, device).triu(1).unsqueeze(0).unsqueeze(0);

    /// <summary>
    /// Decoder self-attention mask: (B, 1, L, L) bool, the union of the causal mask and the padding of
    /// <paramref name="ids"/> (B, L).
    /// </summary>
    public static Tensor CausalAndPadding(Tensor ids, int padId) =>
        Padding(ids, padId).logical_or(Causal(ids.shape[1], ids.device));
}

/// <summary>
/// Sentence pairs cut into batches of similar length with a bound on tokens per batch (Vaswani et al.
/// 2017, §5.1: "sentence pairs were batched together by approximate sequence length"). Training visits
/// every batch once per epoch, in a fresh order per epoch (<see cref="ForStep"/>).
/// </summary>
/// <remarks>
/// Pairs are sorted by (longer side, source length, index) and cut greedily: a batch grows while
/// (pairs × longest padded side) stays within <see cref="MaxTokens"/>. A single pair longer than the bound
/// gets a batch of its own.
/// </remarks>
public sealed class TokenBatches
{
    readonly IReadOnlyList<int[]> _sources, _targets;
    readonly int[][] _batches;

    /// <summary>Upper bound on pairs × padded length of a batch.</summary>
    public int MaxTokens { get; }
    /// <summary>Id used for padding.</summary>
    public int PadId { get; }
    /// <summary>Number of batches: the steps of one epoch.</summary>
    public long Count => _batches.Length;
    /// <summary>The pair indices of each batch.</summary>
    public IReadOnlyList<int[]> Batches => _batches;
    /// <summary>Source tokens in the corpus (padding excluded).</summary>
    public long SourceTokens { get; }
    /// <summary>Target tokens the decoder predicts in one epoch: target length − 1 per pair (the first, BOS, is only an input).</summary>
    public long PredictedTokens { get; }

    /// <param name="sources">Encoded source sentences (e.g. ending in EOS).</param>
    /// <param name="targets">Encoded target sentences, BOS … EOS: the decoder reads [..^1] and predicts [1..].</param>
    /// <param name="maxTokens">Bound on pairs × padded length per batch (≥ 1).</param>
    /// <param name="padId">Padding id.</param>
    /// <exception cref="ArgumentException">Different numbers of sources and targets, none at all, or a target shorter than 2.</exception>
    public TokenBatches(IReadOnlyList<int[]> sources, IReadOnlyList<int[]> targets, int maxTokens, int padId = Vocabulary.PadId)
    {
        if (sources.Count != targets.Count) throw new ArgumentException($"{sources.Count} sources but {targets.Count} targets");
        if (sources.Count == 0) throw new ArgumentException("no sentence pairs to batch");
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTokens, 1);
        if (targets.Any(t => t.Length < 2)) throw new ArgumentException("every target needs at least BOS and EOS (length ≥ 2)");
        _sources = sources;
        _targets = targets;
        MaxTokens = maxTokens;
        PadId = padId;
        SourceTokens = sources.Sum(s => (long)s.Length);
        PredictedTokens = targets.Sum(t => (long)t.Length - 1);

        int Longer(int i) => Math.Max(sources[i].Length, targets[i].Length - 1);
        var order = Enumerable.Range(0, sources.Count)
            .OrderBy(Longer).ThenBy(i => sources[i].Length).ThenBy(i => i).ToArray();
        var batches = new List<int[]>();
        var current = new List<int>();
        int longest = 0;
        foreach (int i in order)
        {
            int l = Math.Max(longest, Longer(i));
            if (current.Count > 0 && (current.Count + 1) * l > maxTokens)
            {
                batches.Add(current.ToArray());
                current.Clear();
                l = Longer(i);
            }
            current.Add(i);
            longest = l;
        }
        if (current.Count > 0) batches.Add(current.ToArray());
        _batches = batches.ToArray();
    }

    /// <summary>
    /// Batch <paramref name="index"/> (in length order) as (source (B, S), target (B, T)) int64 tensors,
    /// right-padded with <see cref="PadId"/>. Call inside a dispose scope.
    /// </summary>
    public (Tensor Source, Tensor Target) Batch(long index)
    {
        var pairs = _batches[index];
        return (SequenceMasks.Pad(pairs.Select(i => _sources[i]).ToArray(), PadId),
                SequenceMasks.Pad(pairs.Select(i => _targets[i]).ToArray(), PadId));
    }

    /// <summary>
    /// The batch of global training step <paramref name="step"/>: epoch e = step / Count visits every batch
    /// once in the order <see cref="BatchLoader.Permutation"/>(Count, seed, e), so the batch of a step depends
    /// only on (seed, step) and a resumed run sees what an uninterrupted one would.
    /// </summary>
    public (Tensor Source, Tensor Target) ForStep(long step, int seed)
    {
        long epoch = step / Count;
        if (epoch != _orderEpoch || seed != _orderSeed) { _order = BatchLoader.Permutation(Count, seed, epoch); (_orderEpoch, _orderSeed) = (epoch, seed); }
        return Batch(_order![step % Count]);
    }

    long[]? _order;
    long _orderEpoch = -1;
    int _orderSeed;
}
