// The n-gram baseline of Bengio et al. 2003 §4.1: "back-off n-gram models with the Modified Kneser-Ney
// algorithm (Kneser and Ney, 1995, Chen and Goodman, 1999)", which the paper ran with SRILM (Table 1:
// Kneser-Ney back-off, n = 3: validation 334, test 323). Written here from
//   S. F. Chen, J. Goodman. "An Empirical Study of Smoothing Techniques for Language Modeling".
//   Technical Report TR-10-98, Harvard University, 1998 (and Computer Speech and Language 13, 1999):
//   §3.5 (Kneser-Ney), §4.1.6 (interpolated Kneser-Ney), §4.1.7 (modified Kneser-Ney: three discounts, Eq. 26).
//
// Interpolated modified Kneser-Ney of order N, for a word w after a context h of k−1 words (k = N first):
//
//   P_k(w | h) = max(c_k(h w) − D_k(c_k(h w)), 0) / Σ_v c_k(h v)  +  γ_k(h) · P_{k−1}(w | h′)
//   γ_k(h)     = (D_k,1 · N1(h •) + D_k,2 · N2(h •) + D_k,3+ · N3+(h •)) / Σ_v c_k(h v)
//
// where h′ is h without its oldest word, N_j(h •) is the number of words v with c_k(h v) = j (3+: ≥ 3),
// and when h was never seen (Σ_v c_k(h v) = 0) P_k(w | h) = P_{k−1}(w | h′). The counts c_k are
//   * for k = N, how often the N-gram occurs in the training stream;
//   * for k < N, the continuation count: the number of distinct words u such that (u, h, w) occurs at order
//     k + 1 (Kneser and Ney's idea: a lower-order estimate is used only when the longer context is new, so
//     it should measure in how many contexts a word appears, not how often).
// The recursion ends with P_0(w) = 1/|V|, so every word of the vocabulary gets a positive probability.
// Discounts per order from the counts-of-counts n_j (number of k-grams with count exactly j), Eq. 26:
//   Y = n1 / (n1 + 2 n2),  D1 = 1 − 2Y n2/n1,  D2 = 2 − 3Y n3/n2,  D3+ = 3 − 4Y n4/n3.
// Plain (interpolated) Kneser-Ney uses the single discount D = Y for every count.
//
// Each P_k sums to 1 over the vocabulary: the discounted counts sum to Σ_v c_k(h v) − Σ_v D_k(c_k(h v)),
// and γ_k(h) gives exactly the discounted mass to P_{k−1}, which sums to 1.
//
// Deviation: the paper's SRILM models back off (the lower order is used only for unseen n-grams, with a
// back-off weight); this is the interpolated form, which Chen and Goodman found slightly better. The
// paper's "interpolated trigram" used in its mixtures (§4.1, Jelinek-Mercer with weights per
// context-frequency bin) is a different model; this one stands in for it in the mixtures.

namespace PaperLab.Papers.Nplm;

/// <summary>The three discounts of modified Kneser-Ney for one order (Chen and Goodman Eq. 26).</summary>
/// <param name="D1">Subtracted from counts of 1; in [0, 1].</param>
/// <param name="D2">Subtracted from counts of 2; in [0, 2].</param>
/// <param name="D3Plus">Subtracted from counts of 3 and more; in [0, 3].</param>
public readonly record struct KneserNeyDiscounts(double D1, double D2, double D3Plus)
{
    /// <summary>The same discount D for every count (plain Kneser-Ney).</summary>
    public static KneserNeyDiscounts Single(double d) => new(d, d, d);

    /// <summary>The discount subtracted from a count (0 for 0).</summary>
    public double For(int count) => count switch { <= 0 => 0, 1 => D1, 2 => D2, _ => D3Plus };

    /// <summary>
    /// Chen and Goodman's estimates from the counts-of-counts (Eq. 26): Y = n1/(n1 + 2n2),
    /// D1 = 1 − 2Y·n2/n1, D2 = 2 − 3Y·n3/n2, D3+ = 3 − 4Y·n4/n3. On a tiny corpus a count-of-counts can be 0;
    /// then Y falls back to 0.5 and a discount whose formula divides by 0 takes the one below it, and each
    /// is clamped to [0, j] so that no count goes negative.
    /// </summary>
    /// <param name="n1">Number of n-grams seen exactly once.</param>
    /// <param name="n2">… exactly twice.</param>
    /// <param name="n3">… exactly three times.</param>
    /// <param name="n4">… exactly four times.</param>
    public static KneserNeyDiscounts Modified(long n1, long n2, long n3, long n4)
    {
        double y = n1 > 0 && n2 > 0 ? n1 / (n1 + 2.0 * n2) : 0.5;
        double d1 = n1 > 0 ? 1 - 2 * y * n2 / n1 : y;
        double d2 = n2 > 0 ? 2 - 3 * y * n3 / n2 : d1;
        double d3 = n3 > 0 ? 3 - 4 * y * n4 / n3 : d2;
        return new(Math.Clamp(d1, 0, 1), Math.Clamp(d2, 0, 2), Math.Clamp(d3, 0, 3));
    }

    /// <summary>Plain Kneser-Ney's single discount D = n1/(n1 + 2n2) (Ney, Essen, Kneser 1994), 0.5 when undefined.</summary>
    public static KneserNeyDiscounts Plain(long n1, long n2) => Single(n1 > 0 && n2 > 0 ? n1 / (n1 + 2.0 * n2) : 0.5);
}

