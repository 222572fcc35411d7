using PaperLab.Papers.Nplm;
using Xunit;

namespace PaperLab.Tests;

/// <summary>The interpolated (modified) Kneser-Ney baseline (Chen and Goodman 1998), against hand-computed values.</summary>
public class NplmKneserNeyTests
{
    // a = 0, b = 1, c = 2, d = 3, e = 4 (e never occurs). Stream: a b c a b d a b c.
    static readonly int[] Toy = { 0, 1, 2, 0, 1, 3, 0, 1, 2 };
    const int A = 0, B = 1, Cc = 2, D = 3, E = 4;

    [Fact]
    public void Plain_trigram_probabilities_equal_the_hand_computed_ones()
    {
        // Plain Kneser-Ney with one discount D = 0.75 at every order.
        //   trigrams:  abc ×2, bca, cab, abd, bda, dab            → context ab: {c: 2, d: 1}, total 3
        //   bigram continuation counts (distinct left words):  ab 2 (c, d), bc 1, ca 1, bd 1, da 1
        //                                                         → context b: {c: 1, d: 1}, total 2
        //   unigram continuation counts (distinct left words of the bigram types): a 2, b 1, c 1, d 1, e 0; total 5
        // P1(w) = max(c − 0.75, 0)/5 + (0.75·4/5)·(1/5):  a 0.25 + 0.12 = 0.37; b, c, d 0.05 + 0.12 = 0.17; e 0.12
        // P2(w | b) = max(c − 0.75, 0)/2 + (0.75·2/2)·P1(w):  c, d 0.125 + 0.1275 = 0.2525; a 0.2775; b 0.1275; e 0.09
        // P3(w | a b) = max(c − 0.75, 0)/3 + (0.75·2/3)·P2(w | b):
        //   c 1.25/3 + 0.5·0.2525 = 0.5429166…; d 0.25/3 + 0.12625 = 0.2095833…; a 0.13875; b 0.06375; e 0.045
        var kn = KneserNey.Train(Toy, vocabSize: 5, order: 3, discounts: KneserNeyDiscounts.Single(0.75));
        Assert.Equal(new[] { 6, 5, 4 }, kn.NgramTypes.Reverse());   // trigram types, bigram types, unigrams seen
        double[] p3 = kn.Distribution(new[] { A, B });
        Assert.Equal(1.25 / 3 + 0.12625, p3[Cc], 12);
        Assert.Equal(0.25 / 3 + 0.12625, p3[D], 12);
        Assert.Equal(0.13875, p3[A], 12);
        Assert.Equal(0.06375, p3[B], 12);
        Assert.Equal(0.045, p3[E], 12);
        // An unseen trigram context (c b) uses the bigram estimate after b; an unseen word-pair context (e e)
        // and the empty context fall through to the unigram.
        Assert.Equal(new[] { 0.2775, 0.1275, 0.2525, 0.2525, 0.09 }, kn.Distribution(new[] { Cc, B }).Select(p => Math.Round(p, 12)));
        Assert.Equal(new[] { 0.37, 0.17, 0.17, 0.17, 0.12 }, kn.Distribution(new[] { E, E }).Select(p => Math.Round(p, 12)));
        Assert.Equal(new[] { 0.37, 0.17, 0.17, 0.17, 0.12 }, kn.Distribution(ReadOnlySpan<int>.Empty).Select(p => Math.Round(p, 12)));
        // P3(b | c a) = 0.25 + 0.75·P2(b | a), P2(b | a) = 1.25/2 + 0.375·0.17 = 0.68875
        Assert.Equal(0.25 + 0.75 * 0.68875, kn.Probability(new[] { E, Cc, A }, B), 12);   // only the last two words count
        // the stream's last three words given their two predecessors: P3(a | b d) = 0.25 + 0.75·P2(a | d) with
        // P2(a | d) = 0.25 + 0.75·0.37; P3(b | d a) = 0.25 + 0.75·P2(b | a); P3(c | a b) as above
        double[] probs = kn.TargetProbabilities(Toy, 6, 9);
        double[] expected = { 0.25 + 0.75 * (0.25 + 0.75 * 0.37), 0.25 + 0.75 * 0.68875, 1.25 / 3 + 0.12625 };
        Assert.Equal(expected.Select(p => Math.Round(p, 12)), probs.Select(p => Math.Round(p, 12)));
        Assert.Equal(-probs.Average(Math.Log), kn.MeanNll(Toy, 6, 9), 12);
    }

