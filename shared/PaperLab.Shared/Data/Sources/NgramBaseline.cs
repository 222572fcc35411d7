namespace PaperLab.Data.Sources;

/// <summary>
/// Trivial language models to beat, in nats per token: uniform (ln V, a fresh model's loss), unigram and bigram
/// counts from the training tokens with add-one (Laplace) smoothing, scored on other tokens.
/// Unigram: P(b) = (c(b) + 1) / (N + V). Bigram: P(b | a) = (c(a, b) + 1) / (c(a) + V), c(a) counting the
/// bigrams that start with a (as PaperLab's GPT bigram baseline and makemore's <c>P = (N + 1)</c>).
/// Counts are sparse (dictionaries), so GPT-2's 50,257 tokens cost no V² table.
/// </summary>
public static class NgramBaseline
{
    /// <summary>ln V: the loss of predicting every token with probability 1/V.</summary>
    public static double UniformLoss(int vocab) => Math.Log(vocab);

    /// <summary>Mean −ln P(token) over <paramref name="eval"/>, unigram counts from <paramref name="train"/>.</summary>
    /// <param name="train">Training ids in 0..V−1.</param>
    /// <param name="eval">Ids to score, in 0..V−1; not empty.</param>
    /// <param name="vocab">V.</param>
    /// <exception cref="ArgumentException">eval is empty.</exception>
    public static double UnigramLoss(IReadOnlyList<int> train, IReadOnlyList<int> eval, int vocab)
    {
        if (eval.Count == 0) throw new ArgumentException("no tokens to score", nameof(eval));
        var counts = new long[vocab];
        foreach (int t in train) counts[t]++;
        double nll = 0, denominator = train.Count + (double)vocab;
        foreach (int t in eval) nll -= Math.Log((counts[t] + 1) / denominator);
        return nll / eval.Count;
    }

    /// <summary>Mean −ln P(next | current) over the transitions of <paramref name="eval"/>, bigram counts from <paramref name="train"/>.</summary>
    /// <param name="train">Training ids in 0..V−1 (one stream).</param>
    /// <param name="eval">The stream to score (at least 2 ids).</param>
    /// <param name="vocab">V.</param>
    /// <exception cref="ArgumentException">eval has fewer than 2 ids.</exception>
    public static double BigramLoss(IReadOnlyList<int> train, IReadOnlyList<int> eval, int vocab) =>
        BigramLoss(new[] { train }, new[] { eval }, vocab, boundary: false);

    /// <summary>
    /// Bigram loss over sequences (makemore's names): each sequence is framed by a boundary symbol (id V, so V + 1
    /// symbols in all), and every transition is scored: boundary → first, ..., last → boundary.
    /// </summary>
    /// <param name="train">Training sequences of ids in 0..V−1.</param>
    /// <param name="eval">Sequences to score.</param>
    /// <param name="vocab">V, without the boundary.</param>
    /// <exception cref="ArgumentException">No transition to score.</exception>
    public static double SequenceBigramLoss(IReadOnlyList<int[]> train, IReadOnlyList<int[]> eval, int vocab) =>
        BigramLoss(train, eval, vocab, boundary: true);

    /// <summary>Unigram loss over sequences with the end boundary as one more symbol: scores every token and each sequence's end.</summary>
    /// <exception cref="ArgumentException">No token to score.</exception>
    public static double SequenceUnigramLoss(IReadOnlyList<int[]> train, IReadOnlyList<int[]> eval, int vocab) =>
        UnigramLoss(train.SelectMany(s => s.Append(vocab)).ToArray(), eval.SelectMany(s => s.Append(vocab)).ToArray(), vocab + 1);

    static double BigramLoss(IReadOnlyList<IReadOnlyList<int>> train, IReadOnlyList<IReadOnlyList<int>> eval, int vocab, bool boundary)
    {
        int v = boundary ? vocab + 1 : vocab;
        var pair = new Dictionary<long, long>();
        var row = new long[v];
        foreach (var (a, b) in Transitions(train, vocab, boundary))
        {
            pair[(long)a * v + b] = pair.GetValueOrDefault((long)a * v + b) + 1;
            row[a]++;
        }
        double nll = 0;
        long n = 0;
        foreach (var (a, b) in Transitions(eval, vocab, boundary))
        {
            nll -= Math.Log((pair.GetValueOrDefault((long)a * v + b) + 1) / (double)(row[a] + v));
            n++;
        }
        if (n == 0) throw new ArgumentException("no transitions to score", nameof(eval));
        return nll / n;
    }

    static IEnumerable<(int, int)> Transitions(IReadOnlyList<IReadOnlyList<int>> sequences, int vocab, bool boundary)
    {
        foreach (var s in sequences)
        {
            if (boundary)
            {
                int previous = vocab;
                foreach (int t in s) { yield return (previous, t); previous = t; }
                yield return (previous, vocab);
            }
            else
                for (int i = 0; i + 1 < s.Count; i++) yield return (s[i], s[i + 1]);
        }
    }
}