/// <summary>
/// Interpolated (modified) Kneser-Ney n-gram language model over word ids, counted on a training stream.
/// See the file header for the equations.
/// </summary>
public sealed class KneserNey
{
    // n-gram keys: word ids packed as base-2^21 digits, oldest word most significant, in an Int128
    // (up to 6 words). Dropping the oldest word is key mod 2^(21(k−1)); the context is key >> 21.
    const int Bits = 21;
    const int MaxOrder = 6;

    // Per order k (index k−1): counts of the k-grams, and per context (k−1 words) the sum of its counts and
    // its N1, N2, N3+.
    readonly Dictionary<Int128, int>[] _counts;
    readonly Dictionary<Int128, ContextStats>[] _contexts;
    readonly KneserNeyDiscounts[] _discounts;

    struct ContextStats
    {
        public long Total;
        public int N1, N2, N3Plus;
    }

    /// <summary>N: the longest n-gram (3 = trigram).</summary>
    public int Order { get; }
    /// <summary>|V|: word ids are 0 … |V|−1.</summary>
    public int VocabSize { get; }
    /// <summary>The discounts used at each order, index k−1 for order k.</summary>
    public IReadOnlyList<KneserNeyDiscounts> Discounts => _discounts;
    /// <summary>Number of distinct k-grams counted at order k (index k−1).</summary>
    public IReadOnlyList<int> NgramTypes => _counts.Select(c => c.Count).ToArray();

    KneserNey(int order, int vocabSize, Dictionary<Int128, int>[] counts, KneserNeyDiscounts[] discounts)
    {
        Order = order;
        VocabSize = vocabSize;
        _counts = counts;
        _discounts = discounts;
        _contexts = new Dictionary<Int128, ContextStats>[order];
        for (int k = 1; k <= order; k++)
        {
            var stats = new Dictionary<Int128, ContextStats>();
            foreach (var (gram, count) in counts[k - 1])
            {
                Int128 context = gram >> Bits;
                stats.TryGetValue(context, out var s);
                s.Total += count;
                if (count == 1) s.N1++;
                else if (count == 2) s.N2++;
                else s.N3Plus++;
                stats[context] = s;
            }
            _contexts[k - 1] = stats;
        }
    }

    /// <summary>
    /// Counts the n-grams of <paramref name="train"/> and estimates the discounts.
    /// </summary>
    /// <param name="train">Training word ids in reading order (the paper: the first 800,000 words of Brown).</param>
    /// <param name="vocabSize">|V|; every id must be below it, and |V| ≤ 2^21.</param>
    /// <param name="order">N, 1 to 6 (the paper's Table 1: 3, 4, 5).</param>
    /// <param name="modified">True: three discounts per order (modified Kneser-Ney, as SRILM's in the paper); false: one.</param>
    /// <param name="discounts">Fixed discounts for every order instead of the estimates (for hand-checked examples).</param>
    /// <exception cref="ArgumentException">An id is outside the vocabulary, the order is out of range, or the stream is shorter than the order.</exception>
    public static KneserNey Train(ReadOnlySpan<int> train, int vocabSize, int order = 3, bool modified = true, KneserNeyDiscounts? discounts = null)
    {
        if (order is < 1 or > MaxOrder) throw new ArgumentException($"order must be 1 to {MaxOrder}, got {order}");
        if (vocabSize < 1 || vocabSize > (1 << Bits)) throw new ArgumentException($"vocab_size must be 1 to {1 << Bits}, got {vocabSize}");
        if (train.Length < order) throw new ArgumentException($"the training stream has {train.Length} words, fewer than the order {order}");
        foreach (int w in train)
            if ((uint)w >= (uint)vocabSize) throw new ArgumentException($"word id {w} is outside the vocabulary of {vocabSize}");

        var counts = new Dictionary<Int128, int>[order];
        // Highest order: raw counts of every N-gram of the stream.
        var top = new Dictionary<Int128, int>();
        for (int t = order - 1; t < train.Length; t++)
        {
            Int128 key = 0;
            for (int i = t - order + 1; i <= t; i++) key = (key << Bits) | train[i];
            top[key] = top.GetValueOrDefault(key) + 1;
        }
        counts[order - 1] = top;
        // Lower orders: continuation counts, the number of distinct words seen before each (k)-gram at order k+1.
        for (int k = order - 1; k >= 1; k--)
        {
            var lower = new Dictionary<Int128, int>();
            Int128 keep = (Int128.One << (Bits * k)) - 1;
            foreach (Int128 gram in counts[k].Keys)
            {
                Int128 suffix = gram & keep;
                lower[suffix] = lower.GetValueOrDefault(suffix) + 1;
            }
            counts[k - 1] = lower;
        }

        var used = new KneserNeyDiscounts[order];
        for (int k = 1; k <= order; k++)
        {
            if (discounts is { } fixedDiscounts) { used[k - 1] = fixedDiscounts; continue; }
            long n1 = 0, n2 = 0, n3 = 0, n4 = 0;
            foreach (int c in counts[k - 1].Values)
                switch (c) { case 1: n1++; break; case 2: n2++; break; case 3: n3++; break; case 4: n4++; break; }
            used[k - 1] = modified ? KneserNeyDiscounts.Modified(n1, n2, n3, n4) : KneserNeyDiscounts.Plain(n1, n2);
        }
        return new KneserNey(order, vocabSize, counts, used);
    }

