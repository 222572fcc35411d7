namespace PaperLab.Papers.Transformer;

/// <summary>A corpus BLEU score with the parts it is made of.</summary>
/// <param name="Score">BLEU × 100, in [0, 100].</param>
/// <param name="Precisions">Modified n-gram precisions p_1 … p_N, each in [0, 1].</param>
/// <param name="BrevityPenalty">BP = 1 if c &gt; r, else exp(1 − r/c).</param>
/// <param name="HypothesisLength">c: total tokens of the hypotheses.</param>
/// <param name="ReferenceLength">r: sum over sentences of the reference length closest to the hypothesis's.</param>
public sealed record BleuScore(double Score, double[] Precisions, double BrevityPenalty, long HypothesisLength, long ReferenceLength)
{
    /// <summary>c / r.</summary>
    public double LengthRatio => ReferenceLength == 0 ? 0 : (double)HypothesisLength / ReferenceLength;

    /// <inheritdoc/>
    public override string ToString() => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"BLEU = {Score:F2} {string.Join('/', Precisions.Select(p => (p * 100).ToString("F1", System.Globalization.CultureInfo.InvariantCulture)))} (BP = {BrevityPenalty:F3}, ratio = {LengthRatio:F3}, hyp_len = {HypothesisLength}, ref_len = {ReferenceLength})");
}

/// <summary>
/// Corpus-level BLEU (Papineni, Roukos, Ward, Zhu 2002, "BLEU: a Method for Automatic Evaluation of
/// Machine Translation", ACL): the geometric mean of the modified n-gram precisions for n = 1 … N
/// (uniform weights), times the brevity penalty, all counted over the whole corpus (§2.1–2.3):
/// <code>
///   p_n  = Σ_sentences Σ_ngrams min(count_hyp, max_ref count_ref) / Σ_sentences Σ_ngrams count_hyp
///   BP   = 1 if c &gt; r else exp(1 − r/c)
///   BLEU = BP · exp( Σ_n (1/N) log p_n )
/// </code>
/// No smoothing: a corpus with no matching n-gram of some order scores 0, as in the paper, multi-bleu.perl
/// and sacreBLEU's default. The score depends on the tokenisation of its inputs; callers state it.
/// </summary>
public static class Bleu
{
    /// <summary>Corpus BLEU of tokenised hypotheses against one tokenised reference each.</summary>
    /// <param name="hypotheses">One token list per sentence.</param>
    /// <param name="references">The reference of each sentence, in the same order.</param>
    /// <param name="maxOrder">N, the longest n-gram (4 in the paper).</param>
    /// <exception cref="ArgumentException">Different numbers of hypotheses and references, or maxOrder &lt; 1.</exception>
    public static BleuScore Corpus(IReadOnlyList<IReadOnlyList<string>> hypotheses, IReadOnlyList<IReadOnlyList<string>> references, int maxOrder = 4) =>
        Corpus(hypotheses, references.Select(r => (IReadOnlyList<IReadOnlyList<string>>)new[] { r }).ToArray(), maxOrder);

    /// <summary>Corpus BLEU with any number of references per sentence (counts clipped by the maximum over references;
    /// r takes, per sentence, the reference length closest to the hypothesis length, the shorter on a tie).</summary>
    /// <exception cref="ArgumentException">Different numbers of hypotheses and reference sets, an empty reference set, or maxOrder &lt; 1.</exception>
    public static BleuScore Corpus(IReadOnlyList<IReadOnlyList<string>> hypotheses, IReadOnlyList<IReadOnlyList<IReadOnlyList<string>>> references, int maxOrder = 4)
    {
        if (hypotheses.Count != references.Count)
            throw new ArgumentException($"{hypotheses.Count} hypotheses but {references.Count} reference sets");
        ArgumentOutOfRangeException.ThrowIfLessThan(maxOrder, 1);
        var matches = new long[maxOrder];
        var totals = new long[maxOrder];
        long c = 0, r = 0;
        for (int s = 0; s < hypotheses.Count; s++)
        {
            var hyp = hypotheses[s];
            var refs = references[s];
            if (refs.Count == 0) throw new ArgumentException($"sentence {s} has no reference");
            c += hyp.Count;
            r += refs.Select(x => x.Count).OrderBy(l => Math.Abs(l - hyp.Count)).ThenBy(l => l).First();
            for (int n = 1; n <= maxOrder; n++)
            {
                var hypCounts = NGrams(hyp, n);
                var maxRef = new Dictionary<string, int>(StringComparer.Ordinal);
                foreach (var reference in refs)
                    foreach (var (gram, count) in NGrams(reference, n))
                        maxRef[gram] = Math.Max(maxRef.GetValueOrDefault(gram), count);
                foreach (var (gram, count) in hypCounts)
                {
                    matches[n - 1] += Math.Min(count, maxRef.GetValueOrDefault(gram));
                    totals[n - 1] += count;
                }
            }
        }
        var precisions = matches.Zip(totals, (m, t) => t == 0 ? 0.0 : (double)m / t).ToArray();
        double bp = c == 0 ? 0 : c > r ? 1.0 : Math.Exp(1.0 - (double)r / c);
        double score = precisions.Any(p => p == 0) ? 0 : bp * Math.Exp(precisions.Average(Math.Log));
        return new BleuScore(100 * score, precisions, bp, c, r);
    }

    /// <summary>Counts of the n-grams of <paramref name="tokens"/> (joined with a separator that tokens never contain).</summary>
    static Dictionary<string, int> NGrams(IReadOnlyList<string> tokens, int n)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i + n <= tokens.Count; i++)
        {
            string gram = string.Join('\u0001', Enumerable.Range(i, n).Select(j => tokens[j]));
            counts[gram] = counts.GetValueOrDefault(gram) + 1;
        }
        return counts;
    }
}