    [Fact]
    public void Every_distribution_sums_to_one_over_the_vocabulary()
    {
        var rng = new Random(1);
        int[] corpus = Enumerable.Range(0, 3000).Select(_ => (int)Math.Floor(Math.Pow(rng.NextDouble(), 3) * 40)).ToArray();   // Zipf-like over 40 of 50 words
        foreach (int order in new[] { 1, 2, 3, 4 })
            foreach (bool modified in new[] { true, false })
            {
                var kn = KneserNey.Train(corpus, vocabSize: 50, order: order, modified: modified);
                var contexts = new[]
                {
                    corpus[100..103], corpus[2000..2003],   // seen contexts
                    new[] { 45, 46, 47 },                    // words never seen
                    new[] { 0, 49, 0 },                      // seen word after an unseen pair
                    new[] { 7 },                             // shorter than the order
                    Array.Empty<int>(),
                };
                foreach (var context in contexts)
                {
                    double[] p = kn.Distribution(context);
                    Assert.Equal(1.0, p.Sum(), 12);
                    Assert.All(p, x => Assert.True(x > 0, $"order {order}: a word got probability {x}"));
                }
            }
    }

    [Fact]
    public void Modified_discounts_follow_chen_and_goodmans_estimates()
    {
        // Y = n1/(n1 + 2 n2) = 10/20 = 0.5; D1 = 1 − 2Y·n2/n1 = 0.5; D2 = 2 − 3Y·n3/n2 = 1.1; D3+ = 3 − 4Y·n4/n3 = 5/3
        var d = KneserNeyDiscounts.Modified(10, 5, 3, 2);
        Assert.Equal(0.5, d.D1, 12);
        Assert.Equal(1.1, d.D2, 12);
        Assert.Equal(5.0 / 3, d.D3Plus, 12);
        Assert.Equal(0.0, d.For(0));
        Assert.Equal(d.D3Plus, d.For(7));
        Assert.Equal(0.5, KneserNeyDiscounts.Plain(10, 5).D1, 12);
        // a toy corpus without counts of 3: the formula for D3+ would divide by zero; it takes D2, all in range
        var sparse = KneserNeyDiscounts.Modified(4, 1, 0, 0);
        Assert.Equal(sparse.D2, sparse.D3Plus);
        Assert.InRange(sparse.D1, 0, 1);
        Assert.InRange(sparse.D2, 0, 2);
        // the estimates Train uses at the top order of the toy stream: trigram counts 2, 1, 1, 1, 1, 1 → n1 5, n2 1
        var kn = KneserNey.Train(Toy, vocabSize: 5, order: 3);
        Assert.Equal(KneserNeyDiscounts.Modified(5, 1, 0, 0), kn.Discounts[2]);
    }

    [Fact]
    public void Bad_input_is_rejected_with_a_clear_message()
    {
        Assert.Contains("outside the vocabulary", Assert.Throws<ArgumentException>(() => KneserNey.Train(new[] { 0, 1, 5 }, vocabSize: 5)).Message);
        Assert.Contains("order", Assert.Throws<ArgumentException>(() => KneserNey.Train(Toy, 5, order: 7)).Message);
        var kn = KneserNey.Train(Toy, 5);
        Assert.Throws<ArgumentOutOfRangeException>(() => kn.Probability(new[] { 0, 1 }, 5));
    }
}