    /// <summary>P(word | context) by the interpolated recursion of the file header.</summary>
    /// <param name="context">The words before <paramref name="word"/>, oldest first; only the last N−1 are read, and fewer is allowed (the start of a text).</param>
    /// <param name="word">Id of the next word.</param>
    /// <returns>A probability in (0, 1].</returns>
    /// <exception cref="ArgumentOutOfRangeException">An id is outside the vocabulary.</exception>
    public double Probability(ReadOnlySpan<int> context, int word)
    {
        if ((uint)word >= (uint)VocabSize) throw new ArgumentOutOfRangeException(nameof(word), $"word id {word} is outside the vocabulary of {VocabSize}");
        int k = Math.Min(Order, context.Length + 1);
        var history = context[^(k - 1)..];
        Int128 contextKey = 0;
        foreach (int w in history)
        {
            if ((uint)w >= (uint)VocabSize) throw new ArgumentOutOfRangeException(nameof(context), $"context word id {w} is outside the vocabulary of {VocabSize}");
            contextKey = (contextKey << Bits) | w;
        }
        return Interpolated(k, contextKey, word);
    }

    // P_k(w | h) with h packed in contextKey (k−1 words).
    double Interpolated(int k, Int128 contextKey, int word)
    {
        if (k == 0) return 1.0 / VocabSize;
        Int128 shorter = k >= 2 ? contextKey & ((Int128.One << (Bits * (k - 2))) - 1) : 0;   // h′: drop the oldest word
        double lower = Interpolated(k - 1, shorter, word);
        if (!_contexts[k - 1].TryGetValue(contextKey, out var s)) return lower;   // unseen context: the shorter one decides
        var d = _discounts[k - 1];
        int c = _counts[k - 1].GetValueOrDefault((contextKey << Bits) | word);
        double gamma = (d.D1 * s.N1 + d.D2 * s.N2 + d.D3Plus * s.N3Plus) / s.Total;
        return Math.Max(c - d.For(c), 0) / s.Total + gamma * lower;
    }

    /// <summary>The whole next-word distribution after <paramref name="context"/> (|V| probabilities; they sum to 1).</summary>
    public double[] Distribution(ReadOnlySpan<int> context)
    {
        var p = new double[VocabSize];
        for (int w = 0; w < VocabSize; w++) p[w] = Probability(context, w);
        return p;
    }

    /// <summary>
    /// P(stream[t] | the N−1 words before t) for t in [<paramref name="from"/>, <paramref name="to"/>): the
    /// words of an evaluation split, their contexts read from the stream (reaching back into the previous
    /// split, as for the network). Every token counts, marks and punctuation included (§4.1).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the stream.</exception>
    public double[] TargetProbabilities(int[] stream, int from, int to)
    {
        if (from < 0 || to > stream.Length || from > to)
            throw new ArgumentOutOfRangeException(nameof(from), $"positions [{from}, {to}) are outside the stream of {stream.Length} words");
        var p = new double[to - from];
        for (int t = from; t < to; t++)
        {
            int start = Math.Max(0, t - (Order - 1));
            p[t - from] = Probability(stream.AsSpan(start, t - start), stream[t]);
        }
        return p;
    }

    /// <summary>Mean negative log-likelihood (nats per word) of stream positions [<paramref name="from"/>, <paramref name="to"/>); exp of it is the perplexity.</summary>
    public double MeanNll(int[] stream, int from, int to) => Perplexity.MeanNll(TargetProbabilities(stream, from, to));
}
